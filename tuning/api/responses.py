"""The error answers each route documents in the OpenAPI schema."""

from typing import Any

from pydantic import BaseModel
from starlette.responses import JSONResponse


class ErrorDetail(BaseModel):
    detail: str


class QuotaDetail(ErrorDetail):
    """Over a quota: the message, and the limit's setting, the limit and the use."""

    quota: str
    limit: int
    used: int


class TooLargeDetail(ErrorDetail):
    """A body or file over its size limit (the message only), or uploads over the bytes a user
    may store (with the quota's numbers)."""

    quota: str | None = None
    limit: int | None = None
    used: int | None = None


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


def quota(code: int, description: str) -> Responses:
    """The answer over a quota (429; 413 for upload bytes), as `tuning.api.errors` gives it."""
    model = TooLargeDetail if code == 413 else QuotaDetail
    return {code: {"model": model, "description": description}}


def json_error(status_code: int, detail: str) -> JSONResponse:
    """An error answer in the API's one shape, `{"detail": ...}`."""
    return JSONResponse({"detail": detail}, status_code=status_code)
