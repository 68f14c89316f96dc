"""Request bodies over a size are refused (413) before they are read: from Content-Length when
the client sends one, else at the first chunk past the limit. Nothing larger is ever buffered."""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tuning.api.responses import json_error

# Room for a multipart body's boundaries and its other fields around the uploaded file.
MULTIPART_FRAMING = 64 * 1024


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
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await json_error(413, BodyTooLarge(limit).detail)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)
