"""What every answer of the API carries, errors and refusals included, and HEAD where GET is.

The API answers JSON and files, never a page to frame or a script to run: its policy allows
nothing to load and no one to frame it. The docs pages (Swagger UI and ReDoc, from
cdn.jsdelivr.net as FastAPI serves them) get a policy that lets exactly those pages work.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc: their scripts and styles from the CDN, the inline script that starts
# Swagger UI and the styles both set inline, their icons and fonts, ReDoc's worker, and the
# schema fetched from this server.
DOCS_POLICY = (
    "default-src 'none'; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; "
    "img-src 'self' data: https:; "
    "worker-src blob:; "
    "connect-src 'self'; "
    "frame-ancestors 'none'"
)
ALWAYS = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    # Answers hold a user's runs, datasets and tokens: no cache or proxy keeps a copy.
    b"cache-control": b"no-store",
}


class SecurityHeaders:
    """ASGI middleware: the headers of ALWAYS and a Content-Security-Policy on every answer
    (the docs pages get DOCS_POLICY); a header an answer sets itself is kept."""

    def __init__(self, app: ASGIApp, *, docs_paths: set[str]) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope["path"] in self.docs_paths else API_POLICY
        added = {**ALWAYS, b"content-security-policy": policy.encode()}

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in added.items() if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class HeadAsGet:
    """ASGI middleware: HEAD is answered as GET would be, with the same status and headers
    (Content-Length included) and no body (RFC 9110, 9.3.2); where GET is not allowed, HEAD
    is not either (405)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headless(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headless)
