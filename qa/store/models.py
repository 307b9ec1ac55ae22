"""The results store: SQLAlchemy 2 tables. Migrations in ``qa/store/migrations`` are the source of truth for the
schema; a test checks that these models and the migrations agree.

Times are UTC. JSON columns hold the parts people read whole (an evaluation's items, a stage's output); what people
filter and sort on (agent, team, date, request type, score, pass/fail, sentiment, emergency, needs review) is a column
with an index.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Team(Base):
    __tablename__ = "teams"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # the centre's agent id (manifest agent_id)
    name: Mapped[str | None] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(ForeignKey("teams.name"), index=True)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))  # admin | reviewer | supervisor | hr | agent
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    team: Mapped[str | None] = mapped_column(ForeignKey("teams.name"))  # a supervisor's team, when set
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the API key; the key is never stored
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    key_created_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # when the current key was issued
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # the key stops working then (None: never)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # updated at most once a minute


class Call(Base):
    __tablename__ = "calls"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # call_id: first 16 hex of the audio sha256
    audio_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(Text)
    audio_path: Mapped[str | None] = mapped_column(Text)  # where the API can stream the recording from
    duration_s: Mapped[float] = mapped_column(Float)
    channel_layout: Mapped[str] = mapped_column(String(20))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    team: Mapped[str | None] = mapped_column(ForeignKey("teams.name"))
    queue: Mapped[str | None] = mapped_column(String(100))
    direction: Mapped[str | None] = mapped_column(String(20))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    request_type: Mapped[str | None] = mapped_column(String(100))
    request_type_confidence: Mapped[float | None] = mapped_column(Float)
    language: Mapped[str | None] = mapped_column(String(8))  # the call's main language (en, es; und: not known)
    languages: Mapped[str | None] = mapped_column(String(40))  # every language spoken, main first: "es,en"
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    caller_sentiment_start: Mapped[float | None] = mapped_column(Float)
    caller_sentiment_end: Mapped[float | None] = mapped_column(Float)
    caller_sentiment_change: Mapped[float | None] = mapped_column(Float)
    caller_negative: Mapped[bool | None] = mapped_column(Boolean)
    # The current evaluation, denormalised for filtering: final values (automatic answers with reviewer overrides).
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)
    percent: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # item id -> final answer (for trends)
    search_text: Mapped[str] = mapped_column(Text, default="")  # lower-cased transcript for full-text search
    # The same from the redacted turns: what roles that see redacted text search (a hit never confirms a hidden name).
    search_redacted: Mapped[str] = mapped_column(Text, default="", server_default="")
    # search.key(id): the call's row in SQLite's FTS table. In the list indexes below, so a search for a word most
    # calls say checks each listed call against the FTS hits from the index alone (qa/store/search.py).
    search_key: Mapped[int | None] = mapped_column(BigInteger)
    # Every redacted transcript (sha256) the LLM stage answered about for this call, across re-imports: its cached
    # answers are filed under them (qa/llm/cache.py) and go with the call's text (erasure, retention).
    llm_transcripts: Mapped[list[Any] | None] = mapped_column(JSON)
    # When the current evaluation was released to the agent (None: draft or no evaluation): what agents may see.
    released_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    audio_removed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # retention or erasure
    transcript_removed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # retention or erasure
    erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # a records request: never restored by a re-import
    config_hash: Mapped[str] = mapped_column(String(32))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)  # the call JSON as written by `qa process`
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    turns: Mapped[list[TurnRow]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="TurnRow.idx"
    )

    __table_args__ = (
        # newest first is the list's default order, empty dates last: SQLite reads these backwards for it (a NULL is
        # its smallest value); PostgreSQL has its own, below (a backward scan there puts NULLs first)
        Index("ix_calls_agent_started", "agent_id", "started_at", "search_key").ddl_if(dialect="sqlite"),
        Index("ix_calls_team_started", "team", "started_at", "search_key").ddl_if(dialect="sqlite"),
        Index("ix_calls_started", "started_at", "search_key").ddl_if(dialect="sqlite"),
        Index("ix_calls_request_type", "request_type"),
        Index("ix_calls_percent", "percent", "search_key"),
        Index("ix_calls_skey", "search_key"),  # a rare word's few FTS hits find their calls (SQLite)
        Index("ix_calls_needs_review", "needs_review"),
        Index("ix_calls_language", "language"),
    )


# PostgreSQL: the list's default order (started_at DESC NULLS LAST, then id) read straight from an index. Without
# it a word search sorted every match (400 ms for a word most calls say, at 100,000 calls).
for _name, _cols in (("agent", (Call.agent_id,)), ("team", (Call.team,)), ("all", ())):
    Index(f"ix_calls_{_name}_newest", *_cols, Call.started_at.desc().nulls_last(), Call.id).ddl_if(dialect="postgresql")


class TurnRow(Base):
    __tablename__ = "turns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(20))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    redacted_text: Mapped[str] = mapped_column(Text)
    call: Mapped[Call] = relationship(back_populates="turns")
    __table_args__ = (UniqueConstraint("call_id", "idx"),)


class Analysis(Base):
    """One stage's output for a call, with the stage's name and version (what produced it)."""

    __tablename__ = "analyses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(50))
    version: Mapped[str] = mapped_column(String(50))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    __table_args__ = (UniqueConstraint("call_id", "stage"),)


class EvaluationRow(Base):
    __tablename__ = "evaluations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    scorecard_id: Mapped[str] = mapped_column(String(100))
    scorecard_version: Mapped[str] = mapped_column(String(50))
    scorecard_hash: Mapped[str] = mapped_column(String(64))
    # 1, then 2, 3...: a re-import that would change an evaluation no longer a draft stores a new draft revision
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    auto_score: Mapped[float] = mapped_column(Float)
    auto_percent: Mapped[float | None] = mapped_column(Float)
    auto_passed: Mapped[bool] = mapped_column(Boolean)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # the automatic evaluation as in the call JSON
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Lifecycle (qa/store/lifecycle.py): draft -> released -> acknowledged | disputed -> final.
    state: Mapped[str] = mapped_column(String(20), default="draft", server_default="draft")
    released_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    released_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    dispute_until: Mapped[dt.datetime | None] = mapped_column(DateTime)  # released_at + the dispute window
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finalized_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finalized_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    __table_args__ = (
        UniqueConstraint("call_id", "scorecard_hash", "revision", name="uq_evaluations_call_hash_revision"),
    )


class Review(Base):
    """A reviewer's answer for one item: the automatic answer stays in the evaluation; the final score uses this."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(String(100))
    answer: Mapped[str] = mapped_column(String(10))  # yes | no | na
    comment: Mapped[str] = mapped_column(Text, default="")
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    dispute_id: Mapped[int | None] = mapped_column(ForeignKey("disputes.id"))  # set when a dispute resolution made it


class CalibrationSession(Base):
    __tablename__ = "calibration_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class CalibrationAnswer(Base):
    """Append-only: a reviewer who changes an answer adds a row; the latest (highest id) wins, the rest is history."""

    __tablename__ = "calibration_answers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("calibration_sessions.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    item_id: Mapped[str] = mapped_column(String(100))
    answer: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Dispute(Base):
    __tablename__ = "disputes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(String(100))
    agent_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | accepted | rejected
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class CoachingNote(Base):
    __tablename__ = "coaching_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text)
    call_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    item_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | in_progress | done
    follow_up_due: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    edited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # the last editor (author_id never changes)


class Job(Base):
    """A unit of work in the durable queue: one recording (or transcript) to process."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    team: Mapped[str | None] = mapped_column(String(100))  # from meta: a supervisor sees their team's jobs only
    input_sha256: Mapped[str] = mapped_column(String(64))
    config_hash: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued | running | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    not_before: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)  # retry backoff
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    worker: Mapped[str | None] = mapped_column(String(100))
    error_kind: Mapped[str | None] = mapped_column(String(50))
    error: Mapped[str | None] = mapped_column(Text)
    call_id: Mapped[str | None] = mapped_column(String(32))
    enqueued_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    __table_args__ = (
        UniqueConstraint("input_sha256", "config_hash"),
        Index("ix_jobs_status_not_before", "status", "not_before"),
        Index("ix_jobs_team", "team"),
    )


class AuditRow(Base):
    """The audit trail (qa/store/audit.py): append-only, one row per action, each row chained to the previous one by
    a SHA-256 hash so that an edited or deleted row is detected (``qa audit verify``). Never holds transcript text."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # previous id + 1, no gaps
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: the trail outlives any row it names
    actor_name: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(20))
    client: Mapped[str | None] = mapped_column(String(100))  # the client address, or "cli"
    action: Mapped[str] = mapped_column(String(50))
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str | None] = mapped_column(String(100))
    team: Mapped[str | None] = mapped_column(String(100))  # the team the object belongs to (supervisor scoping)
    agent_id: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    __table_args__ = (
        Index("ix_audit_at", "at"),
        Index("ix_audit_action", "action"),
        Index("ix_audit_team", "team"),
        Index("ix_audit_object", "object_type", "object_id"),
        Index("ix_audit_actor", "actor_name"),
    )


class VoiceprintRow(Base):
    """An agent's voiceprint (qa/diarize/voiceprints.py): biometric personal data. Read by the pipeline on mono calls
    and by ``qa agents``; never served by the API, never exported; every change and listing is audited."""

    __tablename__ = "voiceprints"
    agent_id: Mapped[str] = mapped_column(String(100), primary_key=True)  # no foreign key: an agent may be enrolled
    encoder: Mapped[str] = mapped_column(String(50))  # before any call of theirs is stored
    encoder_version: Mapped[str] = mapped_column(String(50))
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # the print: a unit vector, float32 little-endian
    total: Mapped[bytes] = mapped_column(LargeBinary)  # sum of seconds x source voice, float64: vector's direction
    seconds: Mapped[float] = mapped_column(Float)
    sources: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class VoiceprintSource(Base):
    """One source of a voiceprint (a call, a clip) with the voice it added: counted once, and taken out again when a
    reviewer corrects the call's roles or the call is erased."""

    __tablename__ = "voiceprint_sources"
    agent_id: Mapped[str] = mapped_column(ForeignKey("voiceprints.agent_id", ondelete="CASCADE"), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # a call id, or a clip's hash
    seconds: Mapped[float] = mapped_column(Float)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # the unit voice it added, float32 little-endian
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (Index("ix_voiceprint_sources_source", "source_id"),)


class RoleConfirmation(Base):
    """A reviewer's word on who the agent is in a call (one row per call): the speaker label the reviewer says is the
    agent, for the analysis it was given on (``config_hash``: a re-processed call may label its speakers anew). A
    confirmed mono call can then feed the agent's voiceprint (``qa agents learn``)."""

    __tablename__ = "role_confirmations"
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    agent_speaker: Mapped[str] = mapped_column(String(20))
    agrees: Mapped[bool] = mapped_column(Boolean)  # the automatic roles said the same
    config_hash: Mapped[str] = mapped_column(String(32))
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    enrolled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # added to the agent's voiceprint then
