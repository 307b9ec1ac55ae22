"""Request and response bodies (pydantic lives at the API edge). Lists come wrapped as {data, count, limit, offset}."""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")
Answer = Literal["yes", "no", "na"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int = Field(description="Total number of matches (not only this page).")
    limit: int
    offset: int


class CallSummary(BaseModel):
    id: str
    agent_id: str | None
    team: str | None
    queue: str | None
    direction: str | None
    started_at: dt.datetime | None
    duration_s: float
    request_type: str | None
    emergency: bool
    caller_sentiment_change: float | None
    caller_negative: bool | None
    score: float | None
    max_score: float | None
    percent: float | None
    passed: bool | None
    needs_review: bool


class TurnOut(BaseModel):
    index: int
    speaker: str
    role: str
    start: float
    end: float
    text: str


class CallDetail(CallSummary):
    source: str
    channel_layout: str
    redacted: bool = Field(description="True when turn text and entities have personal data replaced.")
    turns: list[TurnOut] | None = Field(description="Null for roles that may not read transcripts (HR).")
    metrics: dict[str, Any] | None
    request_type_detail: dict[str, Any] | None
    sentiment: dict[str, Any] | None
    entities: list[dict[str, Any]] | None
    emergency_detail: dict[str, Any] | None
    evaluation: dict[str, Any] | None
    stages: dict[str, str]
    warnings: list[dict[str, Any]]


class JobOut(BaseModel):
    id: int
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


class OverrideIn(_In):
    answer: Answer
    comment: str = Field("", max_length=2000)


class CalibrationIn(_In):
    call_id: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)


class CalibrationScoresIn(_In):
    answers: dict[str, Answer] = Field(min_length=1, description="item id -> yes | no | na")


class DisputeIn(_In):
    item_id: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=2000)


class DisputeResolveIn(_In):
    status: Literal["accepted", "rejected"]
    reason: str = Field(min_length=1, max_length=2000)


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
    agent_id: str = Field(min_length=1, max_length=100)
    note: str = Field(min_length=1, max_length=10000)
    call_ids: list[str] = Field(default_factory=list, max_length=100)
    item_ids: list[str] = Field(default_factory=list, max_length=100)
    follow_up_due: dt.date | None = None


class CoachingPatch(_In):
    status: Literal["open", "in_progress", "done"] | None = None
    note: str | None = Field(None, min_length=1, max_length=10000)
    follow_up_due: dt.date | None = None


class CoachingOut(BaseModel):
    id: int
    agent_id: str
    author_id: int
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
    agent_id: str | None = Field(None, max_length=100)
    team: str | None = Field(None, max_length=100)


class UserKeyOut(BaseModel):
    name: str
    role: str
    key: str = Field(description="Shown once; only its hash is stored.")


class MeOut(BaseModel):
    name: str
    role: str
    agent_id: str | None
    team: str | None
