"""What the dashboard's server does beside Streamlit (`dashboard_ui.server` mounts it): the
route that sets and clears the HttpOnly sign-in cookie, and the middleware that keeps metrics and
media files for signed-in users. Plain Starlette, on the settings given: tests mount it alone."""

from collections.abc import Awaitable, Callable
from functools import cache

from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from dashboard_ui.session_cookie import COOKIE, COOKIE_ROUTE
from tuning.config import Settings
from tuning.db import session_scope
from tuning.runtime import Runtime, create_runtime

SIGNED_IN_PATHS = ("/_stcore/metrics", "/media/")


@cache
def _runtime(database_url: str) -> Runtime:
    """One database pool per server process (a route has no script run's `ui.runtime()`)."""
    return create_runtime(Settings(database_url=database_url))


def _signed_in(settings: Settings, secret: str | None, authorization: str | None) -> bool:
    # Imported at the first check, not at start: the server listens at once, as the script
    # (dashboard.py) shows its frame while the rest loads.
    from tuning.service import authenticate, browser_session_user

    with session_scope(_runtime(settings.sqlalchemy_url).engine) as session:
        if secret and browser_session_user(session=session, secret=secret) is not None:
            return True
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and authenticate(session=session, token=token) is not None


def _same_origin(request: Request) -> bool:
    """A posted cookie change comes from the dashboard's own page: its Origin is this host."""
    origin = request.headers.get("origin", "")
    return origin.split("://", 1)[-1] == request.headers.get("host")


def _secure(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
    return request.url.scheme == "https" or forwarded == "https"


def cookie_route(settings: Settings) -> Route:
    """`POST /_tuning/cookie`, answered by `set_or_clear_cookie`."""

    async def endpoint(request: Request) -> Response:
        return await set_or_clear_cookie(request, settings)

    return Route(COOKIE_ROUTE, endpoint, methods=["POST"])


async def set_or_clear_cookie(request: Request, settings: Settings) -> Response:
    """POST {"secret": s}: set the cookie to a live sign-in's secret. POST {"ended": s}: clear
    it if it still holds that ended one (not a newer sign-in of another tab)."""
    if not _same_origin(request):
        return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return JSONResponse({"detail": "expected a JSON object"}, status_code=422)
    secret, ended = body.get("secret"), body.get("ended")
    response = Response(status_code=204)
    if isinstance(secret, str) and secret:
        if not await run_in_threadpool(_signed_in, settings, secret, None):
            return JSONResponse({"detail": "that sign-in has ended"}, status_code=401)
        max_age = int(settings.browser_session_days * 86400)
        response.set_cookie(
            COOKIE,
            secret,
            max_age=max_age,
            path="/",
            httponly=True,
            samesite="strict",
            secure=_secure(request),
        )
    elif isinstance(ended, str) and ended and request.cookies.get(COOKIE) == ended:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


class SignedInOnly(BaseHTTPMiddleware):
    """Metrics and media files answer only a signed-in browser or an API token."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        super().__init__(app)
        self.settings = settings

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path.startswith(SIGNED_IN_PATHS) and not await run_in_threadpool(
            _signed_in,
            self.settings,
            request.cookies.get(COOKIE),
            request.headers.get("authorization"),
        ):
            return JSONResponse({"detail": "sign in to the dashboard first"}, status_code=401)
        return await call_next(request)
