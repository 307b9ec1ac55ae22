"""Make written utterances look like what speech recognition hands us: no case or punctuation, fillers, stutters,
dropped words, misrecognitions. Deterministic for a given seed, so training is reproducible."""

from __future__ import annotations

import random
import re

FILLERS = ("uh", "um", "like", "you know", "so", "yeah", "okay")
# Misrecognitions seen on telephone audio (and written variants) for words that matter to 311.
CONFUSIONS = {
    "pothole": ["paul hole", "pot hole", "pothold"],
    "streetlight": ["street light", "street lite"],
    "trash": ["trashed", "crash"],
    "garbage": ["garbidge"],
    "graffiti": ["graffitti", "the graffiti"],
    "sewer": ["sewage", "suer"],
    "rats": ["rots", "rat"],
    "heat": ["he", "heats"],
    "hydrant": ["hide rant"],
    "encampment": ["in campment", "camp"],
    "abandoned": ["abandon", "a band in"],
    "mattress": ["matrix", "mattresses"],
    "sidewalk": ["side walk"],
    "request": ["requests", "quest"],
    "picked": ["pick", "picket"],
}


def to_asr_style(text: str) -> str:
    text = text.lower().replace("'", "'")
    text = re.sub(r"[^\w\s']", " ", text)
    return " ".join(text.split())


def noisy_variant(text: str, rng: random.Random) -> str:
    words = to_asr_style(text).split()
    out: list[str] = []
    for w in words:
        if w in CONFUSIONS and rng.random() < 0.35:
            out.extend(rng.choice(CONFUSIONS[w]).split())
            continue
        if rng.random() < 0.07 and len(words) > 4:  # dropped word
            continue
        if rng.random() < 0.05:  # stutter
            out.append(w)
        out.append(w)
        if rng.random() < 0.08:
            out.extend(rng.choice(FILLERS).split())
    if rng.random() < 0.3:
        out = rng.choice(FILLERS).split() + out
    return " ".join(out) or to_asr_style(text)


def augment(texts: list[str], labels: list[str], copies: int, seed: int) -> tuple[list[str], list[str]]:
    """Originals, their ASR-style form, and ``copies`` noisy variants each."""
    rng = random.Random(seed)
    xs, ys = [], []
    for t, y in zip(texts, labels, strict=True):
        xs += [t, to_asr_style(t)] + [noisy_variant(t, rng) for _ in range(copies)]
        ys += [y] * (2 + copies)
    return xs, ys
