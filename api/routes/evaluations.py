"""A call's evaluation: read it (cut to the role), override an item (with a comment), and move it through its
lifecycle (release to the agent, acknowledge, finalize; see qa/store/lifecycle.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy.orm import Session

from api.deps import CallId, ItemId, SessionDep, actor_of, require, visible_call
from api.permissions import Principal, released_only, text_access
from api.schemas import EvaluationOut, OverrideIn
from api.views import evaluation_view
from qa.store import lifecycle, reviews
from qa.store.calls import current_evaluation
from qa.store.models import Call, EvaluationRow

router = APIRouter(tags=["evaluations"])


def evaluation_of(s: Session, call: Call, user: Principal | None = None) -> EvaluationRow:
    ev = current_evaluation(s, call.id)
    if ev is None:
        raise HTTPException(404, f"call {call.id} has no evaluation (no scorecard applied)")
    if user is not None and released_only(user) and ev.state == "draft":
        raise HTTPException(404, f"call {call.id} has no released evaluation")
    return ev


def policy(request: Request) -> lifecycle.Policy:
    return request.app.state.settings.lifecycle


def _view(s: Session, call: Call, user: Principal) -> dict:
    view = evaluation_view(s, call, text_access(user), released_only(user))
    if view is None:  # evaluation_of() has already answered 404 for what this user may not see
        raise HTTPException(404, f"call {call.id} has no evaluation")
    return view


@router.get(
    "/calls/{call_id}/evaluation",
    response_model=EvaluationOut,
    summary="The evaluation: answers, overrides with history, disputes, state",
)
def get_evaluation(call_id: CallId, s: SessionDep, user: Annotated[Principal, Depends(require("evaluations:read"))]):
    call = visible_call(s, call_id, user)
    evaluation_of(s, call, user)
    return _view(s, call, user)


@router.put(
    "/calls/{call_id}/evaluation/items/{item_id}",
    response_model=EvaluationOut,
    summary="Override one item's answer, with a comment (refused while the item is disputed or the evaluation final)",
)
def override_item(
    call_id: CallId,
    item_id: ItemId,
    body: OverrideIn,
    request: Request,
    s: SessionDep,
    user: Annotated[Principal, Depends(require("evaluations:override"))],
):
    call = visible_call(s, call_id, user)
    ev = evaluation_of(s, call)
    try:
        reviews.override(s, call, ev, item_id, body.answer, body.comment, user.id, actor_of(user, request))
    except reviews.NotOnScorecard as exc:
        raise HTTPException(404, f"{exc} ({', '.join(exc.items)})") from None
    return _view(s, call, user)


def _transition(action: str, call_id: str, request: Request, s: Session, user: Principal, step: reviews.Step) -> dict:
    call = visible_call(s, call_id, user)
    ev = evaluation_of(s, call, user)
    reviews.transition(s, call, ev, action, step, actor_of(user, request))
    return _view(s, call, user)


@router.post(
    "/calls/{call_id}/evaluation/release",
    response_model=EvaluationOut,
    summary="Release the evaluation to the agent (opens the dispute window)",
)
def release(
    call_id: CallId,
    request: Request,
    s: SessionDep,
    user: Annotated[Principal, Depends(require("evaluations:release"))],
):
    return _transition(
        "evaluation.release",
        call_id,
        request,
        s,
        user,
        lambda s, ev, call: lifecycle.release(s, ev, call, user.id, policy(request)),
    )


@router.post(
    "/calls/{call_id}/evaluation/acknowledge",
    response_model=EvaluationOut,
    summary="The agent accepts their released evaluation (no disputes after that)",
)
def acknowledge(
    call_id: CallId,
    request: Request,
    s: SessionDep,
    user: Annotated[Principal, Depends(require("evaluations:acknowledge"))],
):
    return _transition("evaluation.acknowledge", call_id, request, s, user, lifecycle.acknowledge)


@router.post(
    "/calls/{call_id}/evaluation/finalize",
    response_model=EvaluationOut,
    summary="Make a released evaluation final (no dispute may be open); nothing changes after that",
)
def finalize(
    call_id: CallId,
    request: Request,
    s: SessionDep,
    user: Annotated[Principal, Depends(require("evaluations:finalize"))],
):
    return _transition(
        "evaluation.finalize",
        call_id,
        request,
        s,
        user,
        lambda s, ev, call: lifecycle.finalize(s, ev, call, user.id),
    )
