"""The dashboard server's own route and middleware (dashboard_ui/server_routes.py), mounted on a
bare Starlette app over the test's own SQLite file: the HttpOnly sign-in cookie and who may read
metrics and media files. tests/test_dashboard_browser_sign_in.py drives the same in Chromium."""

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from dashboard_ui.server_routes import SignedInOnly, cookie_route
from dashboard_ui.session_cookie import COOKIE, COOKIE_ROUTE
from tuning.service import create_user, end_browser_session, start_browser_session

ORIGIN = {"Origin": "http://testserver"}


def served(_request) -> PlainTextResponse:
    return PlainTextResponse("served")


@pytest.fixture
def client(inproc):
    routes = [
        cookie_route(inproc.settings),
        Route("/media/{file}", served),
        Route("/_stcore/metrics", served),
        Route("/_stcore/health", served),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(SignedInOnly, settings=inproc.settings)])
    with TestClient(app) as client:
        yield client


@pytest.fixture
def signed_in(inproc) -> tuple[str, str]:
    """A live browser sign-in's secret, and its user's API token."""
    with inproc.session() as session:
        user, token = create_user(session=session, name="cookie-user")
        return start_browser_session(session=session, user=user, lifetime_s=3600), token


def test_a_live_sign_in_is_set_as_an_http_only_strict_cookie(client, signed_in):
    secret, _ = signed_in
    response = client.post(COOKIE_ROUTE, json={"secret": secret}, headers=ORIGIN)

    assert response.status_code == 204
    header = response.headers["set-cookie"]
    assert header.startswith(f"{COOKIE}={secret};")
    assert "HttpOnly" in header and "SameSite=strict" in header and "Path=/" in header
    assert "Secure" not in header  # plain HTTP: a Secure cookie would never come back


@pytest.mark.parametrize(
    "how", [{"base_url": "https://testserver"}, {"headers": {"X-Forwarded-Proto": "https"}}]
)
def test_over_https_the_cookie_is_secure_too(inproc, client, signed_in, how):
    secret, _ = signed_in
    origin = "https://testserver" if "base_url" in how else "http://testserver"
    if "base_url" in how:
        client.base_url = how["base_url"]
    headers = {"Origin": origin, **how.get("headers", {})}
    response = client.post(COOKIE_ROUTE, json={"secret": secret}, headers=headers)
    assert response.status_code == 204
    assert "Secure" in response.headers["set-cookie"]


def test_a_cookie_change_from_another_site_is_refused(client, signed_in):
    secret, _ = signed_in
    evil = {"Origin": "http://evil.example"}
    response = client.post(COOKIE_ROUTE, json={"secret": secret}, headers=evil)
    assert response.status_code == 403 and "set-cookie" not in response.headers
    assert client.post(COOKIE_ROUTE, json={"secret": secret}).status_code == 403  # no Origin


def test_an_ended_or_unknown_sign_in_is_not_set(inproc, client, signed_in):
    secret, _ = signed_in
    with inproc.session() as session:
        end_browser_session(session=session, secret=secret)
    for body in ({"secret": secret}, {"secret": "made-up"}):
        response = client.post(COOKIE_ROUTE, json=body, headers=ORIGIN)
        assert response.status_code == 401 and "set-cookie" not in response.headers
    response = client.post(COOKIE_ROUTE, content=b"[1]", headers=ORIGIN)
    assert response.status_code == 422


def test_an_ended_sign_in_is_cleared_only_while_the_cookie_still_holds_it(client):
    client.cookies.set(COOKIE, "newer-sign-in")
    kept = client.post(COOKIE_ROUTE, json={"ended": "older"}, headers=ORIGIN)
    assert kept.status_code == 204 and "set-cookie" not in kept.headers

    client.cookies.set(COOKIE, "older")
    cleared = client.post(COOKIE_ROUTE, json={"ended": "older"}, headers=ORIGIN)
    assert cleared.status_code == 204
    assert cleared.headers["set-cookie"].startswith(f'{COOKIE}="";')
    assert "Max-Age=0" in cleared.headers["set-cookie"]


@pytest.mark.parametrize("path", ["/media/abc.bin", "/_stcore/metrics"])
def test_metrics_and_media_answer_only_a_sign_in_or_an_api_token(client, signed_in, path):
    secret, token = signed_in
    refused = client.get(path)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "sign in to the dashboard first"}
    assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401

    assert client.get(path, headers={"Authorization": f"Bearer {token}"}).text == "served"
    client.cookies.set(COOKIE, secret)
    assert client.get(path).text == "served"


def test_other_paths_are_left_to_streamlit(client):
    assert client.get("/_stcore/health").text == "served"
