"""PII redaction: personal data in turns replaced by typed placeholders (``[PHONE]``), word timestamps kept, so the
same spans can be silenced or toned out in exported audio. On by default in exports.

Redacted: person names, phone numbers, e-mails, SSNs, card numbers, dates of birth, and the house number of a street
address (the street stays: it is where the pothole is; the number ties it to a resident). Request numbers, street
names and cross streets are kept: they are what the call is about.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from qa.nlp.numbers import number_word_kind
from qa.nlp.tokens import norm_tokens
from qa.types import Entity, Turn, Word

PII_TYPES = frozenset({"PERSON", "PHONE", "EMAIL", "SSN", "CARD", "DOB", "ADDRESS"})


def pii_words(entities: Sequence[Entity], turns: Sequence[Turn]) -> dict[int, dict[int, str]]:
    """turn index -> {word index: placeholder type} for every word that carries personal data."""
    out: dict[int, dict[int, str]] = {}
    for e in entities:
        if e.type not in PII_TYPES:
            continue
        for w in range(e.first_word, e.last_word + 1):
            if e.type == "ADDRESS":  # only the house number
                token = turns[e.turn].words[w].word.strip(".,")
                if not (token.isdigit() or number_word_kind(token) is not None):
                    continue
            out.setdefault(e.turn, {})[w] = e.type
    return out


def redact_turns(turns: Sequence[Turn], entities: Sequence[Entity]) -> tuple[Turn, ...]:
    marks = pii_words(entities, turns)
    out = []
    for ti, turn in enumerate(turns):
        m = marks.get(ti)
        if not m:
            out.append(turn)
            continue
        words: list[Word] = []
        prev_type, prev_idx = None, -2
        for wi, w in enumerate(turn.words):
            kind = m.get(wi)
            if kind is None:
                words.append(w)
            elif kind == prev_type and wi == prev_idx + 1:  # extend the placeholder over the whole span
                words[-1] = replace(words[-1], end=w.end)
            else:
                words.append(Word(w.start, w.end, f"[{kind}]", 1.0))
            prev_type, prev_idx = (kind, wi) if kind else (None, -2)
        out.append(replace(turn, words=tuple(words), text=" ".join(x.word for x in words)))
    return tuple(out)


def silence_spans(
    audio: np.ndarray, rate: int, spans: Sequence[tuple[float, float]], tone_hz: float | None = None
) -> np.ndarray:
    """Exported audio with the PII spans silenced, or replaced by a tone (``tone_hz``)."""
    y = audio.copy()
    for s, e in spans:
        a, b = max(0, int(s * rate)), min(y.shape[-1], int(e * rate))
        if b <= a:
            continue
        if tone_hz:
            t = np.arange(b - a) / rate
            y[..., a:b] = 0.1 * np.sin(2 * np.pi * tone_hz * t)
        else:
            y[..., a:b] = 0.0
    return y


def pii_spans(turns: Sequence[Turn], entities: Sequence[Entity]) -> list[tuple[float, float]]:
    marks = pii_words(entities, turns)
    return [(turns[t].words[w].start, turns[t].words[w].end) for t, ws in marks.items() for w in ws]


# ------------------------------------------------------------------------------- quotes from a stored document
_DIGITS = re.compile(r"\d+")


def pii_tokens(doc: Mapping[str, Any]) -> dict[int, dict[str, str]]:
    """turn index -> {normalised token: placeholder type} for the personal data found in that turn."""
    out: dict[int, dict[str, str]] = {}
    turns = doc.get("turns") or []
    for e in doc.get("entities") or []:
        if e["type"] not in PII_TYPES or e["turn"] >= len(turns):
            continue
        words = turns[e["turn"]].get("words") or []
        toks = set(norm_tokens(e["value"]))
        for w in words[e["first_word"] : e["last_word"] + 1]:
            toks.update(norm_tokens(w["word"]))
        if e["type"] == "ADDRESS":  # only the house number is personal (as in the redacted transcript)
            toks = {t for t in toks if t.isdigit()}
        marks = out.setdefault(e["turn"], {})
        for t in toks:
            marks[t] = e["type"]
        if e["type"] in ("PHONE", "SSN", "CARD", "DOB"):
            marks["\x00digits:" + "".join(_DIGITS.findall(e["value"]))] = e["type"]
    return out


def redact_quote(quote: str, marks: Mapping[str, str]) -> str:
    if not marks:
        return quote
    digit_runs = [(k[8:], v) for k, v in marks.items() if k.startswith("\x00digits:") and len(k) > 8]
    out: list[str] = []
    for tok in quote.split():
        # quotes are normalised tokens, cues and sentence evidence are raw text ("Rosa,"): look both up
        kind = marks.get(tok) or next((marks[n] for n in norm_tokens(tok) if n in marks), None)
        if kind is None and tok.isdigit():
            kind = next((v for d, v in digit_runs if tok in d), None)
        tag = f"[{kind}]" if kind else tok
        if not (kind and out and out[-1] == tag):
            out.append(tag)
    return " ".join(out)
