"""Scoring benchmark: re-scoring throughput on stored analyses, and agreement with hand labels on the samples.

    .venv/bin/python bench/scoring.py [--results demo-results] [--calls 3000]

Throughput: `--calls` distinct stored calls are made from the turns of the processed samples (recombined at random,
each turn given a unique token so that no cache sees the same call twice), then scored with the default scorecard on
one core, without file I/O (then with it, through `qa score`'s folder re-scoring). Goal: >= 2,000 calls/s.
Agreement: the automatic answer of every item on the samples (processed by `make demo`, Whisper base) against
scorecards/labels/samples-311-standard.yaml (yes / no / na). Goal: >= 95 %.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from qa.scoring.engine import evaluate_call  # noqa: E402
from qa.scoring.rescore import DEFAULT_SCORECARD, rescore_folder  # noqa: E402
from qa.scoring.schema import load_scorecard  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=ROOT / "demo-results")
    ap.add_argument("--calls", type=int, default=3000)
    args = ap.parse_args()
    files = sorted(p for p in args.results.glob("*.json") if not p.name.endswith(".error.json"))
    if not files:
        print(f"no processed calls in {args.results}: run `make demo` first")
        return 2
    docs = {p.stem: json.loads(p.read_text()) for p in files}
    card, digest = load_scorecard(DEFAULT_SCORECARD)

    rng = random.Random(0)
    pool = [t for d in docs.values() for t in d["turns"]]
    base = list(docs.values())
    calls = []
    for n in range(args.calls):
        d = copy.deepcopy(base[n % len(base)])
        d["turns"] = [dict(t, text=f"{t['text']} u{n}x{k}") for k, t in enumerate(rng.sample(pool, k=min(len(pool), 14)))]
        d["turns"].sort(key=lambda t: t["start"])
        calls.append(d)
    t = time.perf_counter()
    for d in calls:
        evaluate_call(d, card, digest)
    dt = time.perf_counter() - t
    print(f"# {card.id} {card.version}: {sum(len(s.items) for s in card.sections)} items")
    print(f"re-scoring in memory: {len(calls)} distinct calls in {dt:.2f} s = {len(calls) / dt:.0f} calls/s on one core (goal >= 2000)")

    tmp = Path(tempfile.mkdtemp())
    try:
        for i, d in enumerate(calls):
            (tmp / f"c{i}.json").write_text(json.dumps(d))
        t = time.perf_counter()
        scored, _, _ = rescore_folder(tmp, card, digest)
        dt = time.perf_counter() - t
        print(f"`qa score` on a folder (read, score, write JSON): {scored} calls in {dt:.2f} s = {scored / dt:.0f} calls/s")
    finally:
        shutil.rmtree(tmp)

    labels = yaml.safe_load((ROOT / "scorecards" / "labels" / "samples-311-standard.yaml").read_text())
    agree = total = 0
    print(f"\n{'call':22s} disagreements (item: automatic vs label)")
    for name, want in labels.items():
        if name not in docs:
            continue
        ev = evaluate_call(docs[name], card, digest)
        got = {i.id: (i.answer or "review") for i in ev.items}
        diffs = []
        for item, label in want.items():
            label = {True: "yes", False: "no"}.get(label, label)
            total += 1
            agree += got.get(item) == label
            if got.get(item) != label:
                diffs.append(f"{item}: {got.get(item)} vs {label}")
        print(f"{name:22s} {'; '.join(diffs) or '-'}")
    print(f"item-level agreement with hand labels: {agree}/{total} = {agree / total:.1%} (goal >= 95 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
