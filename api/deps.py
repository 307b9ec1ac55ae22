"""Dependencies shared by the routes: the database session, the current user, permission checks, call scoping."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi import Path as FastAPIPath
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.permissions import PERMISSIONS, PII_ROLES
from qa.store.db import Store
from qa.store.models import Call
from qa.store.users import authenticate

RowId = Annotated[int, FastAPIPath(ge=1, le=2**31 - 1, description="Row id.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip.")]

bearer = HTTPBearer(auto_error=False, description="An API key from `qa user add NAME --role ROLE`.")


@dataclass(frozen=True)
class Principal:
    id: int
    name: str
    role: str
    agent_id: str | None
    team: str | None

    @property
    def sees_pii(self) -> bool:
        return self.role in PII_ROLES


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_session(store: Annotated[Store, Depends(get_store)]) -> Iterator[Session]:
    with store.session() as s:
        yield s


SessionDep = Annotated[Session, Depends(get_session)]
StoreDep = Annotated[Store, Depends(get_store)]


def current_user(store: StoreDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise HTTPException(
            401, "missing API key: send 'Authorization: Bearer KEY'", headers={"WWW-Authenticate": "Bearer"}
        )
    user = authenticate(store, creds.credentials)
    if user is None:
        raise HTTPException(401, "unknown or disabled API key", headers={"WWW-Authenticate": "Bearer"})
    return Principal(user.id, user.name, user.role, user.agent_id, user.team)


UserDep = Annotated[Principal, Depends(current_user)]


def require(permission: str):
    """A dependency that lets the request through only for roles holding ``permission``."""
    allowed = PERMISSIONS[permission]

    def check(user: UserDep) -> Principal:
        if user.role not in allowed:
            raise HTTPException(403, f"role '{user.role}' may not {permission.replace(':', ' ')}")
        return user

    check.permission = permission  # type: ignore[attr-defined]  # read by the permission-matrix test
    return check


def scope_calls(q: Select, user: Principal) -> Select:
    """An agent sees only their own calls; a supervisor linked to a team only that team's."""
    if user.role == "agent":
        return q.where(Call.agent_id == (user.agent_id or "\x00"))
    if user.role == "supervisor" and user.team:
        return q.where(Call.team == user.team)
    return q


def visible_call(s: Session, call_id: str, user: Principal) -> Call:
    """The call, or 404 when it does not exist or this user may not see it (no hint that it exists)."""
    call = s.scalar(scope_calls(select(Call).where(Call.id == call_id), user))
    if call is None:
        raise HTTPException(404, f"no call {call_id!r}")
    return call
