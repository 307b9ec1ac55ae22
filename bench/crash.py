"""Crash drill: a 50-call batch on PostgreSQL survives a worker killed with SIGKILL and a real database restart, with
nothing lost and nothing processed twice.

    .venv/bin/python bench/crash.py [--calls 50] [--pg postgresql://postgres@127.0.0.1:5432/test] [--no-restart]

Steps: 50 distinct recordings (a sample at 50 gains) are queued; two `qa worker` processes start (tiny.en, 1 thread
each, the default lease: 30 s, renewed every 10 s); after 10 calls one worker is killed with SIGKILL in the middle of a
call and a replacement starts; the bench reports the takeover time (from the kill until another worker claims the
dead worker's job). After 20 calls the PostgreSQL server is stopped for 10 s (pg_ctlcluster stop/start: needs root on
a machine whose PostgreSQL you may restart; --no-restart skips it) and started again. At the end: every job done once,
one call row per recording, every call's turns complete.
"""

from __future__ import annotations

import argparse
import glob
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

from qa.runner import queue  # noqa: E402
from qa.store import open_store  # noqa: E402
from qa.store.db import normalize_url  # noqa: E402
from qa.store.models import Call, Job, TurnRow  # noqa: E402

QA = [sys.executable, "-m", "qa.cli"]


def pg_ctl(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action], check=True)


def wait_for(store, pred, timeout=600):
    t = time.time()
    while time.time() - t < timeout:
        try:
            c = queue.counts(store)
            if pred(c):
                return c
        except Exception:  # noqa: BLE001 - the database may be down on purpose
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out: {queue.counts(store)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--pg", default=os.environ.get("CALLQA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--no-restart", action="store_true", help="skip the database restart")
    args = ap.parse_args()
    admin = create_engine(normalize_url(args.pg), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text('DROP DATABASE IF EXISTS "callqa_crash" WITH (FORCE)'))
        c.execute(text('CREATE DATABASE "callqa_crash"'))
    admin.dispose()
    url = args.pg.rsplit("/", 1)[0] + "/callqa_crash"
    tmp = Path(tempfile.mkdtemp())
    y, rate = sf.read(ROOT / "samples" / "status_followup.flac")
    for i in range(args.calls):
        sf.write(tmp / f"call{i:03d}.flac", np.clip(y * (0.5 + 0.01 * i), -1, 1), rate)
    subprocess.run([*QA, "enqueue", str(tmp), "--db", url, "--model", "tiny.en"], check=True, capture_output=True)
    store = open_store(url)
    worker = [*QA, "worker", "--db", url, "--model", "tiny.en", "--threads", "1", "--log-format", "json", "-v"]
    logs = open(tmp / "workers.log", "w")  # noqa: SIM115
    t0 = time.time()
    w1 = subprocess.Popen(worker, stderr=logs, stdout=logs)
    w2 = subprocess.Popen([*worker, "--until-empty"], stderr=logs, stdout=logs)
    wait_for(store, lambda c: c["done"] >= min(10, args.calls // 3))
    victim = f"{socket.gethostname()}:{w1.pid}:"
    held = None
    while held is None:  # kill it in the middle of a call
        with store.session() as s:
            held = s.scalar(select(Job.id).where(Job.status == "running", Job.worker.startswith(victim)))
        time.sleep(0.05)
    os.kill(w1.pid, signal.SIGKILL)
    killed = time.time()
    w1.wait()
    print(f"{killed - t0:6.1f} s  killed worker 1 (SIGKILL) while it held job {held}: {queue.counts(store)}")
    w3 = subprocess.Popen([*worker, "--until-empty"], stderr=logs, stdout=logs)
    takeover = None
    while takeover is None and time.time() - killed < 600:
        with store.session() as s:
            j = s.get(Job, held)
            if j.worker and not j.worker.startswith(victim):
                takeover = time.time() - killed
        time.sleep(0.1)
    print(f"{time.time() - t0:6.1f} s  job {held} taken over by another worker {takeover:.1f} s after the kill "
          f"(lease {queue.LEASE_S:.0f} s, renewed every {queue.LEASE_S / 3:.0f} s)" if takeover else "never taken over")
    if not args.no_restart:
        wait_for(store, lambda c: c["done"] >= min(20, 2 * args.calls // 3))
        store.engine.dispose()
        pg_ctl("stop")
        print(f"{time.time() - t0:6.1f} s  PostgreSQL stopped")
        time.sleep(10)
        pg_ctl("start")
        print(f"{time.time() - t0:6.1f} s  PostgreSQL started again")
    for w in (w2, w3):
        w.wait(timeout=1200)
    print(f"{time.time() - t0:6.1f} s  workers finished: {queue.counts(store)}")
    with store.session() as s:
        jobs = s.scalars(select(Job)).all()
        calls = s.scalars(select(Call)).all()
        complete = all(
            s.scalar(select(func.count()).select_from(TurnRow).where(TurnRow.call_id == c.id)) == len(c.document["turns"])
            for c in calls
        )
        attempts = sorted(j.attempts for j in jobs)
    done = sum(j.status == "done" for j in jobs)
    pauses = sum(1 for line in open(tmp / "workers.log") if "database unreachable" in line)
    ok = done == args.calls == len(calls) == len({j.call_id for j in jobs}) and complete and takeover is not None
    ok = ok and takeover <= 60
    print(f"jobs done {done}/{args.calls}, call rows {len(calls)}, distinct call ids {len({j.call_id for j in jobs})}, "
          f"all turns complete: {complete}, jobs run twice: {sum(a > 1 for a in attempts)}, "
          f"worker pauses logged: {pauses}, takeover after the kill: {takeover or float('nan'):.1f} s")
    print("RESULT:", "nothing lost, nothing duplicated" if ok else "FAILED")
    store.engine.dispose()
    admin = create_engine(normalize_url(args.pg), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text('DROP DATABASE IF EXISTS "callqa_crash" WITH (FORCE)'))
    for f in glob.glob(str(tmp / "*.flac")):
        os.unlink(f)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
