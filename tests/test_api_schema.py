"""Schemathesis against the served API's own OpenAPI schema: no 5xx, every response as documented.

Run through schemathesis's CLI against a real uvicorn process (its pytest plugin does not load
under this pytest version).
"""

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlmodel import Session

from tuning.service import create_user

pytestmark = pytest.mark.database


@pytest.mark.usefixtures("worker")  # so /healthz is 200, not its documented 503
def test_api_conforms_to_its_schema(runtime, api_url, tmp_path: Path):
    with Session(runtime.engine) as session:
        _, token = create_user(session=session, name=f"fuzz-{uuid.uuid4().hex[:8]}")
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"),
            "run",
            f"{api_url}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "all",
            # A schema-valid body can still name an unknown estimator (422, by design), and
            # Starlette's 405 lists only the methods of the route it matched.
            "--exclude-checks",
            "positive_data_acceptance,allow_header_conformance",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
