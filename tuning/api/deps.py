"""Request-scoped dependencies: the runtime, the bearer token and the signed-in user."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tuning import service
from tuning.db import session_scope
from tuning.models import User
from tuning.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="An API token from `python -m tuning users add`")


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The bearer token, unchecked: see get_current_user, or a service call that checks it."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    return credentials.credentials


TokenDep = Annotated[str, Depends(get_token)]


def get_current_user(runtime: RuntimeDep, token: TokenDep) -> User:
    # Its own short session, closed in this thread hop; routes open theirs the same way, so no
    # connection is ever held by a request that is waiting for a thread.
    with session_scope(runtime.engine) as session:
        user = service.authenticate(session=session, token=token)
    if user is None:
        raise _unauthorized("unknown or revoked token")
    return user


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


UserDep = Annotated[User, Depends(get_current_user)]
