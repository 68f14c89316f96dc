"""The service layer's errors as HTTP answers, each with a `detail` that says what to fix."""

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

from tuning.errors import Forbidden, InvalidInput, NotFound, Unauthenticated, Unavailable

# An id in the path that is not a UUID is the spec's 400 "Invalid UUID", not a 422.
ID_FIELDS = {"tuning_run_id", "training_run_id", "model_id"}


def _invalid_input(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInput)  # registered for InvalidInput only
    if exc.field in ID_FIELDS and exc.field in request.path_params:
        return JSONResponse({"detail": f"Invalid UUID: {exc.reason}"}, status_code=400)
    loc = ["body", *exc.field.split(".")]
    detail = [{"loc": loc, "msg": exc.reason, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


def _answer(code: int) -> Callable[[Request, Exception], JSONResponse]:
    def handler(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=code)

    return handler


def _unauthenticated(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, 401, headers={"WWW-Authenticate": "Bearer"})


def _data_error(request: Request, exc: Exception) -> JSONResponse:
    # e.g. a NUL character PostgreSQL cannot store: the input is at fault, not the server.
    return JSONResponse({"detail": "a value contains characters that cannot be stored"}, 422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(InvalidInput, _invalid_input)
    app.add_exception_handler(Unauthenticated, _unauthenticated)
    app.add_exception_handler(NotFound, _answer(404))
    app.add_exception_handler(Forbidden, _answer(403))
    app.add_exception_handler(Unavailable, _answer(503))
    app.add_exception_handler(DataError, _data_error)
