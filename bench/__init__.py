"""Benchmarks: `python -m bench.status_load` (the status endpoint under wrk, `make bench`) and
`python -m bench.dashboard_pages`; both build their stack with `tests/stack.py`."""
