"""The service layer's errors as HTTP answers, each with a `detail` that says what to fix."""

import logging
import math
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

from tuning.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    QuotaExceeded,
    StorageQuotaExceeded,
    StorageUnwritable,
    Unauthenticated,
    Unavailable,
    shown,
)
from tuning.service import IDEMPOTENCY_HEADER
from tuning.storage import storage_error

log = logging.getLogger(__name__)

# An id in the path that is not a UUID is the spec's 400 "Invalid UUID", not a 422.
ID_FIELDS = {"tuning_run_id", "training_run_id", "model_id"}


def _invalid_input(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInput)  # registered for InvalidInput only
    if exc.field in ID_FIELDS and exc.field in request.path_params:
        return JSONResponse({"detail": f"Invalid UUID: {exc.reason}"}, status_code=400)
    if exc.field == IDEMPOTENCY_HEADER:
        loc = ["header", exc.field]
    else:
        loc = ["body", *exc.field.split(".")]
    detail = [{"loc": loc, "msg": exc.reason, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


def _answer(code: int) -> Callable[[Request, Exception], JSONResponse]:
    def handler(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=code)

    return handler


def _quota(code: int) -> Callable[[Request, Exception], JSONResponse]:
    """The limit's setting, the limit and the use beside the message, for a client to read."""

    def handler(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, QuotaExceeded)  # registered for QuotaExceeded only
        body = {"detail": str(exc), "quota": exc.setting, "limit": exc.limit, "used": exc.used}
        return JSONResponse(body, status_code=code)

    return handler


def _unauthenticated(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, 401, headers={"WWW-Authenticate": "Bearer"})


def _storage(request: Request, exc: Exception) -> JSONResponse:
    """503: which storage cannot be written and why; try again once it is fixed."""
    assert isinstance(exc, StorageUnwritable)  # registered for StorageUnwritable only
    headers = {"Retry-After": str(StorageUnwritable.RETRY_AFTER_S)}
    return JSONResponse({"detail": str(exc)}, status_code=503, headers=headers)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Anything else: a full disk said as such, else a 500 in words with an id that finds
    the traceback in the server's log. No traceback reaches the client."""
    unwritable = storage_error(exc)
    if unwritable is not None:
        return _storage(request, unwritable)
    error_id = uuid.uuid4().hex[:12]
    log.error("error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
    detail = (
        f"An unexpected error stopped this request ({type(exc).__name__}, error id {error_id})."
        " The server's log has the details under that id."
    )
    return JSONResponse({"detail": detail, "error_id": error_id}, status_code=500)


def _data_error(request: Request, exc: Exception) -> JSONResponse:
    # e.g. a NUL character PostgreSQL cannot store: the input is at fault, not the server.
    return JSONResponse({"detail": "a value contains characters that cannot be stored"}, 422)


def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, with what was sent quoted short (never a 10 MB name echoed back, never a
    NaN that JSON cannot carry), and 400 for a body that is not JSON at all."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(error["type"] == "json_invalid" for error in errors):
        return JSONResponse({"detail": "the body is not valid JSON"}, status_code=400)
    if any(tuple(error["loc"]) == ("body",) for error in errors) and not _is_form(request):
        kind = request.headers.get("content-type", "none")
        detail = f"send the body as JSON with 'Content-Type: application/json' (got {shown(kind)})"
        if "json" in kind:
            detail = "the body must be a JSON object"
        return JSONResponse({"detail": detail}, status_code=400)
    return JSONResponse({"detail": [_short(error) for error in errors]}, status_code=422)


def _is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


def _short(error: Any) -> dict[str, Any]:
    short = {"loc": list(error["loc"]), "msg": str(error["msg"])[:300], "type": error["type"]}
    value = error.get("input")
    if (
        isinstance(value, bool | None)
        or (isinstance(value, int) and abs(value) < 2**53)
        or (isinstance(value, float) and math.isfinite(value))
    ):
        short["input"] = value
    elif isinstance(value, str | int | float):
        short["input"] = shown(value)
    return short  # containers are left out: the location says where the problem is


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(InvalidInput, _invalid_input)
    app.add_exception_handler(Unauthenticated, _unauthenticated)
    app.add_exception_handler(NotFound, _answer(404))
    app.add_exception_handler(Forbidden, _answer(403))
    app.add_exception_handler(Conflict, _answer(409))
    app.add_exception_handler(Unavailable, _answer(503))
    app.add_exception_handler(StorageUnwritable, _storage)
    app.add_exception_handler(OSError, _unexpected)  # ENOSPC and the like: 503, the rest 500
    app.add_exception_handler(Exception, _unexpected)
    app.add_exception_handler(QuotaExceeded, _quota(429))
    app.add_exception_handler(StorageQuotaExceeded, _quota(413))
    app.add_exception_handler(DataError, _data_error)
