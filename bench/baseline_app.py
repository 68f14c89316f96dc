"""The baseline of `bench.status_load`: FastAPI returning a constant status, no DB, no Redis.

Served by uvicorn exactly like the real API (`uvicorn bench.baseline_app:app`, same options).
The route has the real endpoint's path, so routing and path-parameter parsing cost the same; it
has no dependencies, no auth and no response model. Two styles of the same route:

- `/api/v1/tuning/tune/{id}/status`: `async def`, runs on the event loop (the minimal endpoint);
- `/sync/api/v1/tuning/tune/{id}/status`: plain `def`, run in FastAPI's thread pool like the real
  route, which separates the cost of that thread hop from the cost of the real work.
"""

from fastapi import FastAPI

# The spec's PROGRESS example (docs/spec/tuning-status-endpoint.md).
STATUS = {
    "tuning_run_id": "00000000-0000-4000-8000-000000000000",
    "task_id": "00000000-0000-4000-8000-000000000001",
    "status": "PROGRESS",
    "progress": {
        "current": 15,
        "total": 36,
        "status": "Testing parameter combination 15/36...",
        "percentage": 41.67,
    },
    "result": None,
    "error": None,
}

app = FastAPI(title="status baseline", openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/api/v1/tuning/tune/{tuning_run_id}/status")
async def status_async(tuning_run_id: str):
    return STATUS


@app.get("/sync/api/v1/tuning/tune/{tuning_run_id}/status")
def status_sync(tuning_run_id: str):
    return STATUS
