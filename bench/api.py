"""API benchmark: latency (p50/p99) and throughput of the call list (filtered), call detail and agent trend
endpoints with 10,000 stored calls, served by `qa serve` on loopback and loaded from this (second) process.
SQLite and PostgreSQL side by side.

    .venv/bin/python bench/api.py [--results demo-results] [--calls 10000] [--seconds 8] [--clients 4]
                                  [--pg postgresql://postgres@127.0.0.1:5432/test]

The stored calls are the processed samples (`make demo`) as distinct recordings: 50 agents in 5 teams, spread over 12
weeks. Each endpoint is loaded by --clients concurrent keep-alive connections for --seconds (closed loop: each client
sends its next request when the last one answers); latency is per request, throughput is requests / wall time.
Goal: p99 under 100 ms at the measured throughput.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from storekit import variant  # noqa: E402

from qa.store import open_store  # noqa: E402
from qa.store.calls import import_document  # noqa: E402
from qa.store.users import add_user  # noqa: E402

AGENTS = [f"A{i:02d}" for i in range(50)]
TEAMS = ["north", "south", "east", "west", "central"]
START = dt.datetime(2026, 8, 31, 8, 0)


def fill(url: str, docs: list[dict], n: int) -> tuple[float, list[str]]:
    store = open_store(url)
    rng = random.Random(0)
    t = time.perf_counter()
    ids = []
    batch = 250
    for b in range(0, n, batch):
        with store.session() as s:
            for i in range(b, min(n, b + batch)):
                agent = AGENTS[i % len(AGENTS)]
                when = START + dt.timedelta(minutes=rng.randrange(0, 12 * 7 * 24 * 60))
                d = variant(docs[i % len(docs)], i, agent, TEAMS[int(agent[1:]) % len(TEAMS)], when.isoformat())
                call, _ = import_document(s, d)
                ids.append(call.id)
    store.engine.dispose()
    return time.perf_counter() - t, ids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(url: str, data_dir: Path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "serve", "--db", url, "--port", str(port), "--no-worker", "--data-dir",
         str(data_dir)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/openapi.json", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def load(base: str, key: str, make_request, seconds: float, clients: int) -> dict:
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
            mine = []
            while time.perf_counter() < stop:
                path, params = make_request(rng)
                t = time.perf_counter()
                r = c.get(path, params=params)
                mine.append(time.perf_counter() - t)
                if r.status_code != 200:
                    with lock:
                        errors[0] += 1
            with lock:
                lat.extend(mine)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    a = np.array(lat) * 1000
    return {"n": len(a), "rps": len(a) / wall, "p50": float(np.percentile(a, 50)), "p99": float(np.percentile(a, 99)),
            "errors": errors[0]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=ROOT / "demo-results")
    ap.add_argument("--calls", type=int, default=10000)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--pg", default=os.environ.get("CALLQA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args()
    files = sorted(p for p in args.results.glob("*.json") if not p.name.endswith(".error.json"))
    if not files:
        print(f"no processed calls in {args.results}: run `make demo` first")
        return 2
    docs = [json.loads(p.read_text()) for p in files]
    tmp = Path(tempfile.mkdtemp())
    targets = [("SQLite", f"sqlite:///{tmp / 'bench.db'}")]
    pg_admin = None
    try:
        from sqlalchemy import create_engine, text

        from qa.store.db import normalize_url

        pg_admin = create_engine(normalize_url(args.pg), isolation_level="AUTOCOMMIT")
        with pg_admin.connect() as c:
            c.execute(text('DROP DATABASE IF EXISTS "callqa_bench" WITH (FORCE)'))
            c.execute(text('CREATE DATABASE "callqa_bench"'))
        targets.append(("PostgreSQL", args.pg.rsplit("/", 1)[0] + "/callqa_bench"))
    except Exception as exc:  # noqa: BLE001
        print(f"PostgreSQL not measured: {type(exc).__name__}: {exc}")

    endpoints = {
        "call list (agent + date range + failed, 50/page)": lambda ids: lambda rng: (
            "/calls",
            {"agent_id": rng.choice(AGENTS), "start": "2026-09-14T00:00:00", "end": "2026-11-09T00:00:00",
             "passed": "false", "limit": 50},
        ),
        "call list (team + text search, 50/page)": lambda ids: lambda rng: (
            "/calls", {"team": rng.choice(TEAMS), "q": "pothole", "limit": 50},
        ),
        "call detail": lambda ids: lambda rng: (f"/calls/{rng.choice(ids)}", None),
        "agent trend (12 weeks, per week)": lambda ids: lambda rng: (
            "/trends", {"agent_id": rng.choice(AGENTS), "period": "week"},
        ),
    }
    print(f"# {args.calls} stored calls, {args.clients} concurrent clients x {args.seconds:.0f} s per endpoint, "
          f"one `qa serve` process (uvicorn, 1 worker) on loopback; 2-core machine")
    results = {}
    for label, url in targets:
        secs, ids = fill(url, docs, args.calls)
        print(f"{label}: stored {args.calls} calls in {secs:.1f} s ({args.calls / secs:.0f} calls/s)")
        store = open_store(url)
        key = add_user(store, "bench", "admin")
        store.engine.dispose()
        proc, base = serve(url, tmp / "data")
        try:
            for name, make in endpoints.items():
                load(base, key, make(ids), 1.0, args.clients)  # warm up
                results[(label, name)] = load(base, key, make(ids), args.seconds, args.clients)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print()
    print(f"{'endpoint':50s} " + " ".join(f"{lab + ' p50/p99 ms':>24s} {'req/s':>7s}" for lab, _ in targets))
    for name in endpoints:
        row = f"{name:50s} "
        for label, _ in targets:
            r = results[(label, name)]
            flag = "" if r["errors"] == 0 else f" ({r['errors']} errors)"
            row += f"{r['p50']:>12.1f} / {r['p99']:>8.1f} {r['rps']:>7.0f}{flag} "
        print(row)
    worst = max(r["p99"] for r in results.values())
    print(f"\nworst p99: {worst:.1f} ms (goal < 100 ms)")
    if pg_admin is not None:
        with pg_admin.connect() as c:
            c.execute(text('DROP DATABASE IF EXISTS "callqa_bench" WITH (FORCE)'))
    return 0


if __name__ == "__main__":
    sys.exit(main())
