"""Users and keys (admins), and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from api.deps import Principal, StoreDep, require
from api.schemas import MeOut, UserIn, UserKeyOut
from qa.errors import ConfigError
from qa.store.users import add_user

router = APIRouter(tags=["users"])


@router.post("/users", status_code=201, response_model=UserKeyOut, summary="Create a user; the key is shown once")
def create_user(body: UserIn, store: StoreDep, user: Annotated[Principal, Depends(require("users:manage"))]):
    try:
        key = add_user(store, body.name, body.role, body.agent_id, body.team)
    except ConfigError as exc:
        raise HTTPException(409 if "exists" in str(exc) else 422, str(exc)) from None
    return {"name": body.name, "role": body.role, "key": key}


@router.get("/me", response_model=MeOut, summary="The user this key belongs to")
def me(user: Annotated[Principal, Depends(require("me:read"))]):
    return {"name": user.name, "role": user.role, "agent_id": user.agent_id, "team": user.team}
