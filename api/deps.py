"""Dependencies shared by the routes: the database session, the current user (key check, throttling, last use),
permission checks, the audit actor, visible calls, and validated parameter types."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi import Path as FastAPIPath
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.permissions import PERMISSIONS, Principal, scope_calls
from qa.identifiers import pydantic_identifier, pydantic_search
from qa.store.audit import Actor
from qa.store.db import Store
from qa.store.models import Call
from qa.store.users import AuthResult, authenticate

RowId = Annotated[int, FastAPIPath(ge=1, le=2**31 - 1, description="Row id.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip.")]
CallId = Annotated[str, FastAPIPath(pattern=r"^[A-Za-z0-9._-]{1,64}$", description="Call id.")]
ItemId = Annotated[str, FastAPIPath(min_length=1, max_length=100), AfterValidator(pydantic_identifier("item_id"))]
AgentQuery = Annotated[str | None, Query(max_length=100), AfterValidator(pydantic_identifier("agent_id"))]
TeamQuery = Annotated[str | None, Query(max_length=100), AfterValidator(pydantic_identifier("team"))]
RequestTypeQuery = Annotated[
    str | None,
    Query(max_length=100, description="Request type label."),
    AfterValidator(pydantic_identifier("request_type")),
]
SearchQuery = Annotated[
    str | None,
    Query(min_length=2, max_length=200, description="Words in the transcript."),
    AfterValidator(pydantic_search("q")),
]
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


def _in_calendar(value: dt.date | None) -> dt.date | None:
    """Dates far outside any call (year 1, year 9999) would overflow date arithmetic and time-zone conversion."""
    day = value.date() if isinstance(value, dt.datetime) else value
    if day is not None and not EARLIEST <= day <= LATEST:
        raise ValueError(f"must be between {EARLIEST} and {LATEST}")
    return value


Day = Annotated[dt.date | None, AfterValidator(_in_calendar)]
Moment = Annotated[dt.datetime | None, AfterValidator(_in_calendar)]


bearer = HTTPBearer(auto_error=False, description="An API key from `qa user add NAME --role ROLE`.")


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_session(store: Annotated[Store, Depends(get_store)]) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent (scope="function"): a client never hears
    "done" about a write that then fails to commit."""
    with store.session() as s:
        yield s


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
StoreDep = Annotated[Store, Depends(get_store)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def current_user(
    request: Request, store: StoreDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise HTTPException(
            401, "missing API key: send 'Authorization: Bearer KEY'", headers={"WWW-Authenticate": "Bearer"}
        )
    throttle = request.app.state.key_throttle
    client = client_address(request)
    wait = throttle.retry_after(client)
    if wait is not None:
        raise HTTPException(
            429, f"too many bad API keys from this address: try again in {wait} s", headers={"Retry-After": str(wait)}
        )
    result, user = authenticate(store, creds.credentials)
    if result is not AuthResult.OK or user is None:
        throttle.failed(client)
        if result is AuthResult.EXPIRED and user is not None and user.expires_at is not None:
            message = f"API key expired on {user.expires_at:%Y-%m-%d}: ask an admin for a new one (qa user rotate)"
        else:
            message = "unknown or disabled API key"
        raise HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})
    request.app.state.last_used.seen(user.id, user.last_used_at)
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


def actor_of(user: Principal, request: Request) -> Actor:
    return Actor(user.id, user.name, user.role, client_address(request))


def visible_call(s: Session, call_id: str, user: Principal) -> Call:
    """The call, or 404 when it does not exist or this user may not see it (the same answer: no hint that it
    exists)."""
    call = s.scalar(scope_calls(select(Call).where(Call.id == call_id), user))
    if call is None:
        raise HTTPException(404, f"no call {call_id!r}")
    return call


WeekQuery = Annotated[
    str | None,
    Query(pattern=r"^\d{4}-W\d{2}$", description="ISO week (2026-W45); default: the week of the latest call."),
]


def scoped_week(s: Session, user: Principal, team: str | None, week: str | None):  # noqa: ANN201
    """The calls ``user`` may see (of ``team`` when given) and the ISO week asked for (default: the latest call's);
    a week that does not exist is one 422."""
    from qa.store.sampling import Week, latest_week

    q = scope_calls(select(Call), user)
    if team is not None:
        q = q.where(Call.team == team)
    try:
        return q, (Week.parse(week) if week else latest_week(s, q))
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
