"""Choose the thresholds of a scorecard's semantic rules on the development calls (never on the test calls).

    .venv/bin/python bench/tune_scorecard.py [--scorecard scorecards/311-standard.yaml] [--write]

Every call of bench/data/dev_calls goes through the language stages once (as an imported transcript); then, rule by
rule (two passes of coordinate ascent), each semantic rule's threshold is set to the value in [0.50, 0.90] (step
0.02) at which its item agrees best with the dev answer key; among equally good values the middle of the best run is
taken (the widest margin on both sides). Prints the chosen values with the agreement they give; --write puts them in
the YAML (only the `threshold:` numbers change).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from qa.config import PipelineConfig  # noqa: E402
from qa.document import call_document  # noqa: E402
from qa.eval.agreement import load_key, norm_answer  # noqa: E402
from qa.eval.references import script_webvtt  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.scoring.engine import evaluate_call  # noqa: E402
from qa.scoring.schema import Scorecard  # noqa: E402

GRID = [round(0.5 + 0.02 * i, 2) for i in range(21)]


def semantic_paths(node, path=()):
    """Paths (tuples of keys/indices) to every semantic rule in the raw scorecard."""
    if isinstance(node, dict):
        if node.get("type") == "semantic":
            yield path
        for k, v in node.items():
            yield from semantic_paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from semantic_paths(v, (*path, i))


def get(node, path):
    for p in path:
        node = node[p]
    return node


def item_of(raw, path) -> str:
    return raw["sections"][path[1]]["items"][path[3]]["id"]


def agreement(raw, docs, key, item) -> int:
    card = Scorecard.model_validate(raw)
    got = 0
    for name, doc in docs.items():
        ans = next(i.answer for i in evaluate_call(doc, card, "tune").items if i.id == item)
        got += ans == norm_answer(key[name]["items"][item])
    return got


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scorecard", type=Path, default=ROOT / "scorecards" / "311-standard.yaml")
    ap.add_argument("--dev", type=Path, default=ROOT / "bench" / "data" / "dev_calls")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    raw = yaml.safe_load(args.scorecard.read_text())
    key = load_key(args.dev / "answers.yaml")
    pipe = Pipeline(PipelineConfig())
    pipe.load(audio=False)
    docs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in key:
            vtt = Path(tmp) / f"{name}.vtt"
            vtt.write_text(script_webvtt(args.dev / f"{name}.txt"))
            docs[name] = call_document(pipe.process_transcript(vtt))
    paths = list(semantic_paths(raw))
    for _ in range(2):
        for path in paths:
            rule, item = get(raw, path), item_of(raw, path)
            scores = []
            for t in GRID:
                rule["threshold"] = t
                scores.append(agreement(raw, docs, key, item))
            best = max(scores)
            runs, start = [], None
            for i, s in enumerate([*scores, -1]):
                if s == best and start is None:
                    start = i
                if s != best and start is not None:
                    runs.append((start, i - 1))
                    start = None
            a, b = max(runs, key=lambda r: r[1] - r[0])
            rule["threshold"] = GRID[(a + b) // 2]
    text = args.scorecard.read_text()
    for path in paths:
        rule, item = get(raw, path), item_of(raw, path)
        print(f"{item:20s} {'/'.join(map(str, path[4:])):28s} threshold {rule['threshold']:.2f}  "
              f"agreement {agreement(raw, docs, key, item)}/{len(docs)}")
    if args.write:
        values = iter(get(raw, p)["threshold"] for p in paths)
        # the n-th "threshold:" in the file is the n-th semantic rule in document order (yaml keeps that order)
        text = re.sub(r"(threshold: )([0-9.]+)", lambda m: f"{m.group(1)}{next(values):.2f}", text)
        args.scorecard.write_text(text)
        print(f"written to {args.scorecard}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
