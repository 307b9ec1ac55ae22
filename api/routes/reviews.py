"""Review work around evaluations: calibration sessions (answers append-only, latest wins, history kept) and
disputes (an agent disputes an item of a released evaluation; a supervisor or admin resolves it, accepting with the
new answer or rejecting)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import (
    CallId,
    Limit,
    Offset,
    RowId,
    SessionDep,
    TeamQuery,
    WeekQuery,
    actor_of,
    require,
    scoped_week,
    visible_call,
)
from api.permissions import Principal, answers_blind, released_only, scope_calls
from api.routes.evaluations import evaluation_of, policy
from api.schemas import CalibrationIn, CalibrationScoresIn, DisputeIn, DisputeOut, DisputeResolveIn, Page
from api.views import summary
from qa.store import audit, reviews
from qa.store.models import CalibrationAnswer, CalibrationSession, Call, Dispute, EvaluationRow, User
from qa.store.reports import agreement
from qa.store.sampling import weekly_sample

router = APIRouter(tags=["reviews"])


# ------------------------------------------------------------------------------------------------------ calibration


@router.post("/calibrations", status_code=201, summary="Start a calibration session on a call")
def create_calibration(
    body: CalibrationIn,
    request: Request,
    s: SessionDep,
    user: Annotated[Principal, Depends(require("calibration:manage"))],
):
    call = visible_call(s, body.call_id, user)
    evaluation_of(s, call)
    cs = CalibrationSession(call_id=call.id, name=body.name, created_by=user.id)
    s.add(cs)
    s.flush()
    audit.record(
        s,
        actor_of(user, request),
        "calibration.create",
        "calibration",
        cs.id,
        {"call_id": call.id, "name": body.name},
        team=call.team,
        agent_id=call.agent_id,
    )
    return {"id": cs.id, "call_id": call.id, "name": cs.name}


def session_call(s: Session, session_id: int, user: Principal) -> tuple[CalibrationSession, Call]:
    """The session and its call; 404 "no calibration session" alike for a missing one and another team's."""
    cs = s.get(CalibrationSession, session_id)
    call = None if cs is None else s.scalar(scope_calls(select(Call).where(Call.id == cs.call_id), user))
    if cs is None or call is None:
        raise HTTPException(404, f"no calibration session {session_id}")
    return cs, call


@router.put("/calibrations/{session_id}/answers", summary="A reviewer's answers in a calibration session (kept)")
def score_calibration(
    session_id: RowId,
    body: CalibrationScoresIn,
    request: Request,
    s: SessionDep,
    user: Annotated[Principal, Depends(require("calibration:score"))],
):
    cs, call = session_call(s, session_id, user)
    ev = evaluation_of(s, call)
    unknown = sorted(set(body.answers) - set(reviews.item_ids(ev)))
    if unknown:
        raise HTTPException(422, f"answers: unknown item(s) {', '.join(unknown)} on scorecard {ev.scorecard_id}")
    for item, answer in body.answers.items():  # appended: an earlier answer stays in the history
        s.add(CalibrationAnswer(session_id=cs.id, reviewer_id=user.id, item_id=item, answer=answer))
    s.flush()
    audit.record(
        s,
        actor_of(user, request),
        "calibration.answer",
        "calibration",
        cs.id,
        {"call_id": call.id, "answers": dict(body.answers)},
        team=call.team,
        agent_id=call.agent_id,
    )
    return calibration_result(session_id, s, user)


@router.get("/calibrations", summary="Calibration sessions on the calls the user may see, newest first")
def list_calibrations(
    s: SessionDep,
    user: Annotated[Principal, Depends(require("calibration:read"))],
    call_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._-]{1,64}$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict:
    q = scope_calls(select(CalibrationSession).join(Call, Call.id == CalibrationSession.call_id), user)
    if call_id is not None:
        q = q.where(CalibrationSession.call_id == call_id)
    total = s.scalar(select(func.count()).select_from(q.subquery()))
    rows = list(s.scalars(q.order_by(CalibrationSession.id.desc()).limit(limit).offset(offset)))
    who: dict[int, set[int]] = {}
    if rows:
        pairs = s.execute(
            select(CalibrationAnswer.session_id, CalibrationAnswer.reviewer_id)
            .where(CalibrationAnswer.session_id.in_([r.id for r in rows]))
            .distinct()
        )
        for sid, rid in pairs:
            who.setdefault(sid, set()).add(rid)
    data = [
        {
            "id": r.id,
            "call_id": r.call_id,
            "name": r.name,
            "created_at": r.created_at,
            "reviewers": len(who.get(r.id, ())),
            "answered": user.id in who.get(r.id, ()),
        }
        for r in rows
    ]
    return {"data": data, "count": total, "limit": limit, "offset": offset}


@router.get("/calibrations/{session_id}", summary="Agreement between reviewers (latest answers) and the history")
def calibration_result(
    session_id: RowId, s: SessionDep, user: Annotated[Principal, Depends(require("calibration:read"))]
):
    """A reviewer who has not answered yet gets 409: reviewers answer blind (``answers_blind``)."""
    cs, call = session_call(s, session_id, user)
    ev = evaluation_of(s, call)
    rows = list(
        s.scalars(select(CalibrationAnswer).where(CalibrationAnswer.session_id == cs.id).order_by(CalibrationAnswer.id))
    )
    if answers_blind(user) and not any(a.reviewer_id == user.id for a in rows):
        raise HTTPException(409, f"calibration session {cs.id}: give your answers first (reviewers answer blind)")
    names = dict(s.execute(select(User.id, User.name)).all())
    latest: dict[str, dict[str, str]] = {}
    history = []
    for a in rows:
        who = names.get(a.reviewer_id, str(a.reviewer_id))
        latest.setdefault(who, {})[a.item_id] = a.answer  # in id order: the latest wins
        history.append({"reviewer": who, "item": a.item_id, "answer": a.answer, "at": a.created_at})
    automatic = {it["id"]: it["answer"] for it in ev.data["items"]}
    return {"id": cs.id, "call_id": cs.call_id, "name": cs.name, **agreement(latest, automatic), "history": history}


# ------------------------------------------------------------------------------------------------- weekly sample

PerAgent = Annotated[int | None, Query(ge=0, le=50, description="Calls per agent (default: the server's setting).")]


@router.get("/review-sample", summary="A random sample of evaluated calls per agent for one week (same on reload)")
def review_sample(
    request: Request,
    s: SessionDep,
    user: Annotated[Principal, Depends(require("queue:read"))],
    week: WeekQuery = None,
    per_agent: PerAgent = None,
    team: TeamQuery = None,
) -> dict:
    """N evaluated calls of each agent the user may see, drawn with a seed per ISO week (``qa.store.sampling``)."""
    q, wk = scoped_week(s, user, team, week)
    n = request.app.state.settings.review_sample if per_agent is None else per_agent
    rows = weekly_sample(s, q, wk, n)
    hide = released_only(user)
    return {"week": wk.label, "per_agent": n, "data": [summary(c, hide) for c in rows], "count": len(rows)}


# --------------------------------------------------------------------------------------------------------- disputes


def _dispute_out(d: Dispute, call_id: str) -> dict:
    return {
        "id": d.id,
        "call_id": call_id,
        "item_id": d.item_id,
        "reason": d.reason,
        "status": d.status,
        "resolution": d.resolution,
        "created_at": d.created_at,
        "resolved_at": d.resolved_at,
    }


@router.post(
    "/calls/{call_id}/disputes",
    status_code=201,
    response_model=DisputeOut,
    summary="An agent disputes an item of their released evaluation (within the window, limited per item)",
)
def create_dispute(
    call_id: CallId,
    body: DisputeIn,
    request: Request,
    s: SessionDep,
    user: Annotated[Principal, Depends(require("disputes:create"))],
):
    call = visible_call(s, call_id, user)  # agents see only their own calls
    ev = evaluation_of(s, call, user)
    try:
        d = reviews.file_dispute(
            s, call, ev, body.item_id, body.reason, user.id, policy(request), actor_of(user, request)
        )
    except reviews.NotOnScorecard as exc:
        raise HTTPException(422, f"item_id: {exc.item_id!r} is not on scorecard {exc.scorecard_id}") from None
    return _dispute_out(d, call.id)


@router.get("/disputes", response_model=Page[DisputeOut], summary="Disputes (an agent sees their own)")
def list_disputes(
    s: SessionDep,
    user: Annotated[Principal, Depends(require("disputes:read"))],
    status: Annotated[str | None, Query(pattern="^(open|accepted|rejected)$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
):
    q = scope_calls(
        select(Dispute, Call.id)
        .join(EvaluationRow, Dispute.evaluation_id == EvaluationRow.id)
        .join(Call, EvaluationRow.call_id == Call.id),
        user,
    )
    if status:
        q = q.where(Dispute.status == status)
    total = s.scalar(select(func.count()).select_from(q.subquery()))
    rows = s.execute(q.order_by(Dispute.id.desc()).limit(limit).offset(offset)).all()
    return {"data": [_dispute_out(d, cid) for d, cid in rows], "count": total, "limit": limit, "offset": offset}


@router.post(
    "/disputes/{dispute_id}/resolve",
    response_model=DisputeOut,
    summary="Accept a dispute with the item's new answer, or reject it; with a reason",
)
def resolve_dispute(
    dispute_id: RowId,
    body: DisputeResolveIn,
    request: Request,
    s: SessionDep,
    user: Annotated[Principal, Depends(require("disputes:resolve"))],
):
    d = s.get(Dispute, dispute_id)
    ev = None if d is None else s.get(EvaluationRow, d.evaluation_id)
    call = None if ev is None else s.scalar(scope_calls(select(Call).where(Call.id == ev.call_id), user))
    if d is None or ev is None or call is None:  # another team's dispute reads exactly like a missing one
        raise HTTPException(404, f"no dispute {dispute_id}")
    try:
        reviews.resolve_dispute(s, d, ev, call, body.status, body.answer, body.reason, user.id, actor_of(user, request))
    except reviews.BadResolution as exc:
        raise HTTPException(422, str(exc)) from None
    return _dispute_out(d, call.id)
