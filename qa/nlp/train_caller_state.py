"""`qa train caller-state`: is the caller upset (angry, frustrated, worried, distressed)? The sentence model, its
threshold and its model card. Reproducible.

Data: models/sentiment/caller_state.tsv (caller sentences written for the project, with calm sentences that use
negative words: describing a bad problem is not being upset) plus the everyday conversation lines as calm. A call's
score is the mean of its caller's two most upset sentences. The threshold is the one that agrees best with the
development calls' key (``caller_upset``); calls within REVIEW_BAND of it go to review.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from qa.errors import ConfigError
from qa.nlp import textclf
from qa.nlp.caller_state import MODEL_DIR, call_score
from qa.resources import models_dir

SEED = 13
REVIEW_BAND = 0.05
UPSET_SURE = 0.8  # below this calibrated probability an "upset" call asks a person (set a priori, not tuned)
MODELS = models_dir()
DEV_CALLS = MODELS.parent / "bench" / "data" / "dev_calls"


def _model():
    return textclf.build_pipeline(c=2.0, cv=5, encoder="static", encoder_weight=2.0)


def best_threshold(scores: list[float], truth: list[bool]) -> tuple[float, float]:
    """(threshold, accuracy): the midpoint between neighbouring scores that classifies the most calls right."""
    xs = sorted(set(scores))
    cands = [(a + b) / 2 for a, b in zip(xs, xs[1:], strict=False)] or xs
    best = max(cands, key=lambda t: (sum((s >= t) == y for s, y in zip(scores, truth, strict=True)), -abs(t - 0.5)))
    return best, sum((s >= best) == y for s, y in zip(scores, truth, strict=True)) / len(truth)


def train_caller_state(
    corpus: Path = MODELS / "sentiment" / "caller_state.tsv", out: Path = MODEL_DIR, dev: Path = DEV_CALLS
) -> dict:
    import joblib
    from sklearn.metrics import roc_auc_score

    from qa.eval.agreement import load_key
    from qa.eval.references import script_turns

    rows = textclf.read_tsv(corpus)
    if any(r.get("label") not in ("upset", "calm") or not r.get("text") for r in rows):
        raise ConfigError(f"{corpus}: every line needs label (upset|calm), category and text")
    texts = [r["text"] for r in rows]
    n = len(texts)
    texts += textclf.everyday_lines(MODELS)
    y = np.array([r["label"] == "upset" for r in rows] + [False] * (len(texts) - n))
    w = np.ones(len(texts))
    p = textclf.cv_probabilities(_model, texts, y, w, SEED)
    model = _model().fit(texts, y, clf__sample_weight=w)
    key = load_key(dev / "answers.yaml")
    dev_rows = []
    for name, entry in key.items():
        if entry.get("caller_upset") is None:
            continue
        score, _ = call_score(model, script_turns(dev / f"{name}.txt"))
        dev_rows.append((name, bool(entry["caller_upset"]), score))
    if not dev_rows:
        raise ConfigError(f"{dev}: no development calls with caller_upset in the key")
    threshold, acc = best_threshold([s for _, _, s in dev_rows], [t for _, t, _ in dev_rows])
    manifest = {
        "name": "caller_state",
        "version": f"1-{textclf.data_hash(texts, [str(v) for v in y])[:8]}",
        "trained_at": dt.date.today().isoformat(),
        "corpus": {"file": corpus.name, "examples": n, "everyday_lines": len(texts) - n},
        "features": "tfidf word1-2 + char2-5 + static MiniLM table (x2) -> LR(C=2) -> sigmoid calibration",
        "call_score": "mean of the two most upset caller sentences",
        "thresholds": {"upset": round(threshold, 4), "review_band": REVIEW_BAND, "upset_sure": UPSET_SURE},
        "cv5_auc_corpus": round(float(roc_auc_score(y[:n], p[:n])), 4),
        "dev_calls": {"calls": len(dev_rows), "accuracy_at_threshold": round(acc, 4), "folder": dev.name},
        "versions": textclf.versions(),
    }
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "model.joblib.tmp"
    joblib.dump(model, tmp, compress=3)
    tmp.replace(out / "model.joblib")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    (out / "MODEL_CARD.md").write_text(
        f"""# Model card: caller state {manifest["version"]}

Is the caller upset (angry, frustrated, worried, distressed)? Decides whether the agent was expected to show
empathy (`applies_if: {{caller_upset: true}}` in scorecards). Input: the caller's sentences; output:
`sentiment.caller.upset` with a score, `upset_review` when the call is within {REVIEW_BAND} of the threshold, and the
most upset sentence as evidence. A caller reporting an emergency counts as upset.

Data: `{corpus.name}` ({n} caller sentences written for the project, CALLER_STATE.md; calm includes negative words
about the problem said calmly) + {len(texts) - n} everyday conversation lines as calm.
Model: {manifest["features"]}. Call score: {manifest["call_score"]}.
5-fold CV AUC on the corpus: {manifest["cv5_auc_corpus"]:.3f}. Threshold {threshold:.3f}: the best agreement with the
key of {len(dev_rows)} development calls ({acc:.1%}). Results on calls nobody here wrote: bench/generalization.py.

Limits: one author wrote the corpus; sarcasm and politeness masking anger are hard for a bag of word pieces.
Versions: {", ".join(f"{k} {v}" for k, v in manifest["versions"].items())}; trained {manifest["trained_at"]}.
"""
    )
    return manifest
