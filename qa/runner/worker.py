"""A queue worker: claim a job, run the one pipeline path on it, store the result and mark the job done in one
transaction. Used by ``qa worker``, ``qa process --workers N`` and the API's background worker.

A database that goes away pauses the worker (it retries with backoff and logs once per outage) instead of losing
or failing jobs. Logs carry job and call ids, never transcript text.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import DBAPIError, OperationalError

from qa.errors import InputError, QAError
from qa.runner import queue
from qa.store.db import Store

log = logging.getLogger("qa.worker")

DB_ERRORS = (OperationalError, DBAPIError)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


@dataclass
class WorkerStats:
    done: int = 0
    failed: int = 0
    retried: int = 0
    db_pauses: int = 0
    seconds: float = 0.0
    outcomes: list[tuple[int, str]] = field(default_factory=list)


def _wait_for_db(store: Store, stop: threading.Event, stats: WorkerStats) -> bool:
    """Block until the database answers again (or ``stop``). True when it is back."""
    stats.db_pauses += 1
    delay = 0.5
    log.warning("database unreachable; worker paused until it is back")
    while not stop.is_set():
        try:
            queue.ping(store)
            log.warning("database is back; worker resumes")
            return True
        except DB_ERRORS:
            stop.wait(delay)
            delay = min(delay * 2, 10.0)
    return False


class _Heartbeat(threading.Thread):
    """Renews the lease of the job being processed every third of the lease, so a live worker keeps its job
    however long the call takes, while a killed one loses it one lease after its last renewal. A renewal that
    fails (database busy or away) is tried again after a second, not a third of the lease."""

    def __init__(self, store: Store, job: queue.Claimed, lease_s: float):
        super().__init__(daemon=True, name=f"qa-heartbeat-{job.id}")
        self.store, self.job, self.lease_s = store, job, lease_s
        self.halt = threading.Event()

    def run(self) -> None:
        wait = self.lease_s / 3
        while not self.halt.wait(wait):
            try:
                queue.renew(self.store, self.job, self.lease_s)
                wait = self.lease_s / 3
            except DB_ERRORS:
                wait = min(1.0, self.lease_s / 3)  # the main loop notices an outage when it stores the result

    def stop(self) -> None:
        self.halt.set()


def analyse(pipeline, job: queue.Claimed, card: tuple | None) -> dict:
    """The call document for a claimed job (the same path as `qa process`). Raises QAError for bad input."""
    from qa.exports.call_json import call_document
    from qa.ingest.transcripts import is_transcript
    from qa.scoring.rescore import score_document
    from qa.types import CallMetadata

    path = Path(job.path)
    meta = CallMetadata(**{k: v for k, v in job.meta.items() if k in CallMetadata.__dataclass_fields__})
    call = pipeline.process_transcript(path, meta) if is_transcript(path) else pipeline.process(path, meta)
    doc = call_document(call)
    return score_document(doc, *card, getattr(pipeline, "llm", None)) if card is not None else doc


def store_result(store: Store, job: queue.Claimed, doc: dict) -> bool:
    """Store the call and mark the job done in one transaction; False (nothing stored) if the lease was lost."""
    from qa.ingest.transcripts import is_transcript
    from qa.store.audit import Actor
    from qa.store.calls import import_document

    with store.session() as s:
        import_document(
            s,
            doc,
            audio_path=None if is_transcript(Path(job.path)) else str(Path(job.path).resolve()),
            actor=Actor(None, f"worker:{job.worker}"[:100], "worker", None),
            action="call.reprocess",
        )
        if not queue.finish(s, job, doc["call_id"]):
            s.rollback()
            return False
    return True


def process_job(
    pipeline,
    store: Store,
    job: queue.Claimed,
    card: tuple | None,
    out_dir: Path | None = None,
    stop: threading.Event | None = None,
    stats: WorkerStats | None = None,
) -> str | None:
    """Run one claimed job to completion: "done", "queued" (retried later) or "failed"; None if stopped while the
    database was away. Only the database steps are repeated after an outage, never the analysis."""
    from qa import jsonio
    from qa.runner.batch import write_atomic

    stop, stats = stop or threading.Event(), stats or WorkerStats()
    try:
        doc = analyse(pipeline, job, card)
        if out_dir is not None:
            write_atomic(out_dir / f"{doc['call_id']}.json", jsonio.dumps(doc))
    except QAError as exc:
        kind, message, permanent = exc.kind, str(exc), isinstance(exc, InputError)
    except Exception as exc:  # noqa: BLE001 - an internal error on one call is retried, never stops the worker
        log.debug("job %d internal error", job.id, exc_info=True)
        kind, message, permanent = "internal", f"{job.path}: internal error ({type(exc).__name__}: {exc})", False
    else:
        stored = _db(lambda: store_result(store, job, doc), store, stop, stats)
        if stored is None:
            return None
        if not stored:
            log.warning("job %d: lease lost to another worker; result discarded", job.id)
            return "queued"
        log.info("job %d done: call %s", job.id, doc["call_id"])
        return "done"
    status = _db(lambda: queue.fail(store, job, kind, message, permanent), store, stop, stats)
    log.warning("job %d failed (%s) -> %s", job.id, kind, status)
    return status


def run_worker(
    pipeline,
    store: Store,
    card: tuple | None = None,
    until_empty: bool = False,
    stop: threading.Event | None = None,
    poll_s: float = 1.0,
    lease_s: float = queue.LEASE_S,
    out_dir: Path | None = None,
    name: str | None = None,
    on_job=None,
) -> WorkerStats:
    """Process jobs until ``stop`` is set (or, with ``until_empty``, until nothing is queued or running)."""
    stop = stop or threading.Event()
    name = name or worker_name()
    stats = WorkerStats()
    t0 = time.perf_counter()
    while not stop.is_set():
        try:
            job = queue.claim(store, name, lease_s)
            if job is None:
                if until_empty:
                    c = queue.counts(store)
                    if c["queued"] == 0 and c["running"] == 0:
                        break
                stop.wait(poll_s)
                continue
            beat = _Heartbeat(store, job, lease_s)
            beat.start()
            try:
                status = process_job(pipeline, store, job, card, out_dir, stop, stats)
            finally:
                beat.stop()
        except DB_ERRORS:
            if not _wait_for_db(store, stop, stats):
                break
            continue
        if status is None:
            break
        stats.outcomes.append((job.id, status))
        stats.done += status == "done"
        stats.failed += status == "failed"
        stats.retried += status == "queued"
        if on_job:
            on_job(job, status)
    stats.seconds = time.perf_counter() - t0
    return stats


def _db(fn, store: Store, stop: threading.Event, stats: WorkerStats):
    """Run the database step ``fn``; if the database fails under it, wait until it is back and run it again (each
    step is one transaction, so a failed attempt left nothing behind). None if stopped meanwhile."""
    while not stop.is_set():
        try:
            return fn()
        except DB_ERRORS:
            if not _wait_for_db(store, stop, stats):
                return None
    return None
