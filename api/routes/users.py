"""Users and keys (admins): create, list, disable, enable, rotate; and who am I. Every change is audited."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Path as FastAPIPath

from api.deps import StoreDep, actor_of, require
from api.permissions import Principal
from api.schemas import MeOut, RotateIn, UserIn, UserKeyOut, UserOut
from qa.errors import ConfigError
from qa.store.users import UserInfo, add_user, list_users, rotate_key, set_active

router = APIRouter(tags=["users"])
UserName = Annotated[str, FastAPIPath(min_length=1, max_length=100, pattern=r"^[\w.@-]+$")]
Admin = Annotated[Principal, Depends(require("users:manage"))]


def _days(n: int | None) -> dt.timedelta | None:
    return dt.timedelta(days=n) if n else None


def _user_out(u: UserInfo) -> dict:
    return {k: getattr(u, k) for k in UserOut.model_fields}


def _known(exc: ConfigError) -> HTTPException:
    text = str(exc)
    return HTTPException(404 if text.startswith("no user") else 409 if "exists" in text else 422, text)


@router.post("/users", status_code=201, response_model=UserKeyOut, summary="Create a user; the key is shown once")
def create_user(body: UserIn, request: Request, store: StoreDep, user: Admin):
    try:
        key = add_user(
            store, body.name, body.role, body.agent_id, body.team, _days(body.expires_in_days), actor_of(user, request)
        )
    except ConfigError as exc:
        raise _known(exc) from None
    info = next(u for u in list_users(store) if u.name == body.name)
    return {"name": body.name, "role": body.role, "key": key, "expires_at": info.expires_at}


@router.get("/users", response_model=list[UserOut], summary="Users with their key status, expiry and last use")
def get_users(store: StoreDep, user: Admin):
    return [_user_out(u) for u in list_users(store)]


@router.post("/users/{name}/disable", response_model=UserOut, summary="Disable a user: their key stops working")
def disable_user(name: UserName, request: Request, store: StoreDep, user: Admin):
    if name == user.name:
        raise HTTPException(409, "name: you cannot disable your own key")
    try:
        return _user_out(set_active(store, name, False, actor_of(user, request)))
    except ConfigError as exc:
        raise _known(exc) from None


@router.post("/users/{name}/enable", response_model=UserOut, summary="Enable a disabled user again")
def enable_user(name: UserName, request: Request, store: StoreDep, user: Admin):
    try:
        return _user_out(set_active(store, name, True, actor_of(user, request)))
    except ConfigError as exc:
        raise _known(exc) from None


@router.post(
    "/users/{name}/rotate", response_model=UserKeyOut, summary="A new key for a user (shown once); the old one stops"
)
def rotate(name: UserName, body: RotateIn, request: Request, store: StoreDep, user: Admin):
    try:
        key, info = rotate_key(store, name, _days(body.expires_in_days), actor_of(user, request))
    except ConfigError as exc:
        raise _known(exc) from None
    return {"name": info.name, "role": info.role, "key": key, "expires_at": info.expires_at}


@router.get("/me", response_model=MeOut, summary="The user this key belongs to")
def me(user: Annotated[Principal, Depends(require("me:read"))]):
    return {"name": user.name, "role": user.role, "agent_id": user.agent_id, "team": user.team}
