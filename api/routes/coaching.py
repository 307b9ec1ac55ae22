"""Coaching notes: a supervisor writes a note for an agent, linked to calls and items, with a follow-up status.

A supervisor limited to a team reads and changes only the notes of that team's agents (another team's note is "no
coaching note N", exactly like a missing one). The author never changes; ``edited_by`` names the last editor, and the
audit trail keeps every change with its before and after.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import func, select

from api.deps import AgentQuery, Limit, Offset, RowId, SessionDep, actor_of, require
from api.permissions import Principal, agent_in_scope, scope_calls, scope_notes
from api.schemas import CoachingIn, CoachingOut, CoachingPatch, Page
from qa.store import audit
from qa.store.models import Agent, Call, CoachingNote

router = APIRouter(tags=["coaching"])
FIELDS = (
    "id",
    "agent_id",
    "author_id",
    "edited_by",
    "note",
    "call_ids",
    "item_ids",
    "status",
    "follow_up_due",
    "created_at",
    "updated_at",
)
EDITABLE = ("status", "note", "follow_up_due")


def _out(n: CoachingNote) -> dict:
    return {k: getattr(n, k) for k in FIELDS}


@router.post("/coaching", status_code=201, response_model=CoachingOut, summary="Record a coaching note")
def create_note(
    body: CoachingIn,
    request: Request,
    s: SessionDep,
    user: Annotated[Principal, Depends(require("coaching:write"))],
):
    agent = s.get(Agent, body.agent_id)
    if not agent_in_scope(agent, user):  # another team's agent reads like an unknown one
        raise HTTPException(422, f"agent_id: no agent {body.agent_id!r}")
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
    audit.record(
        s,
        actor_of(user, request),
        "coaching.create",
        "coaching_note",
        n.id,
        {"after": {k: getattr(n, k) for k in ("note", "status", "follow_up_due", "call_ids", "item_ids")}},
        team=agent.team if agent else None,
        agent_id=body.agent_id,
    )
    return _out(n)


@router.patch("/coaching/{note_id}", response_model=CoachingOut, summary="Update a note (text, status, follow-up)")
def update_note(
    note_id: RowId,
    body: CoachingPatch,
    request: Request,
    s: SessionDep,
    user: Annotated[Principal, Depends(require("coaching:write"))],
):
    n = s.scalar(scope_notes(select(CoachingNote).where(CoachingNote.id == note_id), user))
    if n is None:
        raise HTTPException(404, f"no coaching note {note_id}")
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    before = {k: getattr(n, k) for k in changes}
    for k, v in changes.items():
        setattr(n, k, v)
    if changes:
        n.edited_by = user.id
    s.flush()
    agent = s.get(Agent, n.agent_id)
    audit.record(
        s,
        actor_of(user, request),
        "coaching.update",
        "coaching_note",
        n.id,
        {"author_id": n.author_id, "before": before, "after": changes},
        team=agent.team if agent else None,
        agent_id=n.agent_id,
    )
    return _out(n)


@router.get("/coaching", response_model=Page[CoachingOut], summary="Coaching notes (an agent sees their own)")
def list_notes(
    s: SessionDep,
    user: Annotated[Principal, Depends(require("coaching:read"))],
    agent_id: AgentQuery = None,
    status: Annotated[str | None, Query(pattern="^(open|in_progress|done)$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
):
    q = scope_notes(select(CoachingNote), user)
    if agent_id:
        q = q.where(CoachingNote.agent_id == agent_id)
    if status:
        q = q.where(CoachingNote.status == status)
    total = s.scalar(select(func.count()).select_from(q.subquery()))
    rows = s.scalars(q.order_by(CoachingNote.id.desc()).limit(limit).offset(offset)).all()
    return {"data": [_out(n) for n in rows], "count": total, "limit": limit, "offset": offset}
