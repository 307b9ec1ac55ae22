"""Calls: upload a recording (-> a job), job status, list and search, a call's detail, its audio (range requests)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy import func, select

from api.deps import Limit, Offset, Principal, RowId, SessionDep, StoreDep, require, scope_calls, visible_call
from api.permissions import PERMISSIONS
from api.schemas import CallDetail, CallSummary, JobOut, Page, UploadOut
from qa.audio.decode import AUDIO_EXTENSIONS
from qa.runner import queue
from qa.store.models import Call
from qa.store.views import call_view, summary

router = APIRouter(tags=["calls"])
CHUNK = 1 << 20
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


@router.post("/calls", status_code=202, response_model=UploadOut, summary="Upload a recording; returns a job id")
async def upload_call(
    request: Request,
    store: StoreDep,
    user: Annotated[Principal, Depends(require("calls:upload"))],
    file: Annotated[UploadFile, File(description="The recording (wav, flac, mp3, ogg, m4a, ...).")],
    agent_id: Annotated[str | None, Form(max_length=100)] = None,
    team: Annotated[str | None, Form(max_length=100)] = None,
    queue_name: Annotated[str | None, Form(alias="queue", max_length=100)] = None,
    started_at: Annotated[dt.datetime | None, Form()] = None,
    direction: Annotated[str | None, Form(pattern="^(inbound|outbound)$")] = None,
    channels: Annotated[str | None, Form(pattern="^(agent-left|agent-right|mono)$")] = None,
    roles: Annotated[str | None, Form(pattern="^(agent-first|caller-first)$")] = None,
) -> UploadOut:
    settings = request.app.state.settings
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in AUDIO_EXTENSIONS:
        raise HTTPException(
            415,
            f"file: {suffix or 'no extension'} is not a recording type we accept "
            f"({', '.join(sorted(AUDIO_EXTENSIONS))})",
        )
    uploads = Path(settings.data_dir) / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=uploads, prefix=".upload-", suffix=suffix)
    h, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := await file.read(CHUNK):
                size += len(chunk)
                if size > settings.max_upload_bytes:
                    raise HTTPException(413, f"file: larger than the limit of {settings.max_upload_bytes // 2**20} MiB")
                h.update(chunk)
                out.write(chunk)
        if size == 0:
            raise HTTPException(422, "file: empty upload")
        _probe(Path(tmp))
        sha = h.hexdigest()
        final = uploads / f"{sha}{suffix}"
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    meta = {
        k: v
        for k, v in {
            "agent_id": agent_id,
            "team": team,
            "queue": queue_name,
            "direction": direction,
            "channels": channels,
            "roles": roles,
            "started_at": started_at.isoformat() if started_at else None,
        }.items()
        if v
    }
    config_hash = request.app.state.config_hash(meta)
    job_id, created = queue.enqueue(store, final, sha, config_hash, meta)
    status = queue.job_status(store, job_id)
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


@router.get("/jobs/{job_id}", response_model=JobOut, summary="A job's status (and its call id when done)")
def get_job(job_id: RowId, store: StoreDep, user: Annotated[Principal, Depends(require("jobs:read"))]) -> dict:
    st = queue.job_status(store, job_id)
    if st is None:
        raise HTTPException(404, f"no job {job_id}")
    return st


@router.get("/jobs", summary="Queue overview: counts by status, failures with reasons, throughput, ETA")
def list_jobs(store: StoreDep, user: Annotated[Principal, Depends(require("jobs:read"))]) -> dict:
    return queue.stats(store)


@router.get("/calls", response_model=Page[CallSummary], summary="List and search calls")
def list_calls(
    s: SessionDep,
    user: Annotated[Principal, Depends(require("calls:list"))],
    agent_id: str | None = None,
    team: str | None = None,
    start: Annotated[dt.datetime | None, Query(description="Calls started at or after (ISO 8601).")] = None,
    end: Annotated[dt.datetime | None, Query(description="Calls started before (ISO 8601).")] = None,
    request_type: str | None = None,
    min_score: Annotated[float | None, Query(ge=0, le=100, description="Minimum score percent.")] = None,
    max_score: Annotated[float | None, Query(ge=0, le=100, description="Maximum score percent.")] = None,
    passed: bool | None = None,
    caller_negative: Annotated[bool | None, Query(description="The caller was negative at some point.")] = None,
    emergency: bool | None = None,
    needs_review: bool | None = None,
    q: Annotated[str | None, Query(min_length=2, max_length=200, description="Words in the transcript.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict:
    query = scope_calls(select(Call), user)
    conds = []
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
        if user.role not in PERMISSIONS["calls:transcript"]:
            raise HTTPException(403, f"role '{user.role}' may not search transcripts")
        for word in q.lower().split()[:8]:
            conds.append(Call.search_text.contains(word, autoescape=True))
    query = query.where(*conds)
    total = s.scalar(select(func.count()).select_from(query.subquery()))
    rows = s.scalars(query.order_by(Call.started_at.desc().nulls_last(), Call.id).limit(limit).offset(offset)).all()
    return {"data": [summary(c) for c in rows], "count": total, "limit": limit, "offset": offset}


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


@router.get("/calls/{call_id}", response_model=CallDetail, summary="A call: turns, metrics, language, evaluation")
def get_call(call_id: str, s: SessionDep, user: Annotated[Principal, Depends(require("calls:read"))]) -> dict:
    call = visible_call(s, call_id, user)
    return call_view(s, call, user.sees_pii, user.role in PERMISSIONS["calls:transcript"])


@router.get(
    "/calls/{call_id}/audio",
    summary="The recording (supports HTTP Range requests)",
    responses={206: {"description": "Partial content"}, 200: {"content": {"audio/*": {}}}},
)
def get_audio(call_id: str, s: SessionDep, user: Annotated[Principal, Depends(require("calls:audio"))]):
    call = visible_call(s, call_id, user)
    if not call.audio_path or not Path(call.audio_path).is_file():
        raise HTTPException(404, f"call {call_id}: the recording is not available on this server")
    p = Path(call.audio_path)
    # FileResponse answers Range requests (206, Content-Range) and sends Accept-Ranges.
    return FileResponse(
        p,
        media_type=MEDIA_TYPES.get(p.suffix.lower(), "application/octet-stream"),
        filename=f"{call.id}{p.suffix.lower()}",
    )
