"""`qa train emergency`: the sentence-level emergency model, its thresholds and its model card. Reproducible.

Positives and hard negatives: models/emergency/corpus.tsv (caller sentences written for the project). Ordinary
negatives are added from the project's other written corpora (request types, caller states; any sentence that
mentions a danger word is left out, so nothing ambiguous teaches "not an emergency") and everyday conversation lines
(models/emergency/conversation.txt), at half weight.

Thresholds (recall first), from data, never from the frozen test set:
- per call, on the development calls (bench/data/dev_calls, a call-level answer key): ``whole_flag`` is MARGIN times
  the lowest whole-caller-side score of a real emergency there (every one flagged, with room to spare);
  ``whole_review`` half of that; ``whole_sure`` twice; ``sentence_sure`` the highest single-sentence score of any
  non-emergency dev call, plus a step (no dev call is flagged on one sentence alone) and at least SENTENCE_SURE_MIN;
- per sentence, from 5-fold cross-validation on the corpus: ``sentence_review`` is the score that SENTENCE_REVIEW_FPR
  of the hard negatives reach; for short caller sides, ``sentence_flag`` keeps SENTENCE_FLAG_RECALL of the emergency
  sentences and ``sentence_low`` (review) SENTENCE_LOW_RECALL.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import numpy as np

from qa.errors import ConfigError
from qa.nlp import textclf
from qa.nlp.emergency import DANGER, MODEL_DIR, RULES_VERSION, unnegated
from qa.resources import models_dir

SEED = 13
MARGIN = 0.8
SENTENCE_SURE_MIN = 0.95
SENTENCE_REVIEW_FPR = 0.05
SENTENCE_FLAG_RECALL = 0.95
SENTENCE_LOW_RECALL = 0.99
DEV_CALLS = Path(__file__).resolve().parents[2] / "bench" / "data" / "dev_calls"
EXTRA_WEIGHT = 0.5
MODELS = models_dir()


def training_data(corpus: Path) -> tuple[list[str], np.ndarray, np.ndarray, list[str], int]:
    """(texts, is_emergency, sample weights, categories, rows taken from the corpus itself)."""
    rows = textclf.read_tsv(corpus)
    bad = [
        i + 2 for i, r in enumerate(rows) if r.get("label") not in ("emergency", "non_emergency") or not r.get("text")
    ]
    if bad:
        raise ConfigError(f"{corpus}: lines {bad[:10]} need label (emergency|non_emergency), category and text")
    texts = [unnegated(r["text"]) for r in rows]  # the model reads what it will read in a call
    labels = [r["label"] == "emergency" for r in rows]
    cats = [r["category"] for r in rows]
    n_corpus = len(texts)
    extra: list[str] = []
    for name in ("request_type/corpus.tsv", "request_type/corpus_written.tsv", "sentiment/caller_state.tsv"):
        path = MODELS / name
        if path.exists():
            extra += [
                r["text"] for r in textclf.read_tsv(path) if r.get("label") != "other" and not DANGER.search(r["text"])
            ]
    extra += textclf.everyday_lines(MODELS)
    texts += extra
    labels += [False] * len(extra)
    cats += ["none"] * len(extra)
    weights = np.where(np.arange(len(texts)) < n_corpus, 1.0, EXTRA_WEIGHT)
    return texts, np.asarray(labels), weights, cats, n_corpus


def _flag_model():
    return textclf.build_pipeline(c=4.0, cv=5, encoder="static", encoder_weight=2.0, class_weight="balanced")


def dev_call_scores(flag_model, dev: Path) -> list[tuple[str, bool, float, float, bool]]:
    """(call, is an emergency per the key, whole-caller-side score, best sentence score, a rule fired)."""
    from qa.eval.agreement import load_key
    from qa.eval.references import script_turns
    from qa.nlp.emergency import caller_sentences, rule_cue, score_sentences

    out = []
    for name, entry in load_key(dev / "answers.yaml").items():
        cands = caller_sentences(script_turns(dev / f"{name}.txt"))
        texts = [c.text for c in cands]
        scores, whole = score_sentences(flag_model, texts)
        out.append((name, bool(entry["emergency"]), whole, float(scores.max()), any(rule_cue(t) for t in texts)))
    return out


def call_thresholds(dev_scores, hard_negative_cv: np.ndarray, positive_cv: np.ndarray) -> dict[str, float]:
    emergencies = [whole for _, truth, whole, _, _ in dev_scores if truth]
    others = [best for _, truth, _, best, _ in dev_scores if not truth]
    if not emergencies or not others:
        raise ConfigError("the development calls need both emergency and non-emergency calls to set thresholds")
    whole_flag = MARGIN * min(emergencies)
    return {
        "whole_flag": whole_flag,
        "whole_review": whole_flag / 2,
        "whole_sure": min(0.9, 2 * whole_flag),
        "sentence_sure": max(SENTENCE_SURE_MIN, min(0.99, max(others) + 0.02)),
        "sentence_review": float(np.quantile(hard_negative_cv, 1 - SENTENCE_REVIEW_FPR)),
        "sentence_flag": float(np.quantile(positive_cv, 1 - SENTENCE_FLAG_RECALL)),
        "sentence_low": float(np.quantile(positive_cv, 1 - SENTENCE_LOW_RECALL)),
    }


def train_emergency(corpus: Path = MODEL_DIR / "corpus.tsv", out: Path = MODEL_DIR, dev: Path = DEV_CALLS) -> dict:
    import joblib
    from sklearn.metrics import roc_auc_score

    random.seed(SEED)
    texts, y, w, cats, n_corpus = training_data(corpus)
    p = textclf.cv_probabilities(_flag_model, texts, y, w, SEED)
    hard = np.array([c == "hard_negative" for c in cats[:n_corpus]])
    flag = _flag_model().fit(texts, y, clf__sample_weight=w)
    dev_scores = dev_call_scores(flag, dev)
    thresholds = call_thresholds(dev_scores, p[:n_corpus][hard], p[y])
    sr = thresholds["sentence_review"]
    cv = {
        "auc_corpus": round(float(roc_auc_score(y[:n_corpus], p[:n_corpus])), 4),
        "sentence_recall_at_sentence_review": round(float(np.mean(p[y] >= sr)), 4),
        "hard_negatives_at_sentence_review": round(float(np.mean(p[:n_corpus][hard] >= sr)), 4),
        "everyday_lines_at_sentence_review": round(float(np.mean(p[n_corpus:] >= sr)), 4),
        "sentence_recall_at_sentence_flag": round(float(np.mean(p[y] >= thresholds["sentence_flag"])), 4),
        "hard_negatives_at_sentence_flag": round(float(np.mean(p[:n_corpus][hard] >= thresholds["sentence_flag"])), 4),
    }
    dev_report = [
        {"call": n, "emergency": t, "whole": round(wh, 4), "best_sentence": round(b, 4), "rule": r}
        for n, t, wh, b, r in dev_scores
    ]
    em_idx = [i for i in range(n_corpus) if y[i]]
    category = textclf.build_pipeline(c=4.0, calibrate=False, encoder="static", encoder_weight=2.0).fit(
        [texts[i] for i in em_idx], [cats[i] for i in em_idx]
    )
    digest = textclf.data_hash(texts, [str(v) for v in y])
    manifest = {
        "name": "emergency",
        "version": f"1-{digest[:8]}",
        "rules_version": RULES_VERSION,
        "trained_at": dt.date.today().isoformat(),
        "corpus": {"file": corpus.name, "examples": n_corpus, "extra_negatives": len(texts) - n_corpus},
        "features": "tfidf word1-2 + char2-5 + static MiniLM table (x2) -> LR(C=4, balanced) -> sigmoid calibration",
        "thresholds": {k: round(v, 4) for k, v in thresholds.items()},
        "threshold_rule": {
            "margin": MARGIN,
            "sentence_sure_min": SENTENCE_SURE_MIN,
            "sentence_review_hard_negative_fpr": SENTENCE_REVIEW_FPR,
            "dev_calls": str(dev.relative_to(MODEL_DIR.parents[1]))
            if dev.is_relative_to(MODEL_DIR.parents[1])
            else str(dev),
        },
        "cv5": cv,
        "dev_calls": dev_report,
        "categories": sorted(set(cats[i] for i in em_idx)),
        "versions": textclf.versions(),
    }
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "model.joblib.tmp"
    joblib.dump({"flag": flag, "category": category}, tmp, compress=3)
    tmp.replace(out / "model.joblib")
    import json

    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    (out / "MODEL_CARD.md").write_text(model_card(manifest))
    return manifest


def model_card(m: dict) -> str:
    th, cv = m["thresholds"], m["cv5"]
    dev = m["dev_calls"]
    emerg = [d for d in dev if d["emergency"]]
    rows = "\n".join(
        f"| {d['call']} | {'yes' if d['emergency'] else 'no'} | {d['whole']:.3f} | {d['best_sentence']:.3f} |"
        f" {'yes' if d['rule'] else ''} |"
        for d in sorted(dev, key=lambda d: -d["whole"])[:12]
    )
    rule = m["threshold_rule"]
    threshold_rows = "\n".join(
        [
            f"| whole_flag | {th['whole_flag']:.3f} | {rule['margin']} x the lowest whole-caller-side score of the "
            f"{len(emerg)} emergencies among the development calls |",
            f"| whole_review / whole_sure | {th['whole_review']:.3f} / {th['whole_sure']:.3f} | half / twice |",
            f"| sentence_sure | {th['sentence_sure']:.3f} | above every sentence of a non-emergency development "
            f"call, at least {rule['sentence_sure_min']} |",
            f"| sentence_review | {th['sentence_review']:.3f} | reached by "
            f"{rule['sentence_review_hard_negative_fpr']:.0%} of the corpus's hard negatives (5-fold CV) |",
            f"| sentence_flag / sentence_low | {th['sentence_flag']:.3f} / {th['sentence_low']:.3f} | short caller "
            "sides: recall 0.95 / 0.99 of the corpus's emergency sentences (CV) |",
        ]
    )
    return f"""# Model card: emergency triage {m["version"]}

Decides whether a 311 caller described something that belongs with 911, recall first (qa/nlp/emergency.py: explicit
rules with negation, then this model). Input: the caller's sentences. Output: flag, needs_review, category, the
sentence and its time.

## Data
`corpus.tsv`: {m["corpus"]["examples"]} caller sentences written for the project (CORPUS.md): emergencies described
mostly indirectly (smells, sounds, sights, a person's state, threats, road hazards) and hard negatives (hydrants,
garbage smells, figurative danger, old incidents). Plus {m["corpus"]["extra_negatives"]} ordinary sentences from the
project's other corpora (danger words filtered out) and everyday conversation lines, at half weight. Negated danger
("no smoke", "nobody is hurt") is cut from every text before the model reads it (NegEx-style; negated vital signs
such as "not breathing" are kept).

## Model
{m["features"]}; a second model of the same shape names the category among {", ".join(m["categories"])}.

## Thresholds (recall first; never tuned on the frozen test set)
| threshold | value | how it was chosen |
|---|---|---|
{threshold_rows}

## Cross-validation on the corpus (5-fold)
AUC {cv["auc_corpus"]:.3f}; at sentence_flag: sentence recall {cv["sentence_recall_at_sentence_flag"]:.3f}, hard
negatives flagged {cv["hard_negatives_at_sentence_flag"]:.3f}; at sentence_review: recall
{cv["sentence_recall_at_sentence_review"]:.3f}, hard negatives {cv["hard_negatives_at_sentence_review"]:.3f}, everyday
lines {cv["everyday_lines_at_sentence_review"]:.3f}.

## Development calls (top 12 by whole-side score)
| call | emergency | whole side | best sentence | rule |
|---|---|---|---|---|
{rows}

Results on calls and sentences the project did not write: `bench/generalization.py` and the README.

## Limits
Written data only (one author's phrasings for the corpus, another's for the development calls): real callers say
things no one wrote here. A bag of word pieces does not read word order beyond two-word n-grams; negation is handled
by the cut above and by the rules. The thresholds rest on {len(emerg)} development emergencies.

## Versions
{", ".join(f"{k} {v}" for k, v in m["versions"].items())}; trained {m["trained_at"]}.
"""
