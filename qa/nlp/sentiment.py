"""Stage ``nlp.sentiment``: negative / neutral / positive per turn, and per role over the call.

VADER's lexicon (shipped in ``vaderSentiment``) scores written social-media text; callers complain in other words.
Spoken complaint cues it misses ("third time I'm calling", "nobody ever listens", "still waiting", "every single
day") pull the score down, and a caller's bare acknowledgement ("okay", "yes") stays neutral. The caller's mood at
the start and the end of the call, and whether it improved (de-escalation), is what a supervisor looks at.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from qa.types import CallerArc, Role, RoleSentiment, Sentiment, TurnSentiment

VERSION = "3"
POSITIVE_AT = 0.3
NEGATIVE_AT = -0.25

# (pattern, shift of the compound score): complaint and relief as people say them on the phone.
SPOKEN_CUES: tuple[tuple[re.Pattern[str], float], ...] = tuple(
    (re.compile(p, re.I), w)
    for p, w in (
        (r"\b(second|third|fourth|fifth|\w+th) time (i'?m |i am |i'?ve |i have )?(call|report)", -0.6),
        (r"\b(called|reported|asked)( this| it)? (two|three|four|five|several|many|multiple) times\b", -0.6),
        (r"\b(nobody|no one|you people) (ever )?(listens?|does anything|do anything|came|comes|cares?)\b", -0.6),
        (r"\b(still waiting|waiting forever|been waiting|keeps? happening|again)\b", -0.3),
        (r"\bevery single (day|night|morning|week)\b", -0.4),
        (r"\b(sick and tired|fed up|unacceptable|a joke|ridiculous|worst)\b", -0.5),
        (r"\b(not|isn'?t|wasn'?t) (happy|ok|okay|acceptable|good enough)( at all)?\b", -0.5),
        (r"\b(what are you going to do|why does it take|can'?t believe)\b", -0.5),
        (r"\b(need|want) (it|this) (to stop|fixed) (now|today|right now)\b", -0.5),
        (r"\b(nothing i can do|not my problem|calm down)\b", -0.6),
        (r"\b(scared|worried|afraid|freezing)\b", -0.3),
        (r"\b(that'?s (really |very )?helpful|appreciate|glad|great news|amazing job)\b", 0.3),
        # An apology on a service call is empathy, not negativity ("I'm sorry to hear that").
        (r"\b(i'?m|i am|so|very|really) sorry\b|\bi apologi[sz]e\b", 0.4),
    )
)


@functools.lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def score_text(text: str) -> float:
    """Compound score in [-1, 1]: VADER plus the spoken-language cues."""
    base = _analyzer().polarity_scores(text)["compound"]
    shift = sum(w for p, w in SPOKEN_CUES if p.search(text))
    return max(-1.0, min(1.0, base + shift))


def label_of(score: float) -> str:
    return "positive" if score >= POSITIVE_AT else "negative" if score <= NEGATIVE_AT else "neutral"


def classify(text: str) -> tuple[str, float]:
    s = score_text(text)
    return label_of(s), s


def call_sentiment(turns: Sequence, emergency: bool = False, caller_state=None) -> Sentiment:
    """``caller_state``: the (model, manifest) of qa/nlp/caller_state.py; None = lexicon only (no ``upset``)."""
    per_turn = []
    for i, t in enumerate(turns):
        label, s = classify(t.text)
        per_turn.append(TurnSentiment(i, t.role.value, label, s))
    caller = [x for x in per_turn if x.role == Role.CALLER.value]
    agent = [x for x in per_turn if x.role == Role.AGENT.value]
    arc = _caller_arc(caller)
    if arc is not None and caller_state is not None:
        arc = _with_upset(arc, turns, emergency, *caller_state)
    return Sentiment(VERSION, tuple(per_turn), arc, _mean(agent))


def _with_upset(arc: CallerArc, turns: Sequence, emergency: bool, model, manifest) -> CallerArc:
    from dataclasses import replace

    from qa.nlp.caller_state import call_score

    score, where = call_score(model, turns)
    th = manifest["thresholds"]
    upset = emergency or score >= th["upset"]
    # Near the threshold either way, or "upset" without the model being sure of it (calibrated probability below
    # ``upset_sure``): a person decides whether empathy was called for, the item never says "no" on a guess.
    sure = th.get("upset_sure", 1.0)
    review = not emergency and (abs(score - th["upset"]) < th["review_band"] or th["upset"] <= score < sure)
    turn, time = (where[0], where[1]) if where else (None, None)
    return replace(arc, upset=upset, upset_score=round(score, 3), upset_review=review, upset_turn=turn, upset_time=time)


def _mean(items: Sequence[TurnSentiment]) -> RoleSentiment | None:
    if not items:
        return None
    s = sum(x.score for x in items) / len(items)
    return RoleSentiment(label_of(s), s)


def _caller_arc(items: Sequence[TurnSentiment]):
    """Start = the caller's first two turns, end = the last two; de-escalated when it started negative and did not end
    negative."""
    if not items:
        return None
    k = 2 if len(items) >= 4 else 1
    start, end = _mean(items[:k]), _mean(items[-k:])
    worst = min(items, key=lambda x: x.score)
    return CallerArc(
        start=start,
        end=end,
        change=end.score - start.score,
        de_escalated=start.label == "negative" and end.label != "negative",
        was_negative=worst.label == "negative",
        most_negative_turn=worst.turn,
    )
