"""Transcript search at scale: the call list filtered by team and words, p50/p99 at 100,000 stored calls, SQLite (FTS5)
and PostgreSQL (generated tsvector + GIN), in-process (FastAPI's TestClient, one client: server time without HTTP).

    .venv/bin/python bench/search.py [--calls 100000] [--base 300] [--requests 200]
                                     [--pg postgresql://postgres@127.0.0.1:5432/test]

--base calls are imported for real (the store's import path) from the processed samples (`make demo`, else three
samples are processed with Whisper tiny.en); the rest are copies made in SQL (a fast fill: each copy gets its own id,
date and one word of its own, "refN", in its text; copies carry no JSON document, which the list never reads).
Queries: a team and a word every call says, a team and two words, and a team and a rare word
(one call). Goal (issue #14): p99 < 100 ms for team + words at 100,000 calls.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
from sqlalchemy import text  # noqa: E402
from storekit import variant  # noqa: E402

from qa.store import open_store  # noqa: E402
from qa.store.calls import import_document  # noqa: E402
from qa.store.search import key  # noqa: E402
from qa.store.users import add_user  # noqa: E402

TEAMS = ["north", "south", "east", "west", "central"]
AGENTS = [f"A{i:02d}" for i in range(50)]
START = dt.datetime(2026, 8, 31, 8, 0)
COLUMNS = (
    "audio_path, duration_s, channel_layout, agent_id, team, queue, direction, request_type, request_type_confidence, "
    "language, languages, emergency, caller_sentiment_start, caller_sentiment_end, caller_sentiment_change, "
    "caller_negative, score, max_score, percent, passed, needs_review, answers, config_hash, released_at, "
    "transcript_removed_at, audio_removed_at, erased_at, created_at, updated_at"
)


def documents(results: Path) -> list[dict]:
    files = sorted(p for p in results.glob("*.json") if not p.name.endswith(".error.json"))
    if files:
        return [json.loads(p.read_text()) for p in files]
    from qa.config import PipelineConfig
    from qa.document import call_document
    from qa.pipeline import Pipeline
    from qa.scoring.scorer import Scorer

    p = Pipeline(PipelineConfig().with_overrides({"asr.model": "tiny.en", "asr.cpu_threads": 2}), Scorer.from_file())
    p.load()
    return [call_document(p.process(ROOT / "samples" / f"{n}.flac")) for n in ("pothole_report", "angry_caller")]


def fill(url: str, docs: list[dict], base: int, total: int) -> float:
    store = open_store(url)
    rng = random.Random(0)
    t = time.perf_counter()
    with store.session() as s:
        for i in range(base):
            agent = AGENTS[i % len(AGENTS)]
            when = START + dt.timedelta(minutes=rng.randrange(0, 12 * 7 * 24 * 60))
            import_document(s, variant(docs[i % len(docs)], i, agent, TEAMS[int(agent[1:]) % len(TEAMS)], when.isoformat()))
    copies = -(-total // base) - 1
    pg = store.dialect == "postgresql"
    with store.engine.begin() as c:
        cols = [x.strip() for x in COLUMNS.split(",")]
        select_cols = ", ".join(cols)
        if pg:
            c.execute(text(f"""
                INSERT INTO calls (id, audio_sha256, source, started_at, search_text, search_redacted, document,
                                   {select_cols})
                SELECT id || '_' || g, md5(audio_sha256 || g) || md5(g::text || audio_sha256), source,
                       started_at + ((g * 7919) % 120960) * interval '1 minute',
                       search_text || ' ref' || g, search_redacted || ' ref' || g, '{{}}'::json, {select_cols}
                FROM calls, generate_series(1, :m) g
            """), {"m": copies})
        else:
            c.execute(text(f"""
                WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :m)
                INSERT INTO calls (id, audio_sha256, source, started_at, search_text, search_redacted, document,
                                   {select_cols})
                SELECT id || '_' || n, printf('%.16s%048d', audio_sha256, n * 1000 + rowid % 1000), source,
                       datetime(started_at, '+' || ((n * 7919) % 120960) || ' minutes'),
                       search_text || ' ref' || n, search_redacted || ' ref' || n, '{{}}', {select_cols}
                FROM calls, g
            """), {"m": copies})
            rows = c.execute(text("SELECT id, search_text, search_redacted FROM calls WHERE id LIKE '%\\_%' ESCAPE '\\'"))
            rows = [{"k": key(i), "id": i, "raw": a, "red": b} for i, a, b in rows]
            c.execute(text("INSERT INTO calls_fts (rowid, call_id, raw, redacted) VALUES (:k, :id, :raw, :red)"), rows)
            c.execute(text("UPDATE calls SET search_key = :k WHERE id = :id"), rows)  # PostgreSQL does not use it
        c.execute(text("ANALYZE"))
    secs = time.perf_counter() - t
    store.engine.dispose()
    return secs


def measure(url: str, tmp: Path, requests: int) -> dict[str, tuple[float, float, int]]:
    from fastapi.testclient import TestClient

    from api.main import Settings, create_app

    store = open_store(url)
    k = add_user(store, "bench", "admin")
    app = create_app(store, Settings(data_dir=tmp / "data", worker=False))
    rng = random.Random(1)
    queries = {
        "team + 'thank' (every call)": lambda: {"team": rng.choice(TEAMS), "q": "thank"},
        "team + 'request number' (2 words)": lambda: {"team": rng.choice(TEAMS), "q": "request number"},
        "team + a rare word (1 call)": lambda: {"team": rng.choice(TEAMS), "q": f"ref{rng.randrange(1, 300)}"},
    }
    out = {}
    with TestClient(app) as client:
        h = {"Authorization": f"Bearer {k}"}
        for name, make in queries.items():
            for _ in range(5):
                client.get("/calls", params={**make(), "limit": 50}, headers=h)  # warm up
            times, count = [], 0
            for _ in range(requests):
                t = time.perf_counter()
                r = client.get("/calls", params={**make(), "limit": 50}, headers=h)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text
                count = max(count, r.json()["count"])
            out[name] = (float(np.percentile(times, 50)), float(np.percentile(times, 99)), count)
    store.engine.dispose()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=ROOT / "demo-results")
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--base", type=int, default=300)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--pg", default=os.environ.get("CALLQA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args()
    docs = documents(args.results)
    tmp = Path(tempfile.mkdtemp())
    targets = [("SQLite", f"sqlite:///{tmp / 'bench.db'}")]
    admin = None
    try:
        from sqlalchemy import create_engine

        from qa.store.db import normalize_url

        admin = create_engine(normalize_url(args.pg), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text('DROP DATABASE IF EXISTS "callqa_search" WITH (FORCE)'))
            c.execute(text('CREATE DATABASE "callqa_search"'))
        targets.append(("PostgreSQL", args.pg.rsplit("/", 1)[0] + "/callqa_search"))
    except Exception as exc:  # noqa: BLE001
        print(f"PostgreSQL not measured: {type(exc).__name__}: {exc}")
    results = {}
    for label, url in targets:
        secs = fill(url, docs, args.base, args.calls)
        print(f"{label}: {args.calls} calls stored in {secs:.0f} s ({args.base} imported, the rest copied in SQL)")
        results[label] = measure(url, tmp, args.requests)
    print(f"\n# /calls?team=..&q=..&limit=50 at {args.calls} calls, {args.requests} requests each, in-process")
    print(f"{'query':34s} " + " ".join(f"{lab + ' p50/p99 ms (hits)':>34s}" for lab in results))
    names = next(iter(results.values())).keys()
    for n in names:
        print(f"{n:34s} " + " ".join(f"{results[lab][n][0]:>12.1f} / {results[lab][n][1]:>7.1f} ({results[lab][n][2]:>6d})"
                                       for lab in results))
    worst = max(v[1] for r in results.values() for v in r.values())
    print(f"\nworst p99: {worst:.1f} ms (goal < 100 ms)")
    if admin is not None:
        with admin.connect() as c:
            c.execute(text('DROP DATABASE IF EXISTS "callqa_search" WITH (FORCE)'))
    return 0


if __name__ == "__main__":
    sys.exit(main())
