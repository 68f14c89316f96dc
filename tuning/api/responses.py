"""The error answers each route documents in the OpenAPI schema."""

from typing import Any

from pydantic import BaseModel
from starlette.responses import JSONResponse


class ErrorDetail(BaseModel):
    detail: str


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorDetail, "description": description}


Responses = dict[int | str, dict[str, Any]]

AUTH: Responses = {
    400: _error("Invalid UUID, or a body that is not valid JSON or multipart data"),
    401: _error("Missing or unknown token"),
}
BY_ID: Responses = {
    **AUTH,
    400: _error("Invalid UUID"),
    403: _error("It belongs to another user"),
    404: _error("Not found"),
}


def json_error(status_code: int, detail: str) -> JSONResponse:
    """An error answer in the API's one shape, `{"detail": ...}`."""
    return JSONResponse({"detail": detail}, status_code=status_code)
