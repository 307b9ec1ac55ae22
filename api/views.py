"""What one user sees of a call: the stored call and its current evaluation, cut to a level of access to its text
(the API's and the console's presentation; the redaction of text itself is qa/nlp/redact.py).

``TextAccess.RAW``: everything. ``REDACTED``: personal data replaced by typed placeholders in turn text, entities,
evidence quotes, the emergency cue; the request-type reason hidden. ``NONE``: no transcript text anywhere (no turns,
no entities, no quotes, no cue, no reason): answers, scores, metrics and labels only. Which role gets which level is
decided in ``api/permissions.py``; these helpers only apply a level.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.nlp.redact import PII_TYPES, pii_tokens, redact_quote
from qa.store.calls import current_evaluation, final_evaluation
from qa.store.lifecycle import effective_state
from qa.store.models import Call, Dispute, EvaluationRow, Review
from qa.store.scrub import textless


class TextAccess(Enum):
    RAW = "raw"
    REDACTED = "redacted"
    NONE = "none"


def cut_evaluation(ev: dict[str, Any], doc: Mapping[str, Any], access: TextAccess) -> dict[str, Any]:
    """Evidence quotes as ``access`` allows: raw, redacted, or none at all (``quote`` null)."""
    if access is TextAccess.RAW:
        return ev
    marks = pii_tokens(doc) if access is TextAccess.REDACTED else {}
    items = []
    for it in ev["items"]:
        evidence = []
        for e in it.get("evidence") or []:
            if access is TextAccess.NONE:
                evidence.append(textless(e))
            elif e.get("turn") is not None and e.get("quote"):
                evidence.append({**e, "quote": redact_quote(e["quote"], marks.get(e["turn"], {}))})
            else:
                evidence.append(e)
        items.append({**it, "evidence": evidence})
    return {**ev, "items": items}


def redact_evaluation(ev: dict[str, Any], doc: Mapping[str, Any]) -> dict[str, Any]:
    return cut_evaluation(ev, doc, TextAccess.REDACTED)


def lifecycle_view(ev: EvaluationRow) -> dict[str, Any]:
    return {
        "state": effective_state(ev),
        "released_at": ev.released_at,
        "dispute_until": ev.dispute_until,
        "acknowledged_at": ev.acknowledged_at,
        "finalized_at": ev.finalized_at,
    }


def evaluation_view(s: Session, call: Call, access: TextAccess, released_only: bool = False) -> dict[str, Any] | None:
    """The current evaluation with overrides (and their history), disputes per item and the lifecycle state, cut to
    ``access``. ``released_only`` (agents): None while it is a draft."""
    ev = current_evaluation(s, call.id)
    if ev is None or (released_only and ev.state == "draft"):
        return None
    reviews = list(s.scalars(select(Review).where(Review.evaluation_id == ev.id)))
    rows = list(s.scalars(select(Dispute).where(Dispute.evaluation_id == ev.id).order_by(Dispute.id)))
    final = final_evaluation(ev, reviews, {d.item_id: d.status for d in rows})
    per_item: dict[str, list[dict[str, Any]]] = {}
    for d in rows:
        per_item.setdefault(d.item_id, []).append(
            {"id": d.id, "status": d.status, "created_at": d.created_at, "resolved_at": d.resolved_at}
        )
    final["items"] = [{**it, "disputes": per_item.get(it["id"], [])} for it in final["items"]]
    final["evaluation_id"] = ev.id
    final["lifecycle"] = lifecycle_view(ev)
    return cut_evaluation(final, call.document, access)


def call_view(s: Session, call: Call, access: TextAccess, released_only: bool = False) -> dict[str, Any]:
    doc = call.document
    turns = None
    if access is not TextAccess.NONE:
        turns = [
            {
                "index": t.idx,
                "speaker": t.speaker,
                "role": t.role,
                "start": t.start,
                "end": t.end,
                "text": t.text if access is TextAccess.RAW else t.redacted_text,
            }
            for t in call.turns
        ]
    entities: list[dict[str, Any]] | None = doc.get("entities") or []
    if access is TextAccess.REDACTED:
        entities = [{**e, "value": f"[{e['type']}]"} if e["type"] in PII_TYPES else e for e in entities or []]
    elif access is TextAccess.NONE:
        entities = None
    return {
        **summary(call, released_only),
        "source": call.source if access is TextAccess.RAW else call.source.rsplit("/", 1)[-1],
        "channel_layout": call.channel_layout,
        "redacted": access is not TextAccess.RAW,
        "turns": turns,
        "metrics": doc.get("metrics"),
        "request_type_detail": cut_reason(doc.get("request_type"), access),
        "sentiment": doc.get("sentiment"),
        "entities": entities,
        "emergency_detail": cut_emergency(doc, access),
        # written by the LLM stage from the redacted turns: for roles that read transcripts; never for HR
        "summary": doc.get("summary") if access is not TextAccess.NONE else None,
        "evaluation": evaluation_view(s, call, access, released_only),
        "stages": doc.get("stages") or {},
        "warnings": doc.get("warnings") or [],
    }


def cut_reason(pred: Mapping[str, Any] | None, access: TextAccess) -> dict[str, Any] | None:
    """The request type's ``reason`` quotes the caller: kept raw, else replaced by a plain statement."""
    if pred is None:
        return None
    if access is TextAccess.RAW or not pred.get("reason"):
        return dict(pred)
    return {**pred, "reason": "a rule decided the label (quote hidden: may hold personal data)"}


def cut_emergency(doc: Mapping[str, Any], access: TextAccess) -> dict[str, Any] | None:
    """The emergency ``cue`` is the caller's words: raw, redacted like the turn it came from, or none."""
    em = doc.get("emergency")
    if em is None or access is TextAccess.RAW or not em.get("cue"):
        return dict(em) if em else None
    if access is TextAccess.NONE:
        return {**em, "cue": None}
    marks = pii_tokens(doc).get(em.get("turn"), {}) if em.get("turn") is not None else {}
    return {**em, "cue": redact_quote(em["cue"], marks)}


EVALUATION_FIELDS = ("score", "max_score", "percent", "passed", "needs_review")


def summary(call: Call, released_only: bool = False) -> dict[str, Any]:
    """The list row. ``released_only`` (agents): the score fields are empty while the evaluation is a draft."""
    hidden = released_only and call.released_at is None
    return {
        "id": call.id,
        "agent_id": call.agent_id,
        "team": call.team,
        "queue": call.queue,
        "direction": call.direction,
        "started_at": call.started_at,
        "duration_s": call.duration_s,
        "request_type": call.request_type,
        "language": call.language,
        "languages": call.languages.split(",") if call.languages else [],
        "emergency": call.emergency,
        "caller_sentiment_change": call.caller_sentiment_change,
        "caller_negative": call.caller_negative,
        "score": None if hidden else call.score,
        "max_score": None if hidden else call.max_score,
        "percent": None if hidden else call.percent,
        "passed": None if hidden else call.passed,
        "needs_review": False if hidden else call.needs_review,
        "evaluation_released": call.released_at is not None,
    }
