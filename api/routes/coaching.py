"""Coaching notes: a supervisor writes a note for an agent, linked to calls and items, with a follow-up status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy import func, select

from api.deps import Limit, Offset, Principal, RowId, SessionDep, require, scope_calls
from api.schemas import CoachingIn, CoachingOut, CoachingPatch, Page
from qa.store.models import Agent, Call, CoachingNote

router = APIRouter(tags=["coaching"])


def _out(n: CoachingNote) -> dict:
    return {
        k: getattr(n, k)
        for k in (
            "id",
            "agent_id",
            "author_id",
            "note",
            "call_ids",
            "item_ids",
            "status",
            "follow_up_due",
            "created_at",
            "updated_at",
        )
    }


@router.post("/coaching", status_code=201, response_model=CoachingOut, summary="Record a coaching note")
def create_note(body: CoachingIn, s: SessionDep, user: Annotated[Principal, Depends(require("coaching:write"))]):
    agent = s.get(Agent, body.agent_id)
    if agent is None:
        raise HTTPException(422, f"agent_id: no agent {body.agent_id!r}")
    if user.role == "supervisor" and user.team and agent.team != user.team:
        raise HTTPException(403, f"agent {body.agent_id} is not in team {user.team}")
    if body.call_ids:
        found = set(
            s.scalars(
                scope_calls(select(Call.id).where(Call.id.in_(body.call_ids), Call.agent_id == body.agent_id), user)
            )
        )
        missing = [c for c in body.call_ids if c not in found]
        if missing:
            raise HTTPException(422, f"call_ids: not calls of agent {body.agent_id}: {', '.join(missing)}")
    n = CoachingNote(
        agent_id=body.agent_id,
        author_id=user.id,
        note=body.note,
        call_ids=body.call_ids,
        item_ids=body.item_ids,
        follow_up_due=body.follow_up_due,
    )
    s.add(n)
    s.flush()
    return _out(n)


@router.patch("/coaching/{note_id}", response_model=CoachingOut, summary="Update a note's follow-up status")
def update_note(
    note_id: RowId, body: CoachingPatch, s: SessionDep, user: Annotated[Principal, Depends(require("coaching:write"))]
):
    n = s.get(CoachingNote, note_id)
    if n is None:
        raise HTTPException(404, f"no coaching note {note_id}")
    for k, v in body.model_dump(exclude_unset=True).items():
        if v is not None:
            setattr(n, k, v)
    s.flush()
    return _out(n)


@router.get("/coaching", response_model=Page[CoachingOut], summary="Coaching notes (an agent sees their own)")
def list_notes(
    s: SessionDep,
    user: Annotated[Principal, Depends(require("coaching:read"))],
    agent_id: str | None = None,
    status: Annotated[str | None, Query(pattern="^(open|in_progress|done)$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
):
    q = select(CoachingNote)
    if user.role == "agent":
        q = q.where(CoachingNote.agent_id == (user.agent_id or "\x00"))
    elif user.role == "supervisor" and user.team:
        q = q.join(Agent, Agent.id == CoachingNote.agent_id).where(Agent.team == user.team)
    if agent_id:
        q = q.where(CoachingNote.agent_id == agent_id)
    if status:
        q = q.where(CoachingNote.status == status)
    total = s.scalar(select(func.count()).select_from(q.subquery()))
    rows = s.scalars(q.order_by(CoachingNote.id.desc()).limit(limit).offset(offset)).all()
    return {"data": [_out(n) for n in rows], "count": total, "limit": limit, "offset": offset}
