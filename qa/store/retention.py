"""Retention (a city's records schedule) and erasure (a records request about one call).

The policy is its own small YAML file, never part of the pipeline configuration: the pipeline's config is hashed
into every result, and how long the centre keeps recordings must not make a call "out of date"::

    audio_days: 90          # recordings: deleted (callqa's own copies) and forgotten after 90 days
    transcripts_days: 365   # transcript text and the personal data found in it
    scores_days: null       # the call row with its evaluations, reviews and disputes; null = keep for good

Ages count from when the call started (or, without a start time, from when it was stored). ``apply`` is a dry run
unless ``execute``; each call it changes gets an audit row, and the run gets one more with the totals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qa.errors import ConfigError
from qa.llm.cache import AnswerCache, forget_call, transcript_shas
from qa.store import audit, search
from qa.store.audit import Actor
from qa.store.db import Store
from qa.store.models import Call, utcnow
from qa.store.scrub import remove_audio, strip_transcript
from qa.yamlfile import read_yaml_mapping

BATCH = 100


class RetentionPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    audio_days: int | None = Field(None, ge=1, le=36500, description="Days a recording is kept; null = for good.")
    transcripts_days: int | None = Field(None, ge=1, le=36500, description="Days transcript text is kept.")
    scores_days: int | None = Field(None, ge=1, le=36500, description="Days a call's scores and evaluations are kept.")


def load_policy(path: Path | None, **overrides: int | None) -> RetentionPolicy:
    data: dict[str, Any] = {}
    if path is not None:
        data, _ = read_yaml_mapping(path, "retention policy", ConfigError, "audio_days, transcripts_days, scores_days")
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return RetentionPolicy(**data)
    except ValidationError as exc:
        where = str(path) if path else "options"
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{where}: {problems}") from None


def _age(now: dt.datetime, days: int):
    return func.coalesce(Call.started_at, Call.created_at) < now - dt.timedelta(days=days)


@dataclass
class Plan:
    audio: list[str] = field(default_factory=list)
    transcripts: list[str] = field(default_factory=list)
    scores: list[str] = field(default_factory=list)


def plan(s: Session, policy: RetentionPolicy, now: dt.datetime | None = None) -> Plan:
    now = now or utcnow()
    p = Plan()
    if policy.scores_days:
        p.scores = list(s.scalars(select(Call.id).where(_age(now, policy.scores_days)).order_by(Call.id)))
    gone = set(p.scores)
    if policy.audio_days:
        q = select(Call.id).where(Call.audio_path.is_not(None), _age(now, policy.audio_days))
        p.audio = [c for c in s.scalars(q.order_by(Call.id)) if c not in gone]
    if policy.transcripts_days:
        q = select(Call.id).where(Call.transcript_removed_at.is_(None), _age(now, policy.transcripts_days))
        p.transcripts = [c for c in s.scalars(q.order_by(Call.id)) if c not in gone]
    return p


@dataclass
class Report:
    plan: Plan
    executed: bool
    external: list[str] = field(default_factory=list)  # recordings outside the data folder, left in place

    def counts(self) -> dict[str, int]:
        return {
            "audio": len(self.plan.audio),
            "transcripts": len(self.plan.transcripts),
            "calls": len(self.plan.scores),
        }


def apply(
    store: Store,
    policy: RetentionPolicy,
    execute: bool = False,
    actor: Actor | None = None,
    data_dirs: list[Path] | None = None,
    delete_external: bool = False,
    answers: AnswerCache | None = None,
) -> Report:
    actor = actor or Actor.cli()
    with store.session() as s:
        p = plan(s, policy)
    report = Report(p, execute)
    if not execute:
        return report
    data_dirs = data_dirs or []
    work: dict[str, set[str]] = {}
    for kind, ids in (("audio", p.audio), ("transcript", p.transcripts), ("call", p.scores)):
        for cid in ids:
            work.setdefault(cid, set()).add(kind)
    ids = sorted(work)
    for start in range(0, len(ids), BATCH):
        with store.session() as s:
            for cid in ids[start : start + BATCH]:
                call = s.get(Call, cid)
                if call is None:
                    continue
                kinds = work[cid]
                details: dict[str, Any] = {"removed": sorted(kinds)}
                if "call" in kinds or "transcript" in kinds:  # the LLM's answers about its text go with the text
                    details.update(_forget_answers(answers, call))
                if "call" in kinds:
                    details.update(_audio(call, data_dirs, delete_external, report))
                    search.forget(s, call.id)
                    s.delete(call)
                else:
                    if "audio" in kinds:
                        details.update(_audio(call, data_dirs, delete_external, report))
                    if "transcript" in kinds:
                        strip_transcript(s, call)
                audit.record(s, actor, "retention.apply", "call", cid, details, team=call.team, agent_id=call.agent_id)
    with store.session() as s:
        audit.record(s, actor, "retention.run", "retention", None, {"policy": policy.model_dump(), **report.counts()})
    return report


def _audio(call: Call, data_dirs: list[Path], delete_external: bool, report: Report) -> dict[str, Any]:
    out = remove_audio(call, data_dirs, delete_external)
    if out.get("audio", "").startswith("left in place"):
        report.external.append(out["path"])
    out.pop("path", None)
    return out


def _forget_answers(answers: AnswerCache | None, call: Call) -> dict[str, Any]:
    """Remove the LLM's cached answers about every transcript of the call; the audit detail (which cache folder, how
    many files; none: no cache folder was given)."""
    if answers is None:
        return {"llm_cache": None}
    shas = set(call.llm_transcripts or ()) | transcript_shas(call.document or {})
    removed = forget_call(answers, shas)
    call.llm_transcripts = None
    return {"llm_cache": str(answers.folder), "llm_answers_removed": removed}


def erase_call(
    store: Store,
    call_id: str,
    reason: str,
    actor: Actor | None = None,
    data_dirs: list[Path] | None = None,
    delete_external: bool = False,
    answers: AnswerCache | None = None,
) -> dict[str, Any]:
    """A records request: the recording and all transcript text and personal data of one call go; the call row
    stays with its id, agent, team, times, metrics, scores, evaluations, reviews and disputes, marked erased (a
    re-import of the same recording cannot bring the text back). Returns what was done."""
    from qa.store.voiceprints import forget_source_everywhere

    actor = actor or Actor.cli()
    with store.session() as s:
        call = s.get(Call, call_id)
        if call is None:
            raise ConfigError(f"--call: no call {call_id!r}")
        forgotten = _forget_answers(answers, call)  # the LLM's cached answers about this call's text, first: a
        audio = remove_audio(call, data_dirs or [], delete_external)  # failure there leaves the recording in place
        strip_transcript(s, call)
        changed = forget_source_everywhere(s, call_id, "call erased", actor)  # the voice it gave a voiceprint
        call.source = "erased"
        call.erased_at = utcnow()
        path = audio.pop("path", None)
        details = {"reason": reason, **audio, "removed": ["audio", "transcript", "entities", "quotes", "source"]}
        details["voiceprints_changed"] = changed
        details.update(forgotten)
        audit.record(s, actor, "call.erase", "call", call_id, details, team=call.team, agent_id=call.agent_id)
    return {**details, "external_path": path if audio.get("audio", "").startswith("left") else None}
