"""Review work on evaluations: overrides per item, calibration sessions, disputes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy import func, select

from api.deps import Limit, Offset, Principal, RowId, SessionDep, require, scope_calls, visible_call
from api.schemas import CalibrationIn, CalibrationScoresIn, DisputeIn, DisputeOut, DisputeResolveIn, OverrideIn, Page
from qa.store.calls import current_evaluation, refresh_call_score
from qa.store.models import CalibrationAnswer, CalibrationSession, Call, Dispute, EvaluationRow, Review, User, utcnow
from qa.store.reports import agreement
from qa.store.views import evaluation_view

router = APIRouter(tags=["reviews"])


def _evaluation(s, call: Call) -> EvaluationRow:
    ev = current_evaluation(s, call.id)
    if ev is None:
        raise HTTPException(404, f"call {call.id} has no evaluation (no scorecard applied)")
    return ev


def _item_ids(ev: EvaluationRow) -> list[str]:
    return [it["id"] for it in ev.data["items"]]


@router.get("/calls/{call_id}/evaluation", summary="The evaluation: automatic and reviewed answers, evidence")
def get_evaluation(call_id: str, s: SessionDep, user: Annotated[Principal, Depends(require("evaluations:read"))]):
    call = visible_call(s, call_id, user)
    _evaluation(s, call)
    return evaluation_view(s, call, user.sees_pii)


@router.put("/calls/{call_id}/evaluation/items/{item_id}", summary="Override one item's answer, with a comment")
def override_item(
    call_id: str,
    item_id: str,
    body: OverrideIn,
    s: SessionDep,
    user: Annotated[Principal, Depends(require("evaluations:override"))],
):
    call = visible_call(s, call_id, user)
    ev = _evaluation(s, call)
    if item_id not in _item_ids(ev):
        raise HTTPException(404, f"item {item_id!r} is not on scorecard {ev.scorecard_id} ({', '.join(_item_ids(ev))})")
    s.add(Review(evaluation_id=ev.id, item_id=item_id, answer=body.answer, comment=body.comment, reviewer_id=user.id))
    s.flush()
    refresh_call_score(s, call, ev)
    return evaluation_view(s, call, user.sees_pii)


# ------------------------------------------------------------------------------------------------------ calibration


@router.post("/calibrations", status_code=201, summary="Start a calibration session on a call")
def create_calibration(
    body: CalibrationIn, s: SessionDep, user: Annotated[Principal, Depends(require("calibration:manage"))]
):
    call = visible_call(s, body.call_id, user)
    _evaluation(s, call)
    cs = CalibrationSession(call_id=call.id, name=body.name, created_by=user.id)
    s.add(cs)
    s.flush()
    return {"id": cs.id, "call_id": call.id, "name": cs.name}


def _session(s, session_id: int) -> CalibrationSession:
    cs = s.get(CalibrationSession, session_id)
    if cs is None:
        raise HTTPException(404, f"no calibration session {session_id}")
    return cs


@router.put("/calibrations/{session_id}/answers", summary="A reviewer's answers in a calibration session")
def score_calibration(
    session_id: RowId,
    body: CalibrationScoresIn,
    s: SessionDep,
    user: Annotated[Principal, Depends(require("calibration:score"))],
):
    cs = _session(s, session_id)
    call = visible_call(s, cs.call_id, user)
    ev = _evaluation(s, call)
    unknown = sorted(set(body.answers) - set(_item_ids(ev)))
    if unknown:
        raise HTTPException(422, f"answers: unknown item(s) {', '.join(unknown)} on scorecard {ev.scorecard_id}")
    for item, answer in body.answers.items():
        row = s.scalar(
            select(CalibrationAnswer).where(
                CalibrationAnswer.session_id == cs.id,
                CalibrationAnswer.reviewer_id == user.id,
                CalibrationAnswer.item_id == item,
            )
        )
        if row is None:
            s.add(CalibrationAnswer(session_id=cs.id, reviewer_id=user.id, item_id=item, answer=answer))
        else:
            row.answer = answer
    s.flush()
    return calibration_result(session_id, s, user)


@router.get("/calibrations/{session_id}", summary="Agreement between reviewers, and with the automatic answers")
def calibration_result(
    session_id: RowId, s: SessionDep, user: Annotated[Principal, Depends(require("calibration:read"))]
):
    cs = _session(s, session_id)
    call = visible_call(s, cs.call_id, user)
    ev = _evaluation(s, call)
    names = dict(s.execute(select(User.id, User.name)).all())
    answers: dict[str, dict[str, str]] = {}
    for a in s.scalars(select(CalibrationAnswer).where(CalibrationAnswer.session_id == cs.id)):
        answers.setdefault(names.get(a.reviewer_id, str(a.reviewer_id)), {})[a.item_id] = a.answer
    automatic = {it["id"]: it["answer"] for it in ev.data["items"]}
    return {"id": cs.id, "call_id": cs.call_id, "name": cs.name, **agreement(answers, automatic)}


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
    summary="An agent disputes an item of their own evaluation",
)
def create_dispute(
    call_id: str, body: DisputeIn, s: SessionDep, user: Annotated[Principal, Depends(require("disputes:create"))]
):
    call = visible_call(s, call_id, user)  # agents see only their own calls
    ev = _evaluation(s, call)
    if body.item_id not in _item_ids(ev):
        raise HTTPException(422, f"item_id: {body.item_id!r} is not on scorecard {ev.scorecard_id}")
    open_ = s.scalar(
        select(Dispute).where(Dispute.evaluation_id == ev.id, Dispute.item_id == body.item_id, Dispute.status == "open")
    )
    if open_ is not None:
        raise HTTPException(409, f"item {body.item_id} already has an open dispute ({open_.id})")
    d = Dispute(evaluation_id=ev.id, item_id=body.item_id, agent_user_id=user.id, reason=body.reason)
    s.add(d)
    s.flush()
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
    summary="Accept or reject a dispute with a reason (accepted: the item goes back to review)",
)
def resolve_dispute(
    dispute_id: RowId,
    body: DisputeResolveIn,
    s: SessionDep,
    user: Annotated[Principal, Depends(require("disputes:resolve"))],
):
    d = s.get(Dispute, dispute_id)
    if d is None:
        raise HTTPException(404, f"no dispute {dispute_id}")
    ev = s.get(EvaluationRow, d.evaluation_id)
    call = visible_call(s, ev.call_id, user)
    if d.status != "open":
        raise HTTPException(409, f"dispute {dispute_id} is already {d.status}")
    d.status, d.resolution, d.resolved_by, d.resolved_at = body.status, body.reason, user.id, utcnow()
    s.flush()
    refresh_call_score(s, call)
    return _dispute_out(d, call.id)
