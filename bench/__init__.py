"""Benchmarks: `python -m bench.status_load` (issue 3)."""
