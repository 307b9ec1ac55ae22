"""Stage ``nlp.emergency``: did the caller describe something that belongs with 911? Recall first.

Two layers over the caller's sentences (all sentences when roles are unknown):
- rules: explicit cues ("I smell gas", "he's not breathing", "the house is on fire") with a short negation window
  ("nobody is hurt", "no smoke") and other senses excluded ("fire hydrant");
- a calibrated linear model (models/emergency: word and character n-grams + the static sentence encoder) trained on
  caller sentences that describe emergencies indirectly (smells, sounds, sights, a person's state, threats, road
  hazards) and on hard negatives (hydrants, garbage smells, "this pothole will kill someone one day", old incidents).
  Each sentence is scored alone and with the caller's previous sentence (indirect descriptions span sentences); the
  call's score is the best sentence's.
A rule cue or a score at or above the flag threshold raises the flag; a score between the review and the flag
thresholds, or a flag from the model alone below the sure threshold, asks for review. Thresholds were chosen for
recall on the training corpus's cross-validation and the development calls (models/emergency/MODEL_CARD.md), never
on the frozen test set. The evidence is the sentence and its time.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qa.errors import ConfigError
from qa.nlp import fastproba
from qa.nlp.sentences import sentence_text, split_turn
from qa.resources import manifest, model_path
from qa.types import Emergency, Role, Turn

RULES_VERSION = "2"
MIN_SENTENCES_FOR_WHOLE = 4  # below this the caller's side is scored sentence by sentence only
MODEL_DIR = model_path("emergency")
CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (cat, re.compile(p, re.I))
    for cat, p in (
        ("gas", r"\b(smell(s|ing)? (of |like )?(natural )?gas|gas (leak|smell)|leaking gas)\b"),
        (
            "fire_smoke",
            r"\b(on fire|(house|building|car|garage|kitchen|brush|grass|apartment) (is )?(on )?fire|flames"
            r"|burning (house|building|car))\b",
        ),
        ("fire_smoke", r"\bthere'?s a fire\b|\bfire (in|at|next door)\b"),
        (
            "fire_smoke",
            r"\b(smoke (is )?(coming|pouring)|(lot of|full of|black|thick) smoke|smell(s)? (of )?smoke)\b",
        ),
        (
            "medical",
            r"\b(injured|bleeding|(is|got|been|badly) (hurt|hit)|broke (his|her|my) (leg|arm)|can'?t (get up|move))\b",
        ),
        (
            "medical",
            r"\b(not breathing|isn'?t breathing|unconscious|unresponsive|passed out|collapsed|no pulse|heart attack)\b",
        ),
        (
            "violence_crime",
            r"\b(breaking in(to)?|break-?in (right )?now|someone (has|with) a (gun|knife)"
            r"|being (attacked|robbed|assaulted)|robbery|shots? fired|gunshots?|stabbed)\b",
        ),
        (
            "electrical_hazard",
            r"\b((power|electric(al)?) lines? (is |are )?(down|sparking|on the ground)|downed (power )?lines?"
            r"|live wires?|wires? (down|sparking))\b",
        ),
    )
)
NEGATION = re.compile(
    r"\b(no|not|nobody|no one|none|nothing|never|isn'?t|wasn'?t|aren'?t|weren'?t|without|nothing'?s|nobody'?s)"
    r"(\W+\w+){0,3}\W*$",
    re.I,
)


DANGER = re.compile(
    r"gas|smoke|fire|flame|burn|spark|wire|bleed|breath|gun|knife|shot|collaps|carbon|hurt|injur|unconscious|chest"
    r"|ambulance|alarm|explo|stab|attack|fell|faint|seiz|overdos|drown|trapped|blood|dying|body|not moving|smell",
    re.I,
)
_NEGATED = re.compile(
    r"\b(?:no|not|nobody|no one|none|nothing|never|isn'?t|wasn'?t|aren'?t|weren'?t|without|nothing'?s|nobody'?s"
    r"|won'?t|can'?t|doesn'?t|didn'?t)"
    r"\b((?:\W+[\w']+){1,3})",
    re.I,
)


_VITAL = re.compile(r"^\W+(?:\w+\W+)?(breath|mov|respond|wak|conscious|answer|awake|get up|stop|mak)", re.I)


def unnegated(text: str) -> str:
    """The text without negated danger ("no smoke", "nobody is hurt", "nothing's on fire"): what the model reads, as
    NegEx does for clinical notes. A negation whose next three words hold no danger word is left alone, and so is a
    negated vital sign ("not breathing", "won't wake up", "isn't moving"): that is the emergency."""

    def cut(m: re.Match[str]) -> str:
        scope = m.group(1)
        return " " if DANGER.search(scope) and not _VITAL.search(scope) else m.group(0)

    return _NEGATED.sub(cut, text)


def rule_cue(text: str) -> tuple[str, re.Match[str]] | None:
    """The first explicit, non-negated emergency cue in ``text``."""
    for category, pattern in CUES:
        for m in pattern.finditer(text):
            if not NEGATION.search(text[: m.start()]):
                return category, m
    return None


@functools.lru_cache(maxsize=2)
def _load(folder: str):
    import joblib

    p = Path(folder)
    try:
        manifest = json.loads((p / "manifest.json").read_text())
        model = joblib.load(p / "model.joblib")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no trained emergency model (run: qa train emergency)") from None
    return model, manifest


def score_sentences(flag_model, texts: list[str]):
    """(score per sentence: the mean of the sentence alone and with the previous one; the score of all of them as
    one text)."""
    n = len(texts)
    texts = [unnegated(t) for t in texts]
    windows = [t if k == 0 else f"{texts[k - 1]} {t}" for k, t in enumerate(texts)]
    probs = fastproba.proba(flag_model, texts + windows + [" ".join(texts)])[:, 1]
    return (probs[:n] + probs[n : 2 * n]) / 2, float(probs[-1])


def caller_sentences(turns: Sequence[Turn]) -> list[_Candidate]:
    """The caller's sentences (everyone's when no caller is known), in order."""
    callers = [i for i, t in enumerate(turns) if t.role is Role.CALLER]
    out: list[_Candidate] = []
    for i in callers or range(len(turns)):
        words = [w.word for w in turns[i].words]
        out += [_Candidate(i, s.start, sentence_text(words, s)) for s in split_turn(i, turns[i])]
    return out


@dataclass(frozen=True, slots=True)
class _Candidate:
    turn: int
    start: float
    text: str


@dataclass
class EmergencyTriage:
    """The stage: ``load()`` once per worker, then ``triage(turns)`` per call."""

    model_dir: Path = MODEL_DIR
    name: str = "nlp.emergency"

    @property
    def version(self) -> str:
        return f"{RULES_VERSION}-{manifest(self.model_dir)['version']}"

    def load(self) -> None:
        model, _ = _load(str(self.model_dir))
        model["flag"].predict_proba(["warm up"])

    def __call__(self, turns: Sequence[Turn]) -> Emergency:
        return self.triage(turns)

    def triage(self, turns: Sequence[Turn]) -> Emergency:
        cands = caller_sentences(turns)
        for c in cands:
            hit = rule_cue(c.text)
            if hit:
                return Emergency(True, hit[0], hit[1].group(0), c.turn, c.start, 1.0, False, "rule")
        if not cands:
            return Emergency(False)
        model, manifest = _load(str(self.model_dir))
        th = manifest["thresholds"]
        scores, whole = score_sentences(model["flag"], [c.text for c in cands])
        k = int(scores.argmax())
        best = float(scores[k])
        if len(cands) >= MIN_SENTENCES_FOR_WHOLE:
            flag = whole >= th["whole_flag"] or best >= th["sentence_sure"]
            sure = whole >= th["whole_sure"] or best >= th["sentence_sure"]
            review = (whole >= th["whole_review"] or best >= th["sentence_review"]) and not sure
        else:  # a few sentences (a short call, a typed text): the sentence-level operating points
            whole = best
            flag = best >= th["sentence_flag"]
            review = best >= th["sentence_low"] and best < th["sentence_sure"]
        if not (flag or review):
            return Emergency(False, score=round(whole, 3))
        c = cands[k]
        window = c.text if k == 0 else f"{cands[k - 1].text} {c.text}"
        category = str(model["category"].predict([window])[0])
        return Emergency(flag, category, c.text, c.turn, c.start, round(whole, 3), review, "model")


def detect_emergency(turns: Sequence[Turn]) -> Emergency:
    """The stage with the shipped model (convenience for scripts and tests)."""
    return EmergencyTriage().triage(turns)
