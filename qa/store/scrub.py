"""Removing a call's recording and its transcript text (and the personal data found in it) while keeping what the
centre's records need: scores, evaluations, reviews, disputes, metrics and the audit trail. Used by retention
(``qa retention apply``) and by erasure (``qa erase --call ID``).

What goes with the transcript: the turn rows (text and redacted text), the document's turns' text and words, the
redacted turns, the entities, the sentence vectors, the evidence quotes of every evaluation of the call, the
request-type reason and the emergency cue (both quote the caller), the LLM stage's summary and ``ask`` answers, both
search columns, and the recording's file name (the call's and the document's source, the job's path: a file name can
name the caller). What stays: turn times
and roles, metrics, request type and emergency flag, sentiment scores, every answer and score.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from qa.store import search
from qa.store.models import Analysis, Call, EvaluationRow, Job, TurnRow, utcnow

log = logging.getLogger("qa.store")
TURN_KEEP = ("speaker", "role", "start", "end")
REMOVED = "removed"  # what stands in for a file name that went with the transcript


def textless(evidence: Mapping[str, Any]) -> dict[str, Any]:
    """Evidence without the words said: no quote, and no matched example either (with its similarity a semantic
    match's example says nearly word for word what was said). Time, rule and score stay."""
    return {**evidence, "quote": None} | ({"example": None} if "example" in evidence else {})


def strip_evaluation(ev: dict[str, Any]) -> dict[str, Any]:
    items = [{**it, "evidence": [textless(e) for e in it.get("evidence") or []]} for it in ev.get("items") or []]
    return {**ev, "items": items}


def strip_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The call document without transcript text or personal data (a new dict; ``doc`` is not changed)."""
    d = copy.deepcopy(doc)
    d["turns"] = [{k: t[k] for k in TURN_KEEP if k in t} | {"text": ""} for t in d.get("turns") or []]
    d["redacted"] = None
    d["entities"] = []
    d["sentences"] = None  # sentence vectors are derived from the words: they go with them
    d["summary"] = None  # the LLM stage's summary and its answers retell and quote the call
    d["asks"] = []
    if isinstance(d.get("request_type"), dict):
        d["request_type"]["reason"] = None
    if isinstance(d.get("emergency"), dict):
        d["emergency"]["cue"] = None
    if isinstance(d.get("evaluation"), dict):
        d["evaluation"] = strip_evaluation(d["evaluation"])
    if d.get("source"):
        d["source"] = REMOVED  # the recording's file name can name the caller (a phone number, a name)
    d["transcript_removed"] = True
    return d


def strip_transcript(s: Session, call: Call) -> None:
    """Remove the transcript text of ``call`` everywhere it is stored (inside the caller's transaction)."""
    s.execute(delete(TurnRow).where(TurnRow.call_id == call.id))
    call.document = strip_document(call.document)
    call.search_text = call.search_redacted = ""
    search.index_call(s, call)
    if call.source != "erased":
        call.source = REMOVED
    for job in s.scalars(select(Job).where(Job.call_id == call.id)):
        job.path, job.error = REMOVED, None  # the upload's path and any message quoting it
    for ev in s.scalars(select(EvaluationRow).where(EvaluationRow.call_id == call.id)):
        ev.data = strip_evaluation(ev.data)
    for a in s.scalars(select(Analysis).where(Analysis.call_id == call.id)):
        value = a.data.get("value")
        if a.stage == "entities":
            a.data = {"value": []}
        elif a.stage == "request_type" and isinstance(value, dict):
            a.data = {"value": {**value, "reason": None}}
        elif a.stage == "emergency" and isinstance(value, dict):
            a.data = {"value": {**value, "cue": None}}
    call.transcript_removed_at = call.transcript_removed_at or utcnow()


def owned(path: Path, data_dirs: list[Path]) -> bool:
    """True when ``path`` lies inside one of callqa's data folders (where the API keeps uploads)."""
    p = path.resolve()
    return any(p.is_relative_to(d.resolve()) for d in data_dirs)


def remove_audio(call: Call, data_dirs: list[Path], delete_external: bool) -> dict[str, Any]:
    """Delete the recording the store points to (when callqa owns it, or with ``delete_external``) and forget the
    path. Returns what happened: ``audio`` (the outcome, for the audit row: never the file name, which may name the
    caller) and ``path`` (for the operator's report only)."""
    if not call.audio_path:
        return {"audio": "none"}
    p = Path(call.audio_path)
    outcome = "left in place (outside the data folder)"
    if owned(p, data_dirs) or delete_external:
        try:
            p.unlink()
            outcome = "deleted"
        except FileNotFoundError:
            outcome = "already gone"
    call.audio_path = None
    call.audio_removed_at = call.audio_removed_at or utcnow()
    return {"audio": outcome, "path": str(p)}
