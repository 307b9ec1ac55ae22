"""How the automatic answers hold on data the project did not write, side by side with its own sets.

    .venv/bin/python bench/generalization.py                  # clean transcripts + sentences + real residents' text
    .venv/bin/python bench/generalization.py --audio          # also end to end on rendered audio (bench/audio/<set>)
    .venv/bin/python bench/generalization.py --sets test --misses   # one set, and list every disagreement

Sets of calls (scripts in samples/scripts and bench/data/*_calls, answer keys in YAML):
- samples: the project's own 7 sample calls, hand labels in scorecards/labels/ (written with the rules: "own").
- dev: 30 calls written by a helper before tuning; thresholds and examples were chosen on these ("own, tuned on").
- test: 40 calls written by another helper who never saw the rules, FROZEN (bench/data/test_calls/README.md):
  the external figure. Nothing was tuned on it.
Each call is read as a transcript (the script as WebVTT with <v Agent>/<v Caller>: no ASR, no diarization) or, with
--audio, as the 8 kHz recording rendered by samples/make_samples.py (make heldout-audio).

Also: emergency triage on the frozen sentence set (bench/data/test_calls/emergency_sentences.tsv) and request type on
real residents' requests (../shared/data/text: Newport RI SeeClickFix, SF 311 encampments, Bloomington Open311),
mapped to the taxonomy by bench/data/external_request_types.yaml (evaluation only: non-commercial data).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from qa.config import PipelineConfig  # noqa: E402
from qa.document import call_document  # noqa: E402
from qa.eval.agreement import Agreement, load_key, wilson  # noqa: E402
from qa.eval.references import parse_script, script_layout, script_webvtt  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.scoring.rescore import DEFAULT_SCORECARD, score_document  # noqa: E402
from qa.scoring.schema import load_scorecard  # noqa: E402
from qa.types import CallMetadata, Role, Turn, Word  # noqa: E402

SHARED = Path(os.environ.get("CALLQA_SHARED", ROOT.parent / "shared")) / "data"
SETS = {
    "samples": (ROOT / "samples" / "scripts", ROOT / "scorecards" / "labels" / "samples-311-standard.yaml", "own"),
    "dev": (ROOT / "bench" / "data" / "dev_calls", ROOT / "bench" / "data" / "dev_calls" / "answers.yaml", "own, tuned on"),
    "test": (ROOT / "bench" / "data" / "test_calls", ROOT / "bench" / "data" / "test_calls" / "answers.yaml", "external, frozen"),
}
AUDIO = {"samples": ROOT / "samples", "dev": ROOT / "bench" / "audio" / "dev_calls", "test": ROOT / "bench" / "audio" / "test_calls"}


def _key_entry(name: str, entry: dict, script: Path) -> dict:
    """samples' labels are item answers only; the facts come from the script's header and name."""
    if "items" in entry:
        return entry
    head = parse_script(script).headers
    return {"items": entry, "request_type": head.get("request_type"), "emergency": name.endswith("emergency"), "caller_upset": None}


def run_set(pipe: Pipeline, card, name: str, audio: bool) -> dict:
    folder, key_path, _ = SETS[name]
    key = load_key(key_path)
    agreement = Agreement()
    em = Counter()
    rt_true, rt_pred, rt_review = [], [], 0
    secs = 0.0
    lang: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for call_name, raw in key.items():
            script = folder / f"{call_name}.txt"
            entry = _key_entry(call_name, raw, script)
            t0 = time.perf_counter()
            if audio:
                wav = AUDIO[name] / f"{call_name}.flac"
                if not wav.exists():
                    raise SystemExit(f"{wav} missing: render the audio first (make heldout-audio)")
                call = pipe.process(wav, CallMetadata(channels=script_layout(script)))
            else:
                vtt = Path(tmp) / f"{call_name}.vtt"
                vtt.write_text(script_webvtt(script))
                call = pipe.process_transcript(vtt)
            doc = score_document(call_document(call), *card)
            secs += time.perf_counter() - t0
            lang.append(call.timings_s.get("language", math.nan))
            auto = {it["id"]: it["answer"] for it in (doc["evaluation"] or {}).get("items", [])}
            agreement.add(call_name, auto, entry["items"])
            flagged, truth = bool(doc["emergency"]["flag"]), bool(entry["emergency"])
            em[("tp" if truth else "fp") if flagged else ("fn" if truth else "tn")] += 1
            if entry.get("request_type"):
                rt = doc["request_type"]
                rt_true.append(entry["request_type"])
                rt_pred.append(rt["label"])
                rt_review += bool(rt["needs_review"])
    return {"agreement": agreement, "emergency": em, "rt": (rt_true, rt_pred, rt_review), "seconds": secs, "calls": len(key), "language": lang}


def emergency_sentences(pipe: Pipeline, path: Path) -> Counter:
    """Each sentence as a one-turn call said by the caller."""
    out = Counter()
    out["misses"] = []  # type: ignore[assignment]
    out["false"] = []  # type: ignore[assignment]
    for row in csv.DictReader(path.open(encoding="utf-8"), delimiter="\t"):
        words = tuple(Word(i * 0.3, i * 0.3 + 0.25, w, 1.0) for i, w in enumerate(row["text"].split()))
        turn = Turn("s1", Role.CALLER, 0.0, len(words) * 0.3, row["text"], words)
        flagged = bool(pipe.emergency_of((turn,)).flag)
        truth = row["label"] == "emergency"
        out[("tp" if truth else "fp") if flagged else ("fn" if truth else "tn")] += 1
        if truth and not flagged:
            out["misses"].append(row["text"])
        if flagged and not truth:
            out["false"].append(row["text"])
    return out


def report_sentences(e: Counter, misses: bool) -> None:
    print(f"\n# emergency triage on the frozen sentence set ({e['tp'] + e['fn']} emergency, {e['fp'] + e['tn']} not)")
    print(f"recall {e['tp'] / (e['tp'] + e['fn']):.3f} ({e['tp']}/{e['tp'] + e['fn']})   false alarms {e['fp']}/{e['fp'] + e['tn']} = {e['fp'] / (e['fp'] + e['tn']):.3f}")
    if misses:
        for t in e["misses"]:
            print(f"  missed: {t}")
        for t in e["false"]:
            print(f"  false alarm: {t}")


def real_texts() -> list[tuple[str, str, list[str]]]:
    """(source, text, acceptable labels) for every mapped real request in ../shared/data/text."""
    mapping = yaml.safe_load((ROOT / "bench" / "data" / "external_request_types.yaml").read_text())
    out = []
    nwp = SHARED / "text" / "seeclickfix_newport_ri" / "newport_requests_labelled.csv"
    if nwp.exists():
        for r in csv.DictReader(nwp.open(encoding="utf-8")):
            if r["request_type"] in mapping["newport"] and r["description"].strip():
                out.append(("newport", r["description"].strip(), mapping["newport"][r["request_type"]]))
    sf = SHARED / "text" / "sf311_encampment_solvesf" / "sf311_encampment_requests.csv"
    if sf.exists():
        for r in csv.DictReader(sf.open(encoding="utf-8")):
            if r["likely_app_generated_solvesf"] == "0" and r["service_code"] in mapping["sf311"]:
                out.append(("sf311", r["description"].strip(), mapping["sf311"][r["service_code"]]))
    bl = SHARED / "text" / "open311_bloomington_2012_sample" / "bloomington_requests.json"
    if bl.exists():
        for r in json.loads(bl.read_text()):
            if r.get("service_name") in mapping["bloomington"] and (r.get("description") or "").strip():
                out.append(("bloomington", r["description"].strip(), mapping["bloomington"][r["service_name"]]))
    return out


def real_text_scores(pipe: Pipeline, rows) -> dict:
    from sklearn.metrics import f1_score

    preds = pipe.request_type.predict([t for _, t, _ in rows])
    gold, pred, review, confident_wrong = [], [], 0, 0
    for (_, _, ok), p in zip(rows, preds, strict=True):
        g = p.label if p.label in ok else ok[0]
        gold.append(g)
        pred.append(p.label)
        review += p.needs_review
        confident_wrong += (not p.needs_review) and p.label not in ok
    classes = sorted(set(gold))
    acc = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)
    per = f1_score(gold, pred, labels=classes, average=None, zero_division=0)
    decided = [(g, p.label) for g, p in zip(gold, preds, strict=True) if not p.needs_review]
    return {
        "n": len(rows),
        "macro_f1": float(f1_score(gold, pred, labels=classes, average="macro", zero_division=0)),
        "accuracy": acc,
        "review": review / len(rows),
        "confident_wrong": confident_wrong / len(rows),
        "decided_accuracy": sum(g == p for g, p in decided) / len(decided) if decided else float("nan"),
        "per_class": dict(zip(classes, (float(x) for x in per), strict=True)),
        "by_source": Counter(s for s, _, _ in rows),
        "confusions": Counter((g, p) for g, p in zip(gold, pred, strict=True) if g != p),
    }


def pct(x: float) -> str:
    return "   -  " if x != x else f"{100 * x:5.1f}%"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="samples,dev,test", help="comma-separated: samples, dev, test")
    ap.add_argument("--audio", action="store_true", help="also end to end on the rendered audio (slow)")
    ap.add_argument("--model", default="base", help="ASR model for --audio")
    ap.add_argument("--misses", action="store_true", help="list every disagreement")
    ap.add_argument("--skip-text", action="store_true", help="skip the real-text request-type evaluation")
    ap.add_argument("--request-model", help="a request-type model folder to try instead of the shipped one")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a pipeline setting to try, e.g. --set nlp.review_below=0.6 (repeatable)")
    args = ap.parse_args()
    sets = [s for s in args.sets.split(",") if s]
    card = load_scorecard(DEFAULT_SCORECARD)
    overrides = {"asr.model": args.model, "asr.cpu_threads": 2}
    if args.request_model:
        overrides["nlp.request_type_model"] = args.request_model
    for kv in args.set:
        key, _, value = kv.partition("=")
        overrides[key] = yaml.safe_load(value)
    pipe = Pipeline(PipelineConfig().with_overrides(overrides))
    pipe.load(audio=args.audio)
    import torch

    torch.set_num_threads(1)  # as a `qa process` worker runs (one thread each): timings are per core

    modes = ["transcript"] + (["audio"] if args.audio else [])
    results = {(s, m): run_set(pipe, card, s, m == "audio") for s in sets for m in modes}
    items = list(next(iter(results.values()))["agreement"].items)
    cols = [(s, m) for s in sets for m in modes]
    print(f"# scorecard {card[0].id} {card[0].version}: item agreement with the answer keys (strict: a review counts as a miss)")
    print("# " + "; ".join(f"{s} = {SETS[s][2]}" for s in sets))
    head = "".join(f"{s + ('/' + m[:5] if args.audio else ''):>24s}" for s, m in cols)
    print(f"{'item':20s}{head}")
    for item in items:
        cells = []
        for c in cols:
            t = results[c]["agreement"].items.get(item)
            if not t:
                cells.append(f"{'-':>24s}")
                continue
            lo, hi = wilson(t.agree, t.n)
            cells.append(f"{pct(t.strict)} [{100 * lo:3.0f}-{100 * hi:3.0f}] n={t.n:<3d}")
        print(f"{item:20s}" + "".join(f"{c:>24s}" for c in cells))
    for label, fn in (("all items (strict)", "strict"), ("all items (decided)", "decided")):
        cells = []
        for c in cols:
            t = results[c]["agreement"].total()
            lo, hi = wilson(t.agree, t.n) if fn == "strict" else wilson(t.agree, t.n - t.review)
            cells.append(f"{pct(getattr(t, fn))} [{100 * lo:3.0f}-{100 * hi:3.0f}] n={t.n:<3d}")
        print(f"{label:20s}" + "".join(f"{c:>24s}" for c in cells))
    print(f"{'sent to review':20s}" + "".join(f"{pct(results[c]['agreement'].total().review / results[c]['agreement'].total().n):>24s}" for c in cols))
    worst = {c: min((t.strict for t in results[c]["agreement"].items.values()), default=math.nan) for c in cols}
    print(f"{'lowest item':20s}" + "".join(f"{pct(worst[c]):>24s}" for c in cols))

    print("\n# emergencies per call (key: did the caller describe an emergency?)")
    for c in cols:
        e = results[c]["emergency"]
        print(f"{c[0] + '/' + c[1]:20s} found {e['tp']}/{e['tp'] + e['fn']}   false alarms {e['fp']} in {e['fp'] + e['tn']} non-emergency calls")
    print("\n# request type on the calls (key: the script's request_type)")
    for c in cols:
        y, p, rev = results[c]["rt"]
        if y:
            acc = sum(a == b for a, b in zip(y, p, strict=True)) / len(y)
            print(f"{c[0] + '/' + c[1]:20s} accuracy {acc:.3f} ({sum(a == b for a, b in zip(y, p, strict=True))}/{len(y)}), sent to review {rev}")
    print("\n# time per call")
    for c in cols:
        r = results[c]
        med = sorted(r["language"])[len(r["language"]) // 2] if r["language"] else math.nan
        print(f"{c[0] + '/' + c[1]:20s} {1000 * r['seconds'] / r['calls']:7.0f} ms per call (import, language stage + scoring{', ASR' if c[1] == 'audio' else ''}); "
              f"language stage alone: median {1000 * med:.0f} ms (goal <= 60)")

    sent = ROOT / "bench" / "data" / "test_calls" / "emergency_sentences.tsv"
    e = emergency_sentences(pipe, sent) if "test" in sets else None
    if e is None:
        print("\n# emergency triage on the frozen sentence set: part of the test set (--sets test)")
    else:
        report_sentences(e, args.misses)

    if not args.skip_text:

        rows = real_texts()
        if not rows:
            print("\n# request type on real residents' text: ../shared/data/text not present (skipped)")
        else:
            r = real_text_scores(pipe, rows)
            src = ", ".join(f"{k} {v}" for k, v in r["by_source"].items())
            print(f"\n# request type on real residents' text ({r['n']} requests: {src}; {len(r['per_class'])} mapped classes)")
            print(f"macro-F1 {r['macro_f1']:.3f}   accuracy {r['accuracy']:.3f}   sent to review {pct(r['review'])}   "
                  f"confident and wrong {pct(r['confident_wrong'])}   accuracy of the confident ones {r['decided_accuracy']:.3f}")
            print("per class F1: " + ", ".join(f"{k} {v:.2f}" for k, v in r["per_class"].items()))
            if args.misses:
                print("most frequent confusions (gold -> predicted): " + ", ".join(f"{g}->{p} {n}" for (g, p), n in r["confusions"].most_common(12)))

    if args.misses:
        for c in cols:
            print(f"\n# disagreements {c[0]}/{c[1]} (call, item: automatic vs key)")
            for call, item, got, want in results[c]["agreement"].misses:
                print(f"  {call:34s} {item:20s} {got or 'review':7s} vs {want}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
