"""What people do to an evaluation, once: override an item, move the evaluation through its lifecycle, file a
dispute, resolve one. The API's handlers call these after their role and object checks (and the console calls those
handlers), so the lifecycle rules (qa/store/lifecycle.py), the rows written, the call's denormalised score and the
audit row are the same whoever asks. Errors: ``LifecycleError`` (a step the state does not allow; the API answers
409), ``NotOnScorecard`` and ``BadResolution`` (the request names something that is not there, or contradicts itself).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.errors import QAError
from qa.store import audit, lifecycle
from qa.store.audit import Actor
from qa.store.calls import final_evaluation, refresh_call_score
from qa.store.lifecycle import LifecycleError
from qa.store.models import Call, Dispute, EvaluationRow, Review, utcnow


class NotOnScorecard(QAError):
    """An item id that the evaluation's scorecard does not have."""

    kind = "not_found"

    def __init__(self, ev: EvaluationRow, item_id: str):
        self.item_id, self.scorecard_id, self.items = item_id, ev.scorecard_id, item_ids(ev)
        super().__init__(f"item {item_id!r} is not on scorecard {ev.scorecard_id}")


class BadResolution(QAError):
    """A resolution that contradicts itself (accepted without the new answer, rejected with one)."""

    kind = "input"


def item_ids(ev: EvaluationRow) -> list[str]:
    return [it["id"] for it in ev.data["items"]]


def answers(s: Session, ev: EvaluationRow) -> dict[str, str | None]:
    """The final answer of every item: the automatic one, or the latest review's."""
    reviews = list(s.scalars(select(Review).where(Review.evaluation_id == ev.id)))
    return {it["id"]: it["answer"] for it in final_evaluation(ev, reviews)["items"]}


def override(
    s: Session, call: Call, ev: EvaluationRow, item_id: str, answer: str, comment: str, reviewer_id: int, actor: Actor
) -> None:
    """A reviewer's answer for one item, with their comment (a review row; the automatic answer stays)."""
    if item_id not in item_ids(ev):
        raise NotOnScorecard(ev, item_id)
    lifecycle.check_override(s, ev, call, item_id)
    before = answers(s, ev)[item_id]
    s.add(Review(evaluation_id=ev.id, item_id=item_id, answer=answer, comment=comment, reviewer_id=reviewer_id))
    state = ev.state
    lifecycle.after_override(ev)
    s.flush()
    refresh_call_score(s, call, ev)
    details: dict[str, object] = {"item": item_id, "before": before, "after": answer, "comment": comment}
    if ev.state != state:
        details["state"] = {"before": state, "after": ev.state}
    audit.record(s, actor, "evaluation.override", "call", call.id, details, team=call.team, agent_id=call.agent_id)


Step = Callable[[Session, EvaluationRow, Call], None]


def transition(s: Session, call: Call, ev: EvaluationRow, action: str, step: Step, actor: Actor) -> None:
    """One lifecycle step (``lifecycle.release`` / ``acknowledge`` / ``finalize`` with its arguments bound)."""
    before = lifecycle.effective_state(ev)
    step(s, ev, call)
    s.flush()
    refresh_call_score(s, call, ev)
    details = {"evaluation_id": ev.id, "before": before, "after": lifecycle.effective_state(ev)}
    audit.record(s, actor, action, "call", call.id, details, team=call.team, agent_id=call.agent_id)


def file_dispute(
    s: Session,
    call: Call,
    ev: EvaluationRow,
    item_id: str,
    reason: str,
    agent_user_id: int,
    policy: lifecycle.Policy,
    actor: Actor,
) -> Dispute:
    """An agent disputes one item of their released evaluation (within the window, limited per item)."""
    if item_id not in item_ids(ev):
        raise NotOnScorecard(ev, item_id)
    lifecycle.check_dispute(s, ev, call, item_id, policy)
    d = Dispute(evaluation_id=ev.id, item_id=item_id, agent_user_id=agent_user_id, reason=reason)
    s.add(d)
    lifecycle.after_dispute(ev)
    s.flush()
    details = {"call_id": call.id, "item": item_id, "reason": reason}
    audit.record(s, actor, "dispute.create", "dispute", d.id, details, team=call.team, agent_id=call.agent_id)
    return d


def resolve_dispute(
    s: Session,
    d: Dispute,
    ev: EvaluationRow,
    call: Call,
    status: str,
    answer: str | None,
    reason: str,
    resolver_id: int,
    actor: Actor,
) -> None:
    """Accept a dispute with the item's new answer (a review by the resolver), or reject it; with a reason."""
    if d.status != "open":
        raise LifecycleError(f"dispute {d.id} is already {d.status}")
    if status == "accepted" and answer is None:
        raise BadResolution("answer: required when accepting a dispute (the item's new answer)")
    if status == "rejected" and answer is not None:
        raise BadResolution("answer: only with status accepted (a rejected dispute changes nothing)")
    before = answers(s, ev)[d.item_id]
    d.status, d.resolution, d.resolved_by, d.resolved_at = status, reason, resolver_id, utcnow()
    if answer is not None:
        comment = f"dispute {d.id} accepted: {reason}"
        s.add(
            Review(
                evaluation_id=ev.id,
                item_id=d.item_id,
                answer=answer,
                comment=comment,
                reviewer_id=resolver_id,
                dispute_id=d.id,
            )
        )
    s.flush()
    lifecycle.after_resolution(s, ev)
    refresh_call_score(s, call)  # the current evaluation (a dispute may be about an older one)
    details = {
        "call_id": call.id,
        "item": d.item_id,
        "status": status,
        "reason": reason,
        "before": before,
        "after": answer or before,
    }
    audit.record(s, actor, "dispute.resolve", "dispute", d.id, details, team=call.team, agent_id=call.agent_id)
