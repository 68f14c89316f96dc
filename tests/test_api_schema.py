"""Schemathesis against the served API's own OpenAPI schema: no 5xx, every response as documented.

Run through schemathesis's CLI against a real uvicorn process (its pytest plugin does not load
under this pytest version).
"""

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from tuning.config import PROJECT_ROOT
from tuning.service import create_user

from helpers import worker_env

pytestmark = pytest.mark.database


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def api_url(settings, data_dir):
    port = free_port()
    log = (data_dir / "api.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "tuning", "api", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=worker_env(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/openapi.json", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        raise RuntimeError((data_dir / "api.log").read_text()[-3000:])
    yield url
    process.terminate()
    process.wait(timeout=20)
    log.close()


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
