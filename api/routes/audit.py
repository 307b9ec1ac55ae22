"""The audit trail over HTTP: admins read all of it, supervisors the rows about their team's calls and agents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AfterValidator
from sqlalchemy import func, select

from api.deps import Limit, Moment, Offset, SessionDep, require
from api.permissions import Principal, scope_audit
from api.schemas import AuditOut, Page
from qa.identifiers import pydantic_identifier
from qa.store import audit
from qa.store.models import AuditRow

router = APIRouter(tags=["audit"])
Word = Annotated[str | None, Query(max_length=100), AfterValidator(pydantic_identifier("filter"))]


def _naive(t):
    import datetime as dt

    return t.astimezone(dt.UTC).replace(tzinfo=None) if t is not None and t.tzinfo else t


@router.get("/audit", response_model=Page[AuditOut], summary="Audit trail rows, newest first, with filters")
def get_audit(
    s: SessionDep,
    user: Annotated[Principal, Depends(require("audit:read"))],
    since: Annotated[Moment, Query(description="Rows at or after (ISO 8601).")] = None,
    until: Annotated[Moment, Query(description="Rows before (ISO 8601).")] = None,
    actor: Word = None,
    action: Word = None,
    object_type: Word = None,
    object_id: Word = None,
    team: Word = None,
    limit: Limit = 100,
    offset: Offset = 0,
):
    filters = audit.Filters(_naive(since), _naive(until), actor, action, object_type, object_id, team)
    q = scope_audit(audit.query(filters), user)
    total = s.scalar(select(func.count()).select_from(q.subquery()))
    rows = s.scalars(q.order_by(AuditRow.id.desc()).limit(limit).offset(offset)).all()
    return {"data": [audit.as_dict(r) for r in rows], "count": total, "limit": limit, "offset": offset}
