"""A worker pool process fits with one native thread: the processes are the parallelism."""

import json
import os
import subprocess
import sys

import pytest

from tuning.config import PROJECT_ROOT

pytestmark = pytest.mark.stack  # a process of its own, as a worker's pool process

CHILD = """
import json
from celery.signals import worker_process_init
from threadpoolctl import threadpool_info
import tuning.worker.tasks  # what a worker loads: it connects the signal
before = [pool["num_threads"] for pool in threadpool_info()]
worker_process_init.send(sender=None)  # as Celery does in each pool process it starts
print(json.dumps({"before": before, "after": [pool["num_threads"] for pool in threadpool_info()]}))
"""


def test_a_pool_process_limits_blas_and_openmp_to_one_thread():
    env = {**os.environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    threads = json.loads(done.stdout.strip().splitlines()[-1])
    assert threads["before"] and max(threads["before"]) == 2  # numpy, scipy, sklearn's OpenMP
    assert set(threads["after"]) == {1}
