"""The durable job queue: exclusive claims under concurrency, leases, retries with backoff, permanent failures; a
worker killed with SIGKILL in the middle of a batch (a real subprocess), and a database that goes away and comes
back while a worker runs. Every call must end up processed exactly once, with no partial rows."""

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SAMPLES
from sqlalchemy import func, select, update

from qa.runner import queue
from qa.store import open_store
from qa.store.models import Call, Job, TurnRow

ROOT = Path(__file__).resolve().parents[1]


def _fake_jobs(store, n):
    return [queue.enqueue(store, f"/calls/{i}.wav", f"{i:064x}", "cfg")[0] for i in range(n)]


def test_enqueue_is_idempotent(store):
    a = queue.enqueue(store, "/x.wav", "a" * 64, "cfg")
    b = queue.enqueue(store, "/copy-of-x.wav", "a" * 64, "cfg")
    c = queue.enqueue(store, "/x.wav", "a" * 64, "other-config")
    assert a == (1, True) and b == (1, False) and c == (2, True)


def test_claims_are_exclusive_under_concurrency(store):
    ids = _fake_jobs(store, 60)
    claimed: list[int] = []
    lock = threading.Lock()

    def worker(k):
        while (job := queue.claim(store, f"w{k}", lease_s=60)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == ids  # every job claimed, none twice
    assert queue.counts(store)["running"] == 60


def test_leases_backoff_and_permanent_failures(store):
    (jid,) = _fake_jobs(store, 1)
    first = queue.claim(store, "w1", lease_s=0.2)
    assert first.id == jid and queue.claim(store, "w2") is None  # held
    time.sleep(0.3)
    second = queue.claim(store, "w2", lease_s=60)  # w1 looks dead: its lease expired
    assert second.id == jid and second.attempts == 2
    with store.session() as s:
        assert not queue.finish(s, first, "c1")  # w1 came back too late: it may not complete the job
    assert queue.renew(store, second) and not queue.renew(store, first)
    assert queue.fail(store, second, "internal", "boom", permanent=False) == "queued"
    assert queue.claim(store, "w3") is None  # backing off
    with store.session() as s:
        s.execute(update(Job).values(not_before=dt.datetime(2000, 1, 1)))
    third = queue.claim(store, "w3")
    assert third.attempts == 3 and queue.fail(store, third, "internal", "boom", permanent=False) == "failed"
    (jid2,) = [queue.enqueue(store, "/bad.wav", "b" * 64, "cfg")[0]]
    bad = queue.claim(store, "w4")
    assert bad.id == jid2 and queue.fail(store, bad, "audio_decode", "/bad.wav: corrupt", permanent=True) == "failed"
    st = queue.stats(store)
    assert st["counts"]["failed"] == 2 and {f["kind"] for f in st["failures"]} == {"internal", "audio_decode"}


def test_a_job_whose_worker_always_dies_fails_instead_of_looping(store):
    queue.enqueue(store, "/x.wav", "c" * 64, "cfg", max_attempts=2)
    for _ in range(2):
        assert queue.claim(store, "w", lease_s=0.05) is not None
        time.sleep(0.1)
    assert queue.claim(store, "w") is None
    assert queue.stats(store)["failures"][0]["kind"] == "worker_lost"


def _distinct_calls(folder: Path, n: int) -> list[Path]:
    """n different recordings (different bytes, same speech): the sample at slightly different gains."""
    y, rate = sf.read(SAMPLES / "pothole_report.flac")
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = folder / f"call{i:02d}.flac"
        sf.write(p, np.clip(y * (0.8 + 0.02 * i), -1, 1), rate)
        out.append(p)
    return out


def _run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], cwd=ROOT, capture_output=True, text=True, **kw)


def _assert_exactly_once(url: str, n: int) -> None:
    store = open_store(url)
    with store.session() as s:
        jobs = s.scalars(select(Job)).all()
        assert len(jobs) == n and {j.status for j in jobs} == {"done"}
        assert s.scalar(select(func.count()).select_from(Call)) == n
        for c in s.scalars(select(Call)):
            turns = s.scalar(select(func.count()).select_from(TurnRow).where(TurnRow.call_id == c.id))
            assert turns == len(c.document["turns"]) and c.percent is not None  # complete rows only
        assert sorted(j.call_id for j in jobs) == sorted(c.id for c in s.scalars(select(Call)))
    store.engine.dispose()


@pytest.mark.slow
def test_killed_worker_batch_completes_exactly_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    files = _distinct_calls(tmp_path / "calls", 6)
    res = _run("enqueue", str(tmp_path / "calls"), "--db", url, "--model", "tiny.en")
    assert res.returncode == 0 and "6 queued" in res.stdout, res.stderr
    store = open_store(url)
    common = ["--db", url, "--model", "tiny.en", "--threads", "1", "--lease", "3"]
    victim = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "worker", *common],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    while time.time() < deadline:  # wait until it has finished some calls and is in the middle of another
        c = queue.counts(store)
        if c["done"] >= 2 and c["running"] == 1:
            break
        time.sleep(0.05)
    else:
        victim.kill()
        pytest.fail(f"worker made no progress: {queue.counts(store)}")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    c = queue.counts(store)
    assert c["running"] == 1 and c["done"] < 6  # a job was left mid-way by a dead worker
    res = _run("worker", *common, "--until-empty", timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    _assert_exactly_once(url, len(files))
    with store.session() as s:
        assert max(j.attempts for j in s.scalars(select(Job))) == 2  # the interrupted job ran again, once
    res = _run("enqueue", str(tmp_path / "calls"), "--db", url, "--model", "tiny.en")
    assert "0 queued, 6 already known" in res.stdout  # and re-queuing the batch changes nothing
    jobs_out = _run("jobs", "--db", url)
    assert "done 6" in jobs_out.stdout


@pytest.mark.slow
def test_database_outage_pauses_the_worker(pg_url, tmp_path, tiny_pipeline):
    from dbproxy import Proxy
    from sqlalchemy.engine import make_url

    from qa.runner.worker import run_worker
    from qa.scoring.scorer import Scorer

    real = make_url(pg_url)
    proxy = Proxy((real.host or "127.0.0.1", real.port or 5432))
    url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    store = open_store(url)
    from qa.store.models import Base

    with store.engine.begin() as c:  # the session's database is shared with other tests: start empty
        c.exec_driver_sql(
            "TRUNCATE " + ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables) + " RESTART IDENTITY CASCADE"
        )
    files = _distinct_calls(tmp_path / "calls", 4)
    from qa.audio.decode import file_sha256

    for f in files:
        queue.enqueue(store, f, file_sha256(f), "cfg")
    stop = threading.Event()
    result = {}

    def work():
        result["stats"] = run_worker(
            tiny_pipeline.with_scorer(Scorer.from_file()),
            store,
            until_empty=True,
            stop=stop,
            poll_s=0.05,
            lease_s=120,
        )

    t = threading.Thread(target=work)
    t.start()
    deadline = time.time() + 120
    while queue.counts(store)["done"] < 1 and time.time() < deadline:
        time.sleep(0.05)
    import logging

    paused = threading.Event()

    class Watch(logging.Handler):
        def emit(self, record):
            if "database unreachable" in record.getMessage():
                paused.set()

    watch = Watch()
    logging.getLogger("qa.worker").addHandler(watch)
    try:
        proxy.down()  # the database goes away while the worker is busy, and stays away until the worker notices
        assert paused.wait(120), "the worker never noticed the outage"
        time.sleep(2)
        proxy.up()
    finally:
        logging.getLogger("qa.worker").removeHandler(watch)
    t.join(timeout=240)
    assert not t.is_alive()
    stats = result["stats"]
    assert stats.db_pauses >= 1 and stats.failed == 0 and stats.done == 4
    _assert_exactly_once(url, 4)
    store.engine.dispose()
    proxy.down()


def test_disk_full_on_output_is_a_clear_retried_failure(store, tmp_path, monkeypatch):
    """A worker that cannot write its JSON (disk full) records why and retries later; nothing is stored meanwhile."""
    import errno
    import tempfile as tf

    from qa.runner.worker import process_job

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    transcript = tmp_path / "c.vtt"
    transcript.write_text(
        "WEBVTT\n\n00:00:00.000 --> 00:00:03.000\n<v Agent>Thank you for calling 311\n\n"
        "00:00:03.000 --> 00:00:06.000\n<v Caller>there is a pothole on Main Street\n"
    )
    queue.enqueue(store, transcript, "d" * 64, "cfg")
    job = queue.claim(store, "w")
    from qa.pipeline import Pipeline

    monkeypatch.setattr(tf, "mkstemp", full)
    status = process_job(Pipeline(), store, job, out_dir=tmp_path / "out")
    assert status == "queued"  # transient: tried again later
    with store.session() as s:
        j = s.get(Job, job.id)
        assert j.error_kind == "output" and "No space left on device" in j.error and str(tmp_path / "out") in j.error
        assert s.scalar(select(func.count()).select_from(Call)) == 0


def test_short_leases_renewed_by_the_heartbeat(store):
    """A live worker keeps its job however long it takes (the heartbeat renews every third of the lease); a dead one
    (no heartbeat) loses it one lease later. The default lease is short enough for a takeover within a minute."""
    from qa.runner.worker import _Heartbeat

    assert queue.LEASE_S <= 30
    (jid,) = _fake_jobs(store, 1)
    job = queue.claim(store, "alive", lease_s=0.6)
    beat = _Heartbeat(store, job, 0.6)
    beat.start()
    try:
        time.sleep(1.5)  # 2.5 leases: without renewals the job would be free by now
        assert queue.claim(store, "thief", lease_s=0.6) is None
    finally:
        beat.stop()
    t0 = time.time()
    while (taken := queue.claim(store, "heir", lease_s=60)) is None:
        time.sleep(0.05)
    assert taken.id == jid and time.time() - t0 < 1.0
