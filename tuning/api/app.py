"""The FastAPI app factory."""

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from tuning.api.errors import install_error_handlers
from tuning.api.headers import HeadAsGet, SecurityHeaders
from tuning.api.limits import MULTIPART_FRAMING, BodyLimit
from tuning.api.routes import datasets, health, me, models, runs, sharing
from tuning.runtime import Runtime


class TuningAPI(FastAPI):
    """FastAPI, with HEAD answered where GET is and the security headers on every answer: outside
    Starlette's own error middleware, so that its 500 carries them too."""

    def build_middleware_stack(self) -> ASGIApp:
        docs = {self.docs_url, self.redoc_url, self.swagger_ui_oauth2_redirect_url}
        stack = HeadAsGet(super().build_middleware_stack())
        return SecurityHeaders(stack, docs_paths={path for path in docs if path})


def create_app(runtime: Runtime) -> FastAPI:
    """An API over `runtime`'s database and task queue."""
    app = TuningAPI(
        title="Hyperparameter tuning API",
        version="1.0.0",
        description="Submit scikit-learn searches, poll their status, train and download models.",
    )
    app.state.runtime = runtime
    if runtime.settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=runtime.settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            expose_headers=["Idempotent-Replayed"],
        )
    install_error_handlers(app)
    settings = runtime.settings
    app.add_middleware(
        BodyLimit,
        default_bytes=settings.max_request_bytes,
        upload_bytes=settings.max_upload_bytes + MULTIPART_FRAMING,
        upload_paths={"/api/v1/datasets"},
        upload_suffixes=("/predict",),  # /api/v1/models/{model_id}/predict
    )
    for module in (runs, models, datasets, sharing, me, health):
        app.include_router(module.router)
    return app
