"""Putting call documents into the store (idempotent by audio hash) and reading the final evaluation of a call:
the automatic answers with reviewer overrides applied, both kept."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from qa.identifiers import IdentifierError, check_identifier
from qa.llm.cache import transcript_shas
from qa.scoring.totals import Scored, TotalsRules, totals
from qa.store import audit, search
from qa.store.models import Agent, Analysis, Call, Dispute, EvaluationRow, Review, Team, TurnRow, utcnow
from qa.store.scrub import strip_document

log = logging.getLogger("qa.store")
STAGE_FIELDS = {  # analyses rows: (stage key in the document's "stages", document field)
    "metrics": ("metrics", "metrics"),
    "request_type": ("nlp.request_type", "request_type"),
    "emergency": ("nlp.emergency", "emergency"),
    "sentiment": ("nlp.sentiment", "sentiment"),
    "entities": ("nlp.entities", "entities"),
    "speakers": (None, "speakers"),
}


def parse_time(value: str | None) -> dt.datetime | None:
    """ISO 8601 (with or without zone, 'Z' allowed) -> naive UTC; anything else -> None."""
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t
    except (ValueError, OverflowError):  # not a time, or one that leaves the calendar when moved to UTC
        return None


def _ensure_agent(s: Session, agent_id: str | None, team: str | None, move: bool) -> str | None:
    """Create the team and the agent when new. An existing agent changes team only with ``move``; returns the team
    the agent had before when it differs from ``team`` (moved or not), else None."""
    if team and s.get(Team, team) is None:
        s.add(Team(name=team))
        s.flush()
    if not agent_id:
        return None
    agent = s.get(Agent, agent_id)
    if agent is None:
        s.add(Agent(id=agent_id, team=team))
        s.flush()
        return None
    if team and agent.team != team:
        before = agent.team
        if move:
            agent.team = team
        return before or ""
    return None


def _same(a: Any, b: Any) -> bool:
    """Equal as they read back from a JSON column (tuples are lists, keys are text)."""
    return json.loads(json.dumps(a, default=str)) == json.loads(json.dumps(b, default=str))


def import_document(
    s: Session,
    doc: Mapping[str, Any],
    audio_path: str | None = None,
    actor: audit.Actor | None = None,
    action: str = "call.import",
    reassign: bool = False,
) -> tuple[Call, bool]:
    """Insert or update the call in ``doc`` (a call JSON). Returns (call, created). Re-importing the same document is a
    no-op apart from ``updated_at``; a newer analysis of the same audio replaces the old one, and an evaluation with a
    new scorecard hash becomes the current one (the old one and its reviews are kept).

    What a re-import never does silently:
    - change an evaluation that left the draft state (released, acknowledged, disputed, final): a different
      evaluation with the same scorecard becomes a new draft revision (current), the old one stays as it was;
    - move a stored call, or an existing agent, to another agent or team: the stored ones are kept (a warning is
      logged and the audit row says what the metadata asked for) unless ``reassign``.
    A re-import that changes a stored call leaves an audit row (``action``, by ``actor``: the worker or CLI)."""
    audio = doc.get("audio") or {}
    sha = audio.get("sha256")
    if not sha or "turns" not in doc or not isinstance(doc.get("call_id"), str) or not doc["call_id"]:
        raise ValueError("not a call document (no call_id, audio.sha256 or turns)")
    meta = doc.get("metadata") or {}
    for key in ("agent_id", "team", "queue"):
        if meta.get(key) is not None:
            try:
                check_identifier(meta[key], f"metadata.{key}")
            except IdentifierError as exc:
                raise ValueError(str(exc)) from None
    call = s.scalar(select(Call).where(Call.audio_sha256 == sha))
    created = call is None
    agent_id, team = meta.get("agent_id"), meta.get("team")
    changes: dict[str, Any] = {}
    if not created:
        before = {"agent_id": call.agent_id, "team": call.team}
        asked = {"agent_id": agent_id, "team": team}
        if asked != before:
            changes["assignment"] = {"before": before, "metadata": asked, "applied": reassign}
            if not reassign:
                log.warning(
                    "call %s: re-import metadata names agent %r / team %r; keeping %r / %r (reassign to change)",
                    call.id, agent_id, team, call.agent_id, call.team,
                )  # fmt: skip
                agent_id, team = call.agent_id, call.team
    moved_from = _ensure_agent(s, agent_id, team, move=reassign)
    if moved_from is not None:
        changes["agent_team"] = {"agent_id": agent_id, "before": moved_from or None, "metadata": team,
                                 "applied": reassign}  # fmt: skip
        if not reassign:
            log.warning("agent %s is in team %r; the call's metadata says %r (not moved)", agent_id, moved_from, team)
    if created:
        call = Call(id=doc["call_id"], audio_sha256=sha)
        s.add(call)
    elif call.transcript_removed_at is not None:  # retention or erasure removed it: a re-import must not restore it
        doc = strip_document(dict(doc))
    if not created and not _same(call.document, doc):
        changes["document"] = "replaced"
    rt = doc.get("request_type") or {}
    caller = (doc.get("sentiment") or {}).get("caller") or {}
    call.source = "erased" if call.erased_at else str(doc.get("source", ""))
    if call.audio_removed_at is None:
        call.audio_path = audio_path or call.audio_path
    call.duration_s = float(audio.get("duration_s") or 0.0)
    call.channel_layout = str(doc.get("channel_layout", ""))
    call.agent_id, call.team = agent_id, team
    call.queue, call.direction = meta.get("queue"), meta.get("direction")
    call.started_at = parse_time(meta.get("started_at"))
    call.request_type, call.request_type_confidence = rt.get("label"), rt.get("confidence")
    call.emergency = bool((doc.get("emergency") or {}).get("flag"))
    lang = doc.get("language") or {}
    call.language = lang.get("language")
    call.languages = ",".join(lang.get("languages") or ()) or None
    call.caller_sentiment_start = (caller.get("start") or {}).get("score")
    call.caller_sentiment_end = (caller.get("end") or {}).get("score")
    call.caller_sentiment_change = caller.get("change")
    call.caller_negative = caller.get("was_negative")
    call.config_hash = str(doc.get("config_hash", ""))
    redacted = doc.get("redacted") or doc["turns"]
    call.search_text = " ".join(t["text"] for t in doc["turns"]).lower()
    call.search_redacted = " ".join(t.get("text", "") for t in redacted).lower()
    call.search_key = search.key(call.id)
    # kept across re-imports: answers cached about an earlier transcript go with the call's text too
    call.llm_transcripts = sorted(set(call.llm_transcripts or ()) | transcript_shas(doc)) or None
    call.document = dict(doc)
    s.flush()
    search.index_call(s, call)

    if not created:
        s.execute(delete(TurnRow).where(TurnRow.call_id == call.id))
        s.execute(delete(Analysis).where(Analysis.call_id == call.id))
    for i, t in enumerate(doc["turns"] if call.transcript_removed_at is None else []):
        red = redacted[i]["text"] if i < len(redacted) else t["text"]
        s.add(
            TurnRow(
                call_id=call.id,
                idx=i,
                speaker=t["speaker"],
                role=t["role"],
                start=t["start"],
                end=t["end"],
                text=t["text"],
                redacted_text=red,
            )
        )
    stages = doc.get("stages") or {}
    for stage, (key, field) in STAGE_FIELDS.items():
        if doc.get(field) is not None:
            version = stages.get(key, "") if key else (doc.get("speakers") or {}).get("backend", "")
            if stage == "metrics":
                version = str(doc.get("schema_version", ""))
            s.add(Analysis(call_id=call.id, stage=stage, version=str(version), data={"value": doc[field]}))

    ev = doc.get("evaluation")
    if ev:
        row, what = _store_evaluation(s, call, ev)
        if what and not created:
            changes["evaluation"] = what
        refresh_call_score(s, call, row)
    call.updated_at = utcnow()
    if any(k not in ("assignment", "agent_team") or v["applied"] for k, v in changes.items()):
        # a conflict that changed nothing is only logged; with any change it goes in the row too
        audit.record(
            s, actor or audit.Actor.cli(), action, "call", call.id, changes, team=call.team, agent_id=call.agent_id
        )
    return call, created


def _store_evaluation(s: Session, call: Call, ev: Mapping[str, Any]) -> tuple[EvaluationRow, dict | None]:
    """Make ``ev`` the call's current evaluation. Returns the row and what changed (None: nothing). A draft with the
    same scorecard is updated in place; one that left the draft state is never changed: a different ``ev`` becomes
    a new draft revision."""
    card = ev["scorecard"]
    same_card = select(EvaluationRow).where(
        EvaluationRow.call_id == call.id, EvaluationRow.scorecard_hash == card["hash"]
    )
    row = s.scalar(same_card.order_by(EvaluationRow.revision.desc()).limit(1))
    before = current_evaluation(s, call.id)
    what: dict[str, Any] | None
    if row is not None and _same(row.data, ev):
        what = None if before is row else {"made_current": row.id}
    else:
        if row is not None and row.state == "draft":
            what = {"updated_draft": row.id}
        elif row is not None:
            what = {"new_revision": row.revision + 1, "kept": {"id": row.id, "state": row.state}}
            row = EvaluationRow(call_id=call.id, scorecard_hash=card["hash"], revision=row.revision + 1)
        else:
            what = {"new_scorecard": card["hash"]}
            row = EvaluationRow(call_id=call.id, scorecard_hash=card["hash"], revision=1)
        row.scorecard_id, row.scorecard_version = card["id"], card["version"]
        row.auto_score, row.auto_percent, row.auto_passed = ev["score"], ev["percent"], bool(ev["passed"])
        row.data, row.state = dict(ev), row.state or "draft"
        s.add(row)
    s.flush()
    for other in s.scalars(select(EvaluationRow).where(EvaluationRow.call_id == call.id)):
        other.current = other.id == row.id
    s.flush()
    if what is not None:
        what = {**what, "before": before and before.id, "after": row.id}
    return row, what


def current_evaluation(s: Session, call_id: str) -> EvaluationRow | None:
    return s.scalar(select(EvaluationRow).where(EvaluationRow.call_id == call_id, EvaluationRow.current.is_(True)))


def _override(r: Review) -> dict[str, Any]:
    return {
        "answer": r.answer,
        "comment": r.comment,
        "reviewer_id": r.reviewer_id,
        "at": r.created_at.isoformat(),
        "dispute_id": r.dispute_id,
    }


def final_evaluation(ev: EvaluationRow, reviews: list[Review], disputes: Mapping[str, str] | None = None) -> dict:
    """The evaluation with each item's automatic answer, the reviewer's answer (latest override), every override
    in order (``overrides``: a later one never hides an earlier one) and the final answer, and the totals
    recomputed from the final answers with the scorecard's own rules (section weights, pass mark, critical items
    failing the call or the section)."""
    data = ev.data
    rules = data.get("rules") or {}
    disputes = disputes or {}
    latest: dict[str, Review] = {}
    history: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(reviews, key=lambda r: (r.created_at, r.id)):
        latest[r.item_id] = r
        history.setdefault(r.item_id, []).append(_override(r))
    items = []
    for it in data["items"]:
        r = latest.get(it["id"])
        final = r.answer if r else it["answer"]
        possible = float(it.get("points_possible", it["max_points"]))
        scored = final in ("yes", "no")
        items.append(
            {
                **it,
                "automatic_answer": it["answer"],
                "override": None if r is None else _override(r),
                "overrides": history.get(it["id"], []),
                "answer": final,
                "points": possible if final == "yes" else 0.0,
                "max_points": possible if scored else 0.0,
                # an accepted dispute without a new answer (made before answers came with the resolution) goes back
                # to a reviewer
                "needs_review": bool(it["needs_review"]) and r is None
                or (disputes.get(it["id"]) == "accepted" and r is None),
                "dispute": disputes.get(it["id"]),
            }
        )
    auto = {k: data.get(k) for k in ("score", "max_score", "percent", "passed", "critical_failed")}
    if not latest:  # nothing overridden: the engine's own totals
        return {**data, "items": items, "automatic": auto, "reviewed": False}
    t = totals(
        (
            Scored(it["id"], it["section"], it["answer"], it["points"], it["max_points"], bool(it.get("critical")))
            for it in items
        ),
        TotalsRules.of_dict(rules),
        [sec["id"] for sec in data.get("sections") or []],
    )
    return {
        **data,
        "items": items,
        "score": t.score,
        "max_score": t.max_score,
        "percent": t.percent,
        "passed": t.passed,
        "critical_failed": list(t.critical_failed),
        "sections": [
            {"id": sec.id, "score": sec.score, "max_score": sec.max_score, "percent": sec.percent}
            for sec in t.sections
        ],
        "automatic": auto,
        "reviewed": True,
    }


def refresh_call_score(s: Session, call: Call, ev: EvaluationRow | None = None) -> dict | None:
    """Recompute the call's denormalised score columns from its current evaluation and reviews."""
    ev = ev or current_evaluation(s, call.id)
    if ev is None:
        call.score = call.max_score = call.percent = call.passed = call.answers = None
        call.needs_review = False
        call.released_at = None
        return None
    call.released_at = ev.released_at if ev.state != "draft" else None
    reviews = list(s.scalars(select(Review).where(Review.evaluation_id == ev.id)))
    disputes = {d.item_id: d.status for d in s.scalars(select(Dispute).where(Dispute.evaluation_id == ev.id))}
    final = final_evaluation(ev, reviews, disputes)
    call.score, call.max_score, call.percent = final["score"], final["max_score"], final["percent"]
    call.passed = bool(final["passed"])
    call.needs_review = any(it["needs_review"] for it in final["items"])
    call.answers = {it["id"]: it["answer"] for it in final["items"]}
    return final


def store_outcomes(store, outcomes: list) -> list:
    """`qa process --db`: put every good call (new or up to date) in the store as it finishes. A call that cannot be
    stored becomes a failed outcome with the reason; the rest go on."""
    from dataclasses import replace
    from pathlib import Path

    from sqlalchemy.exc import SQLAlchemyError

    from qa import jsonio
    from qa.audio.decode import AUDIO_EXTENSIONS

    out = []
    for o in outcomes:
        if o.status in ("done", "skipped") and o.output:
            try:
                doc = jsonio.loads(Path(o.output).read_bytes())
                src = Path(o.source)
                audio = str(src.resolve()) if src.suffix.lower() in AUDIO_EXTENSIONS and src.is_file() else None
                with store.session() as s:
                    import_document(s, doc, audio, actor=audit.Actor.cli(), action="call.reprocess")
            except (OSError, ValueError, SQLAlchemyError) as exc:
                o = replace(
                    o, status="failed", message=f"{o.source}: not stored in the database ({type(exc).__name__})"
                )
        out.append(o)
    return out
