"""Schemathesis against the served API's own OpenAPI schema: no 5xx, every response as documented.

Run through schemathesis's CLI against a real uvicorn process (its pytest plugin does not load
under this pytest version).
"""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlmodel import Session

from tuning.service import create_user

pytestmark = pytest.mark.database

# Examples per operation: 100 in `make test`, 1,000 in `make fuzz` (about 7 minutes).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))


@pytest.mark.timeout(max(300, 3 * EXAMPLES))
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
            str(EXAMPLES),
            "--seed",
            "1",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=max(280, 3 * EXAMPLES - 20),
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
