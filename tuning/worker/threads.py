"""One native thread per worker pool process.

A worker starts as many pool processes as the host has cores (or `--concurrency`), each
fitting one candidate at a time: the processes are the parallelism. Left alone, OpenBLAS and
OpenMP (numpy, scipy, HistGradientBoosting, LightGBM) would also start a thread per core in
every process: on two cores, two processes of two threads each, and a small fit (Ridge on 442
rows) took twice as long from the contention as from the work. scikit-learn's
`GridSearchCV(n_jobs=-1)` limits its loky workers the same way.
"""

from celery.signals import worker_process_init
from threadpoolctl import threadpool_limits

THREADS_PER_PROCESS = 1


@worker_process_init.connect
def limit_native_threads(**_: object) -> None:
    """In each pool process as it starts: BLAS and OpenMP to one thread."""
    threadpool_limits(limits=THREADS_PER_PROCESS)
