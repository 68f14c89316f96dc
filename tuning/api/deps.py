"""Request-scoped dependencies: the runtime, a session, and the signed-in user."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from tuning import service
from tuning.models import User
from tuning.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="An API token from `python -m tuning users add`")


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    with Session(runtime.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The bearer token, unchecked: see get_current_user, or a service call that checks it."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    return credentials.credentials


TokenDep = Annotated[str, Depends(get_token)]


def get_current_user(session: SessionDep, token: TokenDep) -> User:
    user = service.authenticate(session=session, token=token)
    if user is None:
        raise _unauthorized("unknown or revoked token")
    return user


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


UserDep = Annotated[User, Depends(get_current_user)]
