"""Request and response bodies (pydantic lives at the API edge). Lists come wrapped as {data, count, limit, offset}."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.deps import _in_calendar
from qa.identifiers import pydantic_identifier, pydantic_text
from qa.types import Emergency, Entity, Metrics, Prediction, Sentiment, Summary, Warning_

T = TypeVar("T")
Answer = Literal["yes", "no", "na"]
AgentId = Annotated[str, AfterValidator(pydantic_identifier("agent_id"))]
TeamName = Annotated[str, AfterValidator(pydantic_identifier("team"))]
QueueName = Annotated[str, AfterValidator(pydantic_identifier("queue"))]
ItemName = Annotated[str, AfterValidator(pydantic_identifier("item_id"))]
CallRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


def Text(max_length: int, field: str):  # noqa: N802 - a type factory used like a type
    """Free text people type: required (not blank), no control characters or bidi overrides."""
    return Annotated[str, Field(min_length=1, max_length=max_length), AfterValidator(pydantic_text(field, max_length))]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int = Field(description="Total number of matches (not only this page).")
    limit: int
    offset: int
    count_exact: bool = Field(
        True,
        description="False: there are more than `count` matches. A search for words (`q`) counts up to the page's "
        "end and 1,000 more: a word most calls say would otherwise count every call.",
    )


class CallSummary(BaseModel):
    id: str
    agent_id: str | None
    team: str | None
    queue: str | None
    direction: str | None
    started_at: dt.datetime | None
    duration_s: float
    request_type: str | None
    language: str | None = Field(None, description="The call's main language (en, es; und: nothing telling said).")
    languages: list[str] = Field(default_factory=list, description="Every language spoken, main first.")
    emergency: bool
    caller_sentiment_change: float | None
    caller_negative: bool | None
    score: float | None
    max_score: float | None
    percent: float | None
    passed: bool | None
    needs_review: bool
    evaluation_released: bool = Field(description="The current evaluation was released to the agent.")


class TurnOut(BaseModel):
    index: int
    speaker: str
    role: str
    start: float
    end: float
    text: str


class EvidenceOut(BaseModel):
    """Why an item got its answer. ``quote`` is what was said (redacted for roles that see redacted text; null for
    roles that may not read transcripts, and for measured evidence)."""

    turn: int | None
    role: str | None
    start: float | None
    end: float | None
    quote: str | None
    rule: str
    score: float | None = Field(None, description="A semantic match's similarity.")
    example: str | None = Field(None, description="The scorecard example a semantic match matched (null for HR).")


class OverrideOut(BaseModel):
    answer: str | None
    comment: str
    reviewer_id: int | None
    at: str
    dispute_id: int | None = None


class ItemDisputeOut(BaseModel):
    id: int
    status: str
    created_at: dt.datetime | None
    resolved_at: dt.datetime | None


class ItemOut(BaseModel):
    id: str
    section: str
    question: str = ""
    answer: str | None = Field(description="The final answer (a reviewer's override wins): yes, no, na, or null.")
    automatic_answer: str | None
    points: float
    max_points: float
    points_possible: float = 0.0
    confidence: float
    needs_review: bool
    critical: bool = False
    evidence: list[EvidenceOut]
    override: OverrideOut | None = Field(description="The latest override, if any.")
    overrides: list[OverrideOut] = Field(description="Every override in order (a later one never hides one).")
    dispute: str | None = Field(description="The item's latest dispute status.")
    disputes: list[ItemDisputeOut] = Field(default_factory=list)


class SectionOut(BaseModel):
    id: str
    score: float
    max_score: float
    percent: float | None


class ScorecardRef(BaseModel):
    id: str
    version: str
    hash: str


class TotalsRulesOut(BaseModel):
    pass_percent: float = 80.0
    critical_fails: str = "call"
    section_weights: dict[str, float] = Field(default_factory=dict)


class AutomaticTotals(BaseModel):
    score: float | None
    max_score: float | None
    percent: float | None
    passed: bool | None
    critical_failed: list[str] | None


class LifecycleOut(BaseModel):
    state: str = Field(description="draft, released, acknowledged, disputed, final")
    released_at: dt.datetime | None
    dispute_until: dt.datetime | None
    acknowledged_at: dt.datetime | None
    finalized_at: dt.datetime | None


class EvaluationOut(BaseModel):
    """The current evaluation: final answers and totals (recomputed from overrides with the scorecard's rules), the
    automatic totals, every item's evidence, overrides and disputes, and the lifecycle state."""

    evaluation_id: int
    scorecard: ScorecardRef
    score: float
    max_score: float
    percent: float | None
    passed: bool
    critical_failed: list[str]
    sections: list[SectionOut]
    items: list[ItemOut]
    rules: TotalsRulesOut = Field(default_factory=TotalsRulesOut)
    automatic: AutomaticTotals
    reviewed: bool = Field(description="True when a reviewer overrode at least one answer.")
    lifecycle: LifecycleOut


class CallDetail(CallSummary):
    source: str
    channel_layout: str
    redacted: bool = Field(description="True when turn text and entities have personal data replaced.")
    turns: list[TurnOut] | None = Field(description="Null for roles that may not read transcripts (HR).")
    # the stage outputs, typed by the dataclasses the pipeline passes between stages (qa/types.py)
    metrics: Metrics | None
    request_type_detail: Prediction | None
    sentiment: Sentiment | None
    entities: list[Entity] | None = Field(description="Null for HR; personal data as [TYPE] when redacted.")
    emergency_detail: Emergency | None
    evaluation: EvaluationOut | None
    summary: Summary | None = Field(
        None, description="The LLM stage's summary (written from the redacted turns); null for HR or when not run."
    )
    stages: dict[str, str]
    warnings: list[Warning_]


class JobOut(BaseModel):
    id: int
    file: str = Field(description="The input's file name.")
    path: str | None = Field(description="The input's path on the server (admins only).")
    status: str
    attempts: int
    call_id: str | None
    error_kind: str | None
    error: str | None
    enqueued_at: str
    started_at: str | None
    finished_at: str | None


class UploadOut(BaseModel):
    job_id: int
    created: bool = Field(description="False when the same recording was already queued or processed.")
    status: str


class UploadMeta(_In):
    """The form fields beside the recording in ``POST /calls``."""

    agent_id: AgentId | None = None
    team: TeamName | None = None
    queue: QueueName | None = None
    started_at: Annotated[dt.datetime | None, AfterValidator(_in_calendar)] = None
    direction: Literal["inbound", "outbound"] | None = None
    channels: Literal["auto", "agent-left", "agent-right", "mono"] | None = None
    roles: Literal["agent-first", "caller-first"] | None = None


class OverrideIn(_In):
    answer: Answer
    comment: Text(2000, "comment") = Field(description="Why the answer changes (required: the audit keeps it).")


class RolesIn(_In):
    agent_speaker: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,20}$")] = Field(
        description="The call's speaker (spk0, spk1 on one channel; ch0, ch1 on two) that is the agent."
    )


class RolesOut(BaseModel):
    call_id: str
    agent_speaker: str
    agrees: bool = Field(description="The automatic roles said the same.")
    confirmed_at: dt.datetime
    voiceprint: str = Field(
        description="What happens next for the agent's voiceprint: `qa agents learn` adds the call's agent speech "
        "when the call has an agent_id and its recording is kept."
    )


class CalibrationIn(_In):
    call_id: CallRef
    name: Text(200, "name")


class CalibrationScoresIn(_In):
    answers: dict[str, Answer] = Field(min_length=1, description="item id -> yes | no | na")


class DisputeIn(_In):
    item_id: ItemName
    reason: Text(2000, "reason")


class DisputeResolveIn(_In):
    status: Literal["accepted", "rejected"]
    reason: Text(2000, "reason")
    answer: Answer | None = Field(
        None, description="With status accepted: the item's new answer (recorded as a review by the resolver)."
    )


class DisputeOut(BaseModel):
    id: int
    call_id: str
    item_id: str
    reason: str
    status: str
    resolution: str | None
    created_at: dt.datetime
    resolved_at: dt.datetime | None


class CoachingIn(_In):
    agent_id: AgentId
    note: Text(10000, "note")
    call_ids: list[CallRef] = Field(default_factory=list, max_length=100)
    item_ids: list[ItemName] = Field(default_factory=list, max_length=100)
    follow_up_due: Annotated[dt.date | None, AfterValidator(_in_calendar)] = None


class CoachingPatch(_In):
    status: Literal["open", "in_progress", "done"] | None = None
    note: Text(10000, "note") | None = None
    follow_up_due: Annotated[dt.date | None, AfterValidator(_in_calendar)] = None


class CoachingOut(BaseModel):
    id: int
    agent_id: str
    author_id: int
    edited_by: int | None = Field(description="Who last changed the note (the author never changes).")
    note: str
    call_ids: list[str]
    item_ids: list[str]
    status: str
    follow_up_due: dt.date | None
    created_at: dt.datetime
    updated_at: dt.datetime


class UserIn(_In):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w.@-]+$")
    role: Literal["admin", "reviewer", "supervisor", "hr", "agent"]
    agent_id: AgentId | None = None
    team: TeamName | None = None
    expires_in_days: int | None = Field(90, ge=1, le=3650, description="The key stops working then; null: never.")


class RotateIn(_In):
    expires_in_days: int | None = Field(90, ge=1, le=3650, description="The new key's lifetime; null: never.")


class UserKeyOut(BaseModel):
    name: str
    role: str
    key: str = Field(description="Shown once; only its hash is stored.")
    expires_at: dt.datetime | None


class UserOut(BaseModel):
    name: str
    role: str
    agent_id: str | None
    team: str | None
    status: Literal["active", "disabled", "expired"]
    created_at: dt.datetime
    key_created_at: dt.datetime | None
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None


class AuditOut(BaseModel):
    id: int
    at: dt.datetime
    actor_id: int | None
    actor_name: str
    actor_role: str
    client: str | None
    action: str
    object_type: str
    object_id: str | None
    team: str | None
    agent_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class MeOut(BaseModel):
    name: str
    role: str
    agent_id: str | None
    team: str | None
