"""Caller state: was the caller upset (angry, frustrated, worried, distressed)? Part of stage ``nlp.sentiment``.

The lexicon score (VADER) mistakes a calm description of a bad problem ("the smell is awful") for an upset caller;
this model was trained on caller sentences that make exactly that distinction (models/sentiment/caller_state.tsv).
The call's score is the mean of its caller's two most upset sentences; within the review band of the threshold the
answer is left to a person.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.errors import ConfigError
from qa.nlp import fastproba
from qa.resources import model_path
from qa.types import Role, Turn

MODEL_DIR = model_path("caller_state")


@functools.lru_cache(maxsize=2)
def load_model(folder: str | Path = MODEL_DIR):
    import joblib

    p = Path(folder)
    try:
        return joblib.load(p / "model.joblib"), json.loads((p / "manifest.json").read_text())
    except FileNotFoundError:
        raise ConfigError(f"{p}: no trained caller-state model (run: qa train caller-state)") from None


def call_score(model, turns: Sequence[Turn]) -> tuple[float, tuple[int, float, str] | None]:
    """(score, (turn, time, sentence) of the most upset caller sentence); (0, None) when the caller said nothing."""
    from qa.nlp.sentences import sentence_text, split_turn

    cands = []
    for i, t in enumerate(turns):
        if t.role is Role.CALLER:
            words = [w.word for w in t.words]
            cands += [(i, s.start, sentence_text(words, s)) for s in split_turn(i, t)]
    if not cands:
        return 0.0, None
    p = fastproba.proba(model, [c[2] for c in cands])[:, 1]
    top = np.sort(p)[-2:]
    return float(top.mean()), cands[int(p.argmax())]
