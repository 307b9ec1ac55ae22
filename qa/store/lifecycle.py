"""The life of an evaluation, as HR processes need it.

    draft --release--> released --acknowledge--> acknowledged --finalize / window closes--> final
                          |  ^
             dispute filed|  |last open dispute resolved
                          v  |
                        disputed

- draft: made by the pipeline (or re-scoring); reviewers override items (each override needs a comment). Agents do
  not see drafts.
- released: a reviewer, supervisor or admin releases it; the agent sees it and may dispute items until
  ``dispute_until`` (release + the dispute window, 14 days by default), at most ``max_disputes_per_item`` times per
  item (1 by default).
- acknowledged: the agent accepts it; no more disputes. A later override sends it back to released (the agent then
  sees the change and may acknowledge or dispute again).
- disputed: at least one dispute is open. The disputed item changes only through the resolution (accepted with the
  new answer, recorded as a review by the resolver); other items can still be overridden.
- final: a supervisor or admin finalizes it (no dispute open), or the window closes without an open dispute. Nothing
  changes after that.

Transitions raise ``LifecycleError`` (the API answers 409) with a message that says why and what to do instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qa.errors import QAError
from qa.store.models import Call, Dispute, EvaluationRow, utcnow

STATES = ("draft", "released", "acknowledged", "disputed", "final")


class LifecycleError(QAError):
    """A step the evaluation's state does not allow."""

    kind = "lifecycle"


@dataclass(frozen=True, slots=True)
class Policy:
    dispute_window: dt.timedelta = dt.timedelta(days=14)
    max_disputes_per_item: int = 1


def effective_state(ev: EvaluationRow, now: dt.datetime | None = None) -> str:
    """The stored state, except that a released or acknowledged evaluation whose dispute window has closed is final."""
    now = now or utcnow()
    if ev.state in ("released", "acknowledged") and ev.dispute_until is not None and now >= ev.dispute_until:
        return "final"
    return ev.state


def _open_disputes(s: Session, ev: EvaluationRow, item_id: str | None = None) -> list[Dispute]:
    q = select(Dispute).where(Dispute.evaluation_id == ev.id, Dispute.status == "open")
    if item_id is not None:
        q = q.where(Dispute.item_id == item_id)
    return list(s.scalars(q))


def release(s: Session, ev: EvaluationRow, call: Call, user_id: int, policy: Policy) -> None:
    if ev.state != "draft":
        raise LifecycleError(f"the evaluation of call {call.id} is already {effective_state(ev)}")
    now = utcnow()
    ev.state, ev.released_at, ev.released_by = "released", now, user_id
    ev.dispute_until = now + policy.dispute_window
    if ev.current:
        call.released_at = now


def acknowledge(s: Session, ev: EvaluationRow, call: Call) -> None:
    state = effective_state(ev)
    if state != "released":
        raise LifecycleError(f"the evaluation of call {call.id} is {state}; only a released one can be acknowledged")
    ev.state, ev.acknowledged_at = "acknowledged", utcnow()


def finalize(s: Session, ev: EvaluationRow, call: Call, user_id: int) -> None:
    state = effective_state(ev)
    if state == "draft":
        raise LifecycleError(f"the evaluation of call {call.id} is a draft: release it first")
    if state == "final":
        raise LifecycleError(f"the evaluation of call {call.id} is already final")
    if _open_disputes(s, ev):
        raise LifecycleError(f"the evaluation of call {call.id} has open disputes: resolve them first")
    ev.state, ev.finalized_at, ev.finalized_by = "final", utcnow(), user_id


def check_override(s: Session, ev: EvaluationRow, call: Call, item_id: str) -> None:
    """An override is refused on a final evaluation and on an item with an open dispute."""
    if effective_state(ev) == "final":
        raise LifecycleError(f"the evaluation of call {call.id} is final: it can no longer change")
    open_ = _open_disputes(s, ev, item_id)
    if open_:
        raise LifecycleError(
            f"item {item_id} has an open dispute ({open_[0].id}): change it through the resolution "
            f"(POST /disputes/{open_[0].id}/resolve with status accepted and the new answer)"
        )


def after_override(ev: EvaluationRow) -> None:
    if ev.state == "acknowledged":  # the agent acknowledged something else: they see the change and answer again
        ev.state, ev.acknowledged_at = "released", None


def check_dispute(s: Session, ev: EvaluationRow, call: Call, item_id: str, policy: Policy) -> None:
    state = effective_state(ev)
    if state == "draft":
        raise LifecycleError(f"call {call.id} has no released evaluation")
    if state == "acknowledged":
        raise LifecycleError(f"you acknowledged the evaluation of call {call.id}: it can no longer be disputed")
    if state == "final":
        closed = ev.dispute_until.date().isoformat() if ev.dispute_until else "-"
        raise LifecycleError(f"the evaluation of call {call.id} is final (the dispute window closed on {closed})")
    open_ = _open_disputes(s, ev, item_id)
    if open_:
        raise LifecycleError(f"item {item_id} already has an open dispute ({open_[0].id})")
    n = s.scalar(select(func.count()).where(Dispute.evaluation_id == ev.id, Dispute.item_id == item_id)) or 0
    if n >= policy.max_disputes_per_item:
        raise LifecycleError(
            f"item {item_id} was already disputed {n} time(s): the limit is {policy.max_disputes_per_item}"
        )


def after_dispute(ev: EvaluationRow) -> None:
    ev.state = "disputed"


def after_resolution(s: Session, ev: EvaluationRow) -> None:
    if ev.state == "disputed" and not _open_disputes(s, ev):
        ev.state = "released"  # final once the window closes (or a supervisor finalizes it)
