"""What one user sees of a call: the stored document cut to their role, personal data redacted unless they may see
it (turn text, entities, and the quotes in the evaluation's evidence)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.nlp.redact import PII_TYPES
from qa.scoring.engine import norm_tokens
from qa.store.calls import current_evaluation, final_evaluation
from qa.store.models import Call, Dispute, Review

_DIGITS = re.compile(r"\d+")


def pii_tokens(doc: Mapping[str, Any]) -> dict[int, dict[str, str]]:
    """turn index -> {normalised token: placeholder type} for the personal data found in that turn."""
    out: dict[int, dict[str, str]] = {}
    turns = doc.get("turns") or []
    for e in doc.get("entities") or []:
        if e["type"] not in PII_TYPES or e["turn"] >= len(turns):
            continue
        words = turns[e["turn"]].get("words") or []
        toks = set(norm_tokens(e["value"]))
        for w in words[e["first_word"] : e["last_word"] + 1]:
            toks.update(norm_tokens(w["word"]))
        if e["type"] == "ADDRESS":  # only the house number is personal (as in the redacted transcript)
            toks = {t for t in toks if t.isdigit()}
        marks = out.setdefault(e["turn"], {})
        for t in toks:
            marks[t] = e["type"]
        if e["type"] in ("PHONE", "SSN", "CARD", "DOB"):
            marks["\x00digits:" + "".join(_DIGITS.findall(e["value"]))] = e["type"]
    return out


def redact_quote(quote: str, marks: Mapping[str, str]) -> str:
    if not marks:
        return quote
    digit_runs = [(k[8:], v) for k, v in marks.items() if k.startswith("\x00digits:") and len(k) > 8]
    out: list[str] = []
    for tok in quote.split():
        kind = marks.get(tok)
        if kind is None and tok.isdigit():
            kind = next((v for d, v in digit_runs if tok in d), None)
        tag = f"[{kind}]" if kind else tok
        if not (kind and out and out[-1] == tag):
            out.append(tag)
    return " ".join(out)


def redact_evaluation(ev: dict[str, Any], doc: Mapping[str, Any]) -> dict[str, Any]:
    marks = pii_tokens(doc)
    items = []
    for it in ev["items"]:
        evidence = [
            {**e, "quote": redact_quote(e["quote"], marks.get(e["turn"], {}))} if e.get("turn") is not None else e
            for e in it.get("evidence") or []
        ]
        items.append({**it, "evidence": evidence})
    return {**ev, "items": items}


def evaluation_view(s: Session, call: Call, pii: bool) -> dict[str, Any] | None:
    ev = current_evaluation(s, call.id)
    if ev is None:
        return None
    reviews = list(s.scalars(select(Review).where(Review.evaluation_id == ev.id)))
    disputes = {d.item_id: d.status for d in s.scalars(select(Dispute).where(Dispute.evaluation_id == ev.id))}
    final = final_evaluation(ev, reviews, disputes)
    final["evaluation_id"] = ev.id
    return final if pii else redact_evaluation(final, call.document)


def call_view(s: Session, call: Call, pii: bool, transcript: bool) -> dict[str, Any]:
    doc = call.document
    turns = None
    if transcript:
        turns = [
            {
                "index": t.idx,
                "speaker": t.speaker,
                "role": t.role,
                "start": t.start,
                "end": t.end,
                "text": t.text if pii else t.redacted_text,
            }
            for t in call.turns
        ]
    entities = doc.get("entities") or []
    if not pii:
        entities = [{**e, "value": f"[{e['type']}]"} if e["type"] in PII_TYPES else e for e in entities]
    if not transcript:
        entities = None
    return {
        **summary(call),
        "source": call.source if pii else call.source.rsplit("/", 1)[-1],
        "channel_layout": call.channel_layout,
        "redacted": not pii,
        "turns": turns,
        "metrics": doc.get("metrics"),
        "request_type_detail": _reason_redacted(doc.get("request_type"), pii),
        "sentiment": doc.get("sentiment"),
        "entities": entities,
        "emergency_detail": doc.get("emergency"),
        "evaluation": evaluation_view(s, call, pii),
        "stages": doc.get("stages") or {},
        "warnings": doc.get("warnings") or [],
    }


def _reason_redacted(pred: Mapping[str, Any] | None, pii: bool) -> dict[str, Any] | None:
    if pred is None or pii or not pred.get("reason"):
        return dict(pred) if pred else None
    return {**pred, "reason": "a rule decided the label (quote hidden: may hold personal data)"}


def summary(call: Call) -> dict[str, Any]:
    return {
        "id": call.id,
        "agent_id": call.agent_id,
        "team": call.team,
        "queue": call.queue,
        "direction": call.direction,
        "started_at": call.started_at,
        "duration_s": call.duration_s,
        "request_type": call.request_type,
        "emergency": call.emergency,
        "caller_sentiment_change": call.caller_sentiment_change,
        "caller_negative": call.caller_negative,
        "score": call.score,
        "max_score": call.max_score,
        "percent": call.percent,
        "passed": call.passed,
        "needs_review": call.needs_review,
    }
