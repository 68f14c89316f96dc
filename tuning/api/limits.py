"""Request bodies over a size are refused (413) before they are used: from Content-Length when
the client sends one, else at the first chunk past the limit. Nothing larger is ever buffered.

The rest of a refused body is read and thrown away (up to DRAIN_BYTES, for DRAIN_SECONDS at
most) before the answer: a client still sending when the server closes gets a connection reset,
and Python's urllib, requests and httpx then report a broken pipe, never the 413. A client that
asked `Expect: 100-continue` has sent nothing yet, and gets the 413 at once.
"""

import asyncio
import contextlib

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tuning.api.responses import json_error

# Room for a multipart body's boundaries and its other fields around the uploaded file.
MULTIPART_FRAMING = 64 * 1024
# The most of a refused body read and thrown away, and for how long; past either, the answer
# is sent and the connection closed (the client may then see a reset rather than the 413).
DRAIN_BYTES = 64 * 1024 * 1024
DRAIN_SECONDS = 10.0


class BodyTooLarge(HTTPException):
    """Raised from `receive`: an HTTPException, so that FastAPI's body parsing passes it on as
    it is rather than as a 400, and its handler answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over the limit of {limit:,} bytes")


class BodyLimit:
    """ASGI middleware: at most `default_bytes` per request body, `upload_bytes` on the routes
    in `upload_paths` or ending in one of `upload_suffixes` (a CSV upload and its multipart
    framing; rows to predict)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default_bytes: int,
        upload_bytes: int,
        upload_paths: set[str],
        upload_suffixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.default_bytes = default_bytes
        self.upload_bytes = upload_bytes
        self.upload_paths = upload_paths
        self.upload_suffixes = upload_suffixes

    def _is_upload(self, path: str) -> bool:
        return path in self.upload_paths or path.endswith(self.upload_suffixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_bytes if self._is_upload(scope["path"]) else self.default_bytes
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            if headers.get(b"expect", b"").lower() != b"100-continue":
                await drain(receive, 0)
            await json_error(413, BodyTooLarge(limit).detail)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if message.get("more_body", False):
                        await drain(receive, received)
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)


async def drain(receive: Receive, already: int) -> None:
    """Read the rest of a refused body and throw it away, within DRAIN_BYTES and DRAIN_SECONDS,
    so that the client has sent it all when the answer comes."""

    async def rest() -> None:
        read = already
        while read < DRAIN_BYTES:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
            read += len(message.get("body", b""))

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(rest(), DRAIN_SECONDS)
