"""Calls: upload a recording (-> a job), list and search, a call's detail, its audio (range requests)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from pydantic import ValidationError
from sqlalchemy import case, func, null, select
from sqlalchemy.orm import defer
from starlette.concurrency import run_in_threadpool

from api.deps import (
    AgentQuery,
    CallId,
    Limit,
    Moment,
    Offset,
    RequestTypeQuery,
    SearchQuery,
    SessionDep,
    TeamQuery,
    actor_of,
    require,
    visible_call,
)
from api.permissions import Principal, released_only, scope_calls, text_access
from api.schemas import CallDetail, CallSummary, Page, RolesIn, RolesOut, UploadMeta, UploadOut
from api.uploads import Received, receive_upload
from api.views import TextAccess, call_view, summary
from qa.audio.decode import AUDIO_EXTENSIONS
from qa.errors import InputError
from qa.runner import queue
from qa.store import audit, search
from qa.store.models import Call, RoleConfirmation

router = APIRouter(tags=["calls"])
LIGHT = (defer(Call.document), defer(Call.search_text), defer(Call.search_redacted))  # a list row reads none of them
MEDIA_TYPES = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".webm": "audio/webm",
}

Sort = Literal["started_at", "-started_at", "percent", "-percent", "duration_s", "-duration_s"]
SORT_COLUMNS = {"started_at": Call.started_at, "percent": Call.percent, "duration_s": Call.duration_s}


# a word search counts its matches up to the page's end and this many more ("count_exact": false beyond)
COUNT_MORE = 1000


def order_by(sort: str, user: Principal) -> tuple:
    """The list's order: the column, empty values last, then the call id (stable across pages). For agents a
    draft's score sorts as empty: the order must not reveal what the row hides."""
    name = sort.lstrip("-")
    column = SORT_COLUMNS[name]
    if name == "percent" and released_only(user):
        column = case((Call.released_at.is_(None), null()), else_=Call.percent)
    key = column.desc() if sort.startswith("-") else column.asc()
    return key.nulls_last(), Call.id


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "The recording."},
                        "agent_id": {"type": "string", "maxLength": 100},
                        "team": {"type": "string", "maxLength": 100},
                        "queue": {"type": "string", "maxLength": 100},
                        "started_at": {"type": "string", "format": "date-time"},
                        "direction": {"type": "string", "enum": ["inbound", "outbound"]},
                        "channels": {"type": "string", "enum": ["auto", "agent-left", "agent-right", "mono"]},
                        "roles": {"type": "string", "enum": ["agent-first", "caller-first"]},
                    },
                }
            }
        },
    }
}


@router.post(
    "/calls",
    status_code=202,
    response_model=UploadOut,
    summary="Upload a recording (multipart: file + metadata); returns a job id",
    openapi_extra=UPLOAD_BODY,
    responses={413: {"description": "Larger than --max-upload-mb"}, 415: {"description": "Not a recording"}},
)
async def upload_call(request: Request, user: Annotated[Principal, Depends(require("calls:upload"))]) -> UploadOut:
    """The key and the role are checked before a byte of the body is read (this route has no body parameters; it
    reads its own stream, see api/uploads.py). Disk and database work run on the thread pool."""
    settings = request.app.state.settings
    uploads = Path(settings.data_dir) / "uploads"
    await run_in_threadpool(_private_dir, uploads)
    got = await receive_upload(request, uploads, settings.max_upload_bytes, AUDIO_EXTENSIONS)
    try:
        try:
            meta = UploadMeta.model_validate(got.fields)
        except ValidationError as exc:
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
        return await run_in_threadpool(_queue_upload, request, user, got, meta)
    finally:
        got.discard()  # the temporary file, unless it was renamed into place


def _private_dir(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)


def _queue_upload(request: Request, user: Principal, got: Received, meta_in: UploadMeta) -> UploadOut:
    """Probe, move into place, queue and audit. A database failure (busy: 503) keeps nothing: a recording that was
    not there before is removed again."""
    assert got.path is not None
    _probe(got.path)
    final = got.path.parent / f"{got.sha256}{got.path.suffix}"
    existed = final.exists()
    os.replace(got.path, final)
    fields = meta_in.model_dump(exclude={"started_at"})
    fields["started_at"] = meta_in.started_at.isoformat() if meta_in.started_at else None
    meta = {k: v for k, v in fields.items() if v}
    actor = actor_of(user, request)

    def audit_row(s, job_id: int, created: bool) -> None:
        details = {"job_id": job_id, "created": created, "sha256": got.sha256, "bytes": got.size}
        audit.record(
            s, actor, "call.upload", "job", job_id, details, team=meta.get("team"), agent_id=meta.get("agent_id")
        )

    try:
        config_hash = request.app.state.config_hash(meta)
        job_id, created = queue.enqueue(request.app.state.store, final, got.sha256, config_hash, meta, hook=audit_row)
    except BaseException:
        if not existed:
            final.unlink(missing_ok=True)
        raise
    status = queue.job_status(request.app.state.store, job_id)
    return UploadOut(job_id=job_id, created=created, status=status["status"] if status else "queued")


def _probe(path: Path) -> None:
    """Reject what is not audio now (415), not minutes later in the worker."""
    import av

    try:
        with av.open(str(path)) as c:
            if not c.streams.audio:
                raise HTTPException(415, "file: no audio stream in the upload")
    except HTTPException:
        raise
    except Exception:  # noqa: BLE001 - any decoder complaint means "not a recording we can read"
        raise HTTPException(415, "file: not a readable audio file") from None


@router.get("/calls", response_model=Page[CallSummary], summary="List and search calls")
def list_calls(
    s: SessionDep,
    user: Annotated[Principal, Depends(require("calls:list"))],
    agent_id: AgentQuery = None,
    team: TeamQuery = None,
    start: Annotated[Moment, Query(description="Calls started at or after (ISO 8601).")] = None,
    end: Annotated[Moment, Query(description="Calls started before (ISO 8601).")] = None,
    request_type: RequestTypeQuery = None,
    language: Annotated[
        str | None, Query(pattern=r"^[a-z]{2,3}$", description="Calls in which this language was spoken (en, es).")
    ] = None,
    min_score: Annotated[float | None, Query(ge=0, le=100, description="Minimum score percent.")] = None,
    max_score: Annotated[float | None, Query(ge=0, le=100, description="Maximum score percent.")] = None,
    passed: bool | None = None,
    caller_negative: Annotated[bool | None, Query(description="The caller was negative at some point.")] = None,
    emergency: bool | None = None,
    needs_review: bool | None = None,
    q: SearchQuery = None,
    sort: Annotated[
        Sort, Query(description="Order: started_at, percent or duration_s; a leading '-' sorts descending.")
    ] = "-started_at",
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict:
    query = scope_calls(select(Call), user)
    conds = []
    scored = (min_score, max_score, passed, needs_review)
    if released_only(user) and any(v is not None for v in scored):
        conds.append(Call.released_at.is_not(None))  # a filter must not reveal a draft's score either
    if agent_id is not None:
        conds.append(Call.agent_id == agent_id)
    if team is not None:
        conds.append(Call.team == team)
    if start is not None:
        conds.append(Call.started_at >= _naive(start))
    if end is not None:
        conds.append(Call.started_at < _naive(end))
    if request_type is not None:
        conds.append(Call.request_type == request_type)
    if language is not None:  # spoken anywhere in the call, not only its main language
        conds.append(("," + Call.languages + ",").contains(f",{language},"))
    if min_score is not None:
        conds.append(Call.percent >= min_score)
    if max_score is not None:
        conds.append(Call.percent <= max_score)
    if passed is not None:
        conds.append(Call.passed.is_(passed))
    if caller_negative is not None:
        conds.append(Call.caller_negative.is_(caller_negative))
    if emergency is not None:
        conds.append(Call.emergency.is_(emergency))
    if needs_review is not None:
        conds.append(Call.needs_review.is_(needs_review))
    if q:
        access = text_access(user)
        if access is TextAccess.NONE:
            raise HTTPException(403, f"role '{user.role}' may not search transcripts")
        # the redacted text for roles that read redacted text: a hidden name is never a hit
        conds.append(search.matches(s, q, redacted=access is not TextAccess.RAW))
    query = query.where(*conds)
    # the page's ids first (a sort over narrow rows), then those rows without their big columns: sorting whole rows
    # by score took 350 ms at 10,000 calls (SQLite), the ids 16 ms
    ordered = query.with_only_columns(Call.id).order_by(*order_by(sort, user))
    if q:
        # one walk in the list's order, to the page's end and COUNT_MORE beyond: the page and a count that stops
        # there. Counting every match of a word most calls say cost as much as the rest of the request together.
        stop = offset + limit + COUNT_MORE
        found_ids = list(s.scalars(ordered.limit(stop)))
        total, exact = len(found_ids), len(found_ids) < stop
        page_ids = found_ids[offset : offset + limit]
    else:
        total, exact = s.scalar(select(func.count()).select_from(query.subquery())) or 0, True
        page_ids = list(s.scalars(ordered.limit(limit).offset(offset)))
    found = {c.id: c for c in s.scalars(select(Call).where(Call.id.in_(page_ids)).options(*LIGHT))}
    rows = [found[i] for i in page_ids]
    hide = released_only(user)
    data = [summary(c, hide) for c in rows]
    return {"data": data, "count": total, "count_exact": exact, "limit": limit, "offset": offset}


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


@router.get("/calls/{call_id}", response_model=CallDetail, summary="A call: turns, metrics, language, evaluation")
def get_call(call_id: CallId, s: SessionDep, user: Annotated[Principal, Depends(require("calls:read"))]) -> dict:
    call = visible_call(s, call_id, user)
    return call_view(s, call, text_access(user), released_only(user))


@router.get(
    "/calls/{call_id}/audio",
    summary="The recording (supports HTTP Range requests)",
    responses={206: {"description": "Partial content"}, 200: {"content": {"audio/*": {}}}},
)
def get_audio(
    call_id: CallId, request: Request, s: SessionDep, user: Annotated[Principal, Depends(require("calls:audio"))]
):
    """Every download is in the audit trail (one row per request, with the byte range asked for)."""
    call = visible_call(s, call_id, user)
    if not call.audio_path or not Path(call.audio_path).is_file():
        raise HTTPException(404, f"call {call_id}: the recording is not available on this server")
    p = Path(call.audio_path)
    audit.record(
        s,
        actor_of(user, request),
        "call.audio",
        "call",
        call.id,
        {"range": request.headers.get("range")},
        team=call.team,
        agent_id=call.agent_id,
    )
    # FileResponse answers Range requests (206, Content-Range) and sends Accept-Ranges.
    return FileResponse(
        p,
        media_type=MEDIA_TYPES.get(p.suffix.lower(), "application/octet-stream"),
        filename=f"{call.id}{p.suffix.lower()}",
    )


@router.put(
    "/calls/{call_id}/roles",
    response_model=RolesOut,
    summary="Confirm (or correct) which speaker is the agent; a confirmed call can feed the agent's voiceprint",
    responses={422: {"description": "The call has no such speaker"}},
)
def confirm_roles(
    call_id: CallId,
    body: RolesIn,
    request: Request,
    s: SessionDep,
    user: Annotated[Principal, Depends(require("calls:roles"))],
) -> RolesOut:
    """A reviewer's word on who the agent is. It does not change the stored evaluation (re-process the call with
    the roles pinned to change that); it lets ``qa agents learn`` add the agent's speech to their voiceprint, so
    their mono calls are told apart by voice."""
    from qa.store.voiceprints import confirm_roles as confirm

    call = visible_call(s, call_id, user)
    try:
        agrees = confirm(s, call, body.agent_speaker, user.id, actor_of(user, request))
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None
    row = s.get(RoleConfirmation, call.id)
    assert row is not None
    usable = bool(call.agent_id) and call.audio_path is not None and call.audio_removed_at is None
    return RolesOut(
        call_id=call.id,
        agent_speaker=body.agent_speaker,
        agrees=agrees,
        confirmed_at=row.confirmed_at,
        voiceprint="ready for qa agents learn"
        if usable
        else "not usable for a voiceprint (" + ("no agent_id" if not call.agent_id else "recording not kept") + ")",
    )
