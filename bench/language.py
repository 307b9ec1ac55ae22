"""Language benchmark: request type on held-out text and on ASR transcripts of the samples, emergency recall,
throughput of the language stage.

    .venv/bin/python bench/language.py [--asr-model tiny.en]

Held-out figures come from training (`qa train request-type`: stratified 5-fold CV, augmentation on training folds
only) and are read from models/request_type/manifest.json. The samples are processed end to end (ASR, speakers,
language) and compared with the request type and emergency written in each script's header / text.
Sentiment and PII redaction are scored on the project's labelled sets (models/sentiment, models/pii), sentiment
against plain VADER as the baseline.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.config import PipelineConfig  # noqa: E402
from qa.eval.references import script_layout  # noqa: E402
from qa.nlp.request_type import MODEL_DIR  # noqa: E402
from qa.nlp.textclf import score  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.types import CallMetadata  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--asr-model", default="tiny.en")
    args = ap.parse_args()
    manifest = json.loads((MODEL_DIR / "manifest.json").read_text())
    met = manifest["metrics"]
    print(f"# request_type {manifest['version']} ({len(manifest['labels'])} types)")
    print(
        f"held-out (5-fold CV) as written : accuracy {met['cv5_clean']['accuracy']:.3f}  macro-F1 {met['cv5_clean']['macro_f1']:.3f}  (goal >= 0.90)"
    )
    print(
        f"held-out with ASR-style noise   : accuracy {met['cv5_asr_noisy']['accuracy']:.3f}  macro-F1 {met['cv5_asr_noisy']['macro_f1']:.3f}"
    )
    if met.get("banking77_test"):
        print(f"banking77 test, same training   : accuracy {met['banking77_test']['accuracy']:.3f}")

    pipe = Pipeline(PipelineConfig().with_overrides({"asr.model": args.asr_model}))
    pipe.load()
    y_true, y_pred, lang_s, em_tp, em_fn, em_fp = [], [], 0.0, 0, 0, 0
    print(f"\n{'sample':24s} {'expected':26s} {'predicted':26s} {'conf':>5s}  emergency")
    scripts = sorted((ROOT / "samples" / "scripts").glob("*.txt"))
    for script in scripts:
        text = script.read_text()
        expected = re.search(r"^# request_type:\s*(\S+)", text, re.M).group(1)
        truly_emergency = script.stem.endswith("emergency")
        call = pipe.process(ROOT / "samples" / f"{script.stem}.flac", CallMetadata(channels=script_layout(script)))
        rt, em = call.request_type, call.emergency
        lang_s += call.timings_s.get("language", 0.0)
        y_true.append(expected)
        y_pred.append(rt.label)
        em_tp += em.flag and truly_emergency
        em_fn += (not em.flag) and truly_emergency
        em_fp += em.flag and not truly_emergency
        flag = f"{em.category} @ {em.time:.1f}s" if em.flag else "-"
        print(f"{script.stem:24s} {expected:26s} {rt.label:26s} {rt.confidence:5.2f}  {flag}")
    s = score(y_true, y_pred)
    print(
        f"\nASR transcripts ({args.asr_model}) of {s.n} samples: accuracy {s.accuracy:.3f}  macro-F1 {s.macro_f1:.3f} (goal >= 0.85)"
    )
    positives = em_tp + em_fn
    print(
        f"emergency: {em_tp}/{positives} found, {em_fp} false alarm(s) in {len(scripts) - positives} non-emergency calls"
    )
    import csv

    from qa.eval.pii import evaluate
    from qa.nlp.sentiment import _analyzer, classify, label_of

    rows = list(csv.DictReader((ROOT / "models" / "sentiment" / "labelled.tsv").open(), delimiter="\t"))
    ours = sum(classify(r["text"])[0] == r["label"] for r in rows)
    vader = sum(label_of(_analyzer().polarity_scores(r["text"])["compound"]) == r["label"] for r in rows)
    print(f"sentiment on {len(rows)} labelled utterances: accuracy {ours / len(rows):.3f} (plain VADER {vader / len(rows):.3f})")
    pii = evaluate()
    print(f"PII redaction per word: recall {pii.recall:.3f} (goal >= 0.98), precision {pii.precision:.3f}")
    per_call = lang_s / len(scripts)
    print(f"language stage (request type, emergency, sentiment, entities, redaction): {per_call * 1000:.0f} ms per call, {1 / per_call:.1f} calls/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
