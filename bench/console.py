"""Console benchmark: server time of the console's pages (the call list sorted by score, the review queue, the team
dashboard, a call's page) with 10,000 stored calls in SQLite, in-process (TestClient: no network, no browser; the
server's share of the first paint).

    .venv/bin/python bench/console.py [--results demo-results] [--calls 10000] [--repeat 30]

The stored calls are processed calls (`make demo`, else the three samples processed here with Whisper tiny.en) as
distinct recordings: 50 agents in 5 teams over 12 weeks. Each page is fetched --repeat times after one warm-up
request; prints the median and p95 per page and role. Goal: the call page under 300 ms to first paint.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sqlalchemy import select  # noqa: E402
from storekit import variant  # noqa: E402

from qa.store import open_store  # noqa: E402
from qa.store.calls import import_document  # noqa: E402
from qa.store.models import Call  # noqa: E402
from qa.store.users import add_user  # noqa: E402

AGENTS = [f"A{i:02d}" for i in range(50)]
TEAMS = ["north", "south", "east", "west", "central"]
START = dt.datetime(2026, 8, 31, 8, 0)


def documents(results: Path) -> list[dict]:
    files = sorted(p for p in results.glob("*.json") if not p.name.endswith(".error.json"))
    if files:
        return [json.loads(p.read_text()) for p in files]
    from qa.config import PipelineConfig
    from qa.document import call_document
    from qa.pipeline import Pipeline
    from qa.scoring.scorer import Scorer
    from qa.types import CallMetadata

    print(f"no processed calls in {results}: processing three samples with Whisper tiny.en", flush=True)
    p = Pipeline(PipelineConfig().with_overrides({"asr.model": "tiny.en", "asr.cpu_threads": 2}), Scorer.from_file())
    p.load()
    names = ("pothole_report", "angry_caller", "status_followup")
    return [call_document(p.process(ROOT / "samples" / f"{n}.flac", CallMetadata())) for n in names]


def fill(store, docs: list[dict], n: int) -> list[str]:
    rng = random.Random(0)
    ids = []
    for b in range(0, n, 250):
        with store.session() as s:
            for i in range(b, min(n, b + 250)):
                agent = AGENTS[i % len(AGENTS)]
                when = START + dt.timedelta(minutes=rng.randrange(0, 12 * 7 * 24 * 60))
                d = variant(docs[i % len(docs)], i, agent, TEAMS[int(agent[1:]) % len(TEAMS)], when.isoformat())
                ids.append(import_document(s, d)[0].id)
    return ids


def paint(app, key: str, paths: list[str], repeat: int) -> None:
    """First contentful paint of each page in headless Chromium (a served app on loopback, warm cache, signed in):
    from navigation start, as the browser reports it."""
    import socket
    import threading

    import uvicorn
    from playwright.sync_api import sync_playwright

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
        page = browser.new_page()
        page.goto(base + "/login")
        page.fill("input[name=key]", key)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/")
        print(f"{'first contentful paint':28} {'median ms':>10} {'p95 ms':>8}")
        for path in dict.fromkeys(paths):
            times = []
            for _ in range(repeat + 1):
                page.goto(base + path, wait_until="load")
                fcp = None
                for _ in range(100):  # the paint entry can come a little after "load"
                    fcp = page.evaluate(
                        "performance.getEntriesByName('first-contentful-paint').map(e => e.startTime)[0] ?? null"
                    )
                    if fcp is not None:
                        break
                    time.sleep(0.02)
                if fcp is not None:
                    times.append(float(fcp))
            times = sorted(times[1:])
            if not times:
                print(f"{path[:28]:28} no paint entry")
                continue
            p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
            print(f"{path[:28]:28} {statistics.median(times):10.1f} {p95:8.1f}")
        browser.close()
    srv.should_exit = True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=ROOT / "demo-results")
    ap.add_argument("--calls", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--browser", action="store_true", help="also first paint in Chromium (/usr/bin/chromium)")
    ap.add_argument("--db", type=Path, help="keep the filled SQLite file here; when it exists, use it as it is")
    args = ap.parse_args()
    from fastapi.testclient import TestClient

    from api.main import Settings, create_app

    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "qa.db"
        filled = db.exists()
        store = open_store(f"sqlite:///{db}")
        if filled:
            with store.session() as s:
                ids = list(s.scalars(select(Call.id).order_by(Call.created_at, Call.id)))
        else:
            t = time.perf_counter()
            ids = fill(store, documents(args.results), args.calls)
            print(f"stored {len(ids)} calls in {time.perf_counter() - t:.0f} s", flush=True)
        stamp = str(time.time_ns())[-6:]  # fresh user names on a kept database
        keys = {
            "admin": add_user(store, f"b-admin-{stamp}", "admin"),
            "reviewer": add_user(store, f"b-reviewer-{stamp}", "reviewer"),
            "supervisor": add_user(store, f"b-sup-{stamp}", "supervisor", team="east"),
        }
        app = create_app(store, Settings(data_dir=Path(tmp) / "data", worker=False))
        with store.session() as s:
            east = list(s.scalars(select(Call.id).where(Call.team == "east").order_by(Call.id).limit(1)))
        pages = [
            ("reviewer", "call list, newest first", "/"),
            ("reviewer", "call list, by score", "/?sort=percent"),
            ("reviewer", "call list, by length", "/?sort=-duration_s"),
            ("reviewer", "call list, team + words", "/?team=east&q=pothole"),
            ("reviewer", "review queue", "/queue"),
            ("reviewer", "call page", f"/ui/calls/{ids[len(ids) // 2]}"),
            ("supervisor", "team dashboard", "/dashboard"),
            ("admin", "dashboard, all teams", "/dashboard"),
            ("supervisor", "call page", f"/ui/calls/{east[0]}"),
        ]
        print(f"{'page':28} {'role':11} {'median ms':>10} {'p95 ms':>8} {'KiB':>6}")
        for role, name, path in pages:
            c = TestClient(app)
            form = c.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
            c.post("/login", data={"key": keys[role], "csrf": token})
            r = c.get(path)
            assert r.status_code == 200, (path, r.status_code)
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                r = c.get(path)
                times.append(1000 * (time.perf_counter() - t))
            times.sort()
            p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
            print(f"{name:28} {role:11} {statistics.median(times):10.1f} {p95:8.1f} {len(r.content) / 1024:6.0f}")
        if args.browser:
            paint(app, keys["reviewer"], [p for r, _, p in pages if r == "reviewer"], args.repeat)
        store.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
