"""The durable job queue, in the results database.

A job is one recording (or transcript) to process. Workers claim jobs atomically: ``SELECT ... FOR UPDATE SKIP
LOCKED`` on PostgreSQL; on SQLite a single ``UPDATE ... WHERE id = (SELECT ...) RETURNING`` (one statement holds
SQLite's write lock, so two workers can never claim the same row). A claim is a lease: a worker that dies stops
renewing it, and the job is claimed again after the lease expires. Leases are short (30 s, renewed every 10 s by
the worker's heartbeat), so a job whose worker was killed is taken over within about half a minute. A result is
committed in the same transaction that marks the job done, and only if this worker still holds the lease, so a call
is stored exactly once.

Transient failures (an internal error, output or database trouble) are retried with exponential backoff up to
``max_attempts``; a file that can never succeed (not audio, corrupt, empty, silent, too long) fails at once with its
reason and never blocks the rest.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qa.store.db import Store
from qa.store.models import Job, utcnow

log = logging.getLogger("qa.queue")

LEASE_S = 30.0  # a dead worker's job is taken over after this; the heartbeat renews every LEASE_S / 3
BACKOFF_S = (5.0, 30.0, 120.0, 600.0)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    path: str
    meta: dict[str, Any]
    attempts: int
    max_attempts: int
    worker: str


def enqueue(
    store: Store,
    path: str | Path,
    input_sha256: str,
    config_hash: str,
    meta: dict[str, Any] | None = None,
    max_attempts: int = 3,
    retry_failed: bool = False,
    hook: Callable[[Session, int, bool], None] | None = None,
) -> tuple[int, bool]:
    """(job id, created). The same input with the same pipeline config is one job (idempotent); a failed one is
    queued again only with ``retry_failed``. ``hook(session, job_id, created)`` runs in the same transaction (the
    API writes its audit row there)."""
    meta = meta or {}
    team = meta.get("team")
    try:
        with store.session() as s:
            existing = s.scalar(select(Job).where(Job.input_sha256 == input_sha256, Job.config_hash == config_hash))
            if existing is not None:
                if retry_failed and existing.status == "failed":
                    existing.status, existing.attempts, existing.error, existing.error_kind = "queued", 0, None, None
                    existing.not_before, existing.path = utcnow(), str(path)
                if hook:
                    hook(s, existing.id, False)
                return existing.id, False
            job = Job(
                path=str(path),
                meta=meta,
                team=str(team) if team else None,
                input_sha256=input_sha256,
                config_hash=config_hash,
                max_attempts=max_attempts,
            )
            s.add(job)
            s.flush()
            if hook:
                hook(s, job.id, True)
            return job.id, True
    except IntegrityError:  # another process enqueued the same input a moment ago
        with store.session() as s:
            job_id = s.scalar(select(Job.id).where(Job.input_sha256 == input_sha256, Job.config_hash == config_hash))
            if hook:
                hook(s, int(job_id), False)
            return int(job_id), False


def _claimable(now: dt.datetime):
    return ((Job.status == "queued") & (Job.not_before <= now)) | ((Job.status == "running") & (Job.lease_until < now))


def claim(store: Store, worker: str, lease_s: float = LEASE_S) -> Claimed | None:
    """Take the oldest job that is queued (and past its backoff) or whose lease expired; None when there is none."""
    now = utcnow()
    lease = now + dt.timedelta(seconds=lease_s)
    with store.session() as s:
        _fail_exhausted(s, now)
        if store.dialect == "postgresql":
            job_id = s.scalar(
                select(Job.id).where(_claimable(now)).order_by(Job.id).limit(1).with_for_update(skip_locked=True)
            )
            if job_id is None:
                return None
            row = s.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(status="running", attempts=Job.attempts + 1, lease_until=lease, worker=worker, started_at=now)
                .returning(Job.id, Job.path, Job.meta, Job.attempts, Job.max_attempts)
            ).one()
        else:
            sub = select(Job.id).where(_claimable(now)).order_by(Job.id).limit(1).scalar_subquery()
            row = s.execute(
                update(Job)
                .where(Job.id == sub, _claimable(now))
                .values(status="running", attempts=Job.attempts + 1, lease_until=lease, worker=worker, started_at=now)
                .returning(Job.id, Job.path, Job.meta, Job.attempts, Job.max_attempts)
            ).first()
            if row is None:
                return None
    return Claimed(row[0], row[1], dict(row[2] or {}), row[3], row[4], worker)


def _fail_exhausted(s: Session, now: dt.datetime) -> None:
    """A job whose worker died on every attempt (lease expired, attempts used up) fails instead of looping."""
    s.execute(
        update(Job)
        .where(Job.status == "running", Job.lease_until < now, Job.attempts >= Job.max_attempts)
        .values(
            status="failed",
            error_kind="worker_lost",
            error="the worker processing it stopped (crashed or killed) on every attempt",
            finished_at=now,
        )
    )


def renew(store: Store, job: Claimed, lease_s: float = LEASE_S) -> bool:
    """Extend the lease; False if this worker no longer holds the job."""
    with store.session() as s:
        res = s.execute(
            update(Job)
            .where(Job.id == job.id, Job.worker == job.worker, Job.status == "running")
            .values(lease_until=utcnow() + dt.timedelta(seconds=lease_s))
        )
        return res.rowcount == 1


def finish(s: Session, job: Claimed, call_id: str | None) -> bool:
    """Mark the job done inside the caller's transaction (the one that stored the result). False if the lease was
    lost, in which case the caller must roll back."""
    res = s.execute(
        update(Job)
        .where(Job.id == job.id, Job.worker == job.worker, Job.status == "running")
        .values(status="done", call_id=call_id, finished_at=utcnow(), lease_until=None, error=None, error_kind=None)
    )
    return res.rowcount == 1


def fail(store: Store, job: Claimed, kind: str, message: str, permanent: bool) -> str:
    """Record a failure: retried later with backoff, or failed for good. Returns the new status."""
    now = utcnow()
    final = permanent or job.attempts >= job.max_attempts
    delay = BACKOFF_S[min(job.attempts - 1, len(BACKOFF_S) - 1)]
    with store.session() as s:
        s.execute(
            update(Job)
            .where(Job.id == job.id, Job.worker == job.worker)
            .values(
                status="failed" if final else "queued",
                error_kind=kind,
                error=message,
                lease_until=None,
                not_before=now + dt.timedelta(seconds=0 if final else delay),
                finished_at=now if final else None,
            )
        )
    return "failed" if final else "queued"


def counts(store: Store, team: str | None = None) -> dict[str, int]:
    with store.session() as s:
        q = select(Job.status, func.count()).group_by(Job.status)
        rows = s.execute(q.where(Job.team == team) if team else q).all()
    out = {k: 0 for k in ("queued", "running", "done", "failed")}
    out.update({k: int(v) for k, v in rows})
    return out


def stats(store: Store, window_s: float = 600.0, team: str | None = None) -> dict[str, Any]:
    """Counts by status, failures with reasons, recent throughput (jobs/min over the window) and an ETA; with
    ``team``, of that team's jobs only."""
    c = counts(store, team)
    since = utcnow() - dt.timedelta(seconds=window_s)
    scope = (Job.team == team,) if team else ()
    with store.session() as s:
        recent = s.scalar(select(func.count()).where(Job.status == "done", Job.finished_at >= since, *scope)) or 0
        failures = s.execute(
            select(Job.id, Job.path, Job.error_kind, Job.error)
            .where(Job.status == "failed", *scope)
            .order_by(Job.id)
            .limit(50)
        ).all()
    per_min = recent / (window_s / 60.0)
    left = c["queued"] + c["running"]
    return {
        "counts": c,
        "throughput_per_min": round(per_min, 2),
        "eta_s": round(60.0 * left / per_min, 1) if per_min > 0 and left else (0.0 if not left else None),
        "failures": [{"id": i, "path": p, "kind": k, "error": e} for i, p, k, e in failures],
    }


def job_status(store: Store, job_id: int, team: str | None = None) -> dict[str, Any] | None:
    """A job's status; None when there is no such job (or, with ``team``, when it is another team's)."""
    with store.session() as s:
        j = s.get(Job, job_id)
        if j is None or (team and j.team != team):
            return None
        return {
            "id": j.id,
            "path": j.path,
            "status": j.status,
            "attempts": j.attempts,
            "call_id": j.call_id,
            "error_kind": j.error_kind,
            "error": j.error,
            "enqueued_at": j.enqueued_at.isoformat(),
            "started_at": j.started_at.isoformat() if j.started_at else None,
            "finished_at": j.finished_at.isoformat() if j.finished_at else None,
        }


def ping(store: Store) -> None:
    with store.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
