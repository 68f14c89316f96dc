"""The `Idempotency-Key` header of the routes that create or predict: the request it names,
in canonical form, for `service.answer_once`, and its answer as an HTTP response."""

import json
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from tuning import service
from tuning.api.responses import ErrorDetail, Responses

KEY_DESCRIPTION = (
    "Optional. A key of your choosing (1 to 255 visible ASCII characters, e.g. a UUID) that "
    "makes a retry safe: the same key with the same request within a day is answered with "
    "the first answer (header `Idempotent-Replayed: true`) and stores nothing new; the same "
    "key with another request is a 409. An error answer keeps no key."
)

IDEMPOTENT: Responses = {
    409: {
        "model": ErrorDetail,
        "description": "The Idempotency-Key was used within a day with another request",
    }
}


async def keyed_request(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=service.IDEMPOTENCY_HEADER,
            max_length=service.IDEMPOTENCY_KEY_LIMIT,
            description=KEY_DESCRIPTION,
        ),
    ] = None,
) -> service.KeyedRequest | None:
    """The request the key names, or None without the header."""
    if idempotency_key is None:
        return None
    key = service.check_key(idempotency_key)
    body = await _canonical_body(request)
    query = sorted(request.query_params.multi_items())
    content = json.dumps({"query": query, "body": body}, sort_keys=True).encode()
    route = f"{request.method} {request.url.path}"
    return service.KeyedRequest(key=key, route=route, body_hash=service.request_hash(content))


KeyedDep = Annotated[service.KeyedRequest | None, Depends(keyed_request)]


async def _canonical_body(request: Request) -> Any:
    """The body in a form that a retry repeats exactly: JSON parsed (key order and spacing do
    not count), a form's fields with each file's SHA-256 (not the multipart boundary, which
    each send draws anew), anything else by its SHA-256 with its media type."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        fields: list[Any] = []
        for name, value in (await request.form()).multi_items():
            if isinstance(value, UploadFile):
                content = await value.read()
                await value.seek(0)  # the route reads it again
                fields.append([name, value.filename, service.request_hash(content)])
            else:
                fields.append([name, value])
        return {"form": sorted(fields, key=json.dumps)}
    raw = await request.body()
    if kind == "application/json":
        try:
            return {"json": json.loads(raw)}
        except ValueError:
            pass
    return {"type": kind, "sha256": service.request_hash(raw)}


def json_answer(body: BaseModel, status_code: int) -> service.Answer:
    return service.Answer(status_code=status_code, body=body.model_dump_json())


def as_response(answer: service.Answer) -> Response:
    """The answer as sent the first time; a replay says so in `Idempotent-Replayed`."""
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return Response(
        answer.body,
        status_code=answer.status_code,
        media_type=answer.media_type,
        headers=headers,
    )
