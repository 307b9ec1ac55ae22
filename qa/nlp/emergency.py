"""Emergency cues: the caller describes something that belongs with 911, not 311.

Rules over the caller's turns (or all turns when roles are unknown), with a short negation window so "nobody is
hurt" or "no smoke" does not raise the flag. The first cue found is reported with its turn and time; a scorecard
then checks that the agent transferred the call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.types import Emergency, Role, Turn

VERSION = "1"
CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (cat, re.compile(p, re.I))
    for cat, p in (
        ("gas_leak", r"\b(smell(s|ing)? (of |like )?gas|gas (leak|smell)|leaking gas)\b"),
        (
            "fire",
            r"\b(on fire|(house|building|car|garage|kitchen|brush|grass) (is )?(on )?fire|flames"
            r"|burning (house|building|car))\b",
        ),
        ("fire", r"\bthere'?s a fire\b|\bfire (in|at|next door)\b"),
        ("smoke", r"\b(smoke (is )?(coming|pouring)|(lot of|full of|black|thick) smoke|smell(s)? (of )?smoke)\b"),
        (
            "injury",
            r"\b(injured|bleeding|(is|got|been|badly) (hurt|hit)|broke (his|her|my) (leg|arm)|can'?t (get up|move))\b",
        ),
        (
            "not_breathing",
            r"\b(not breathing|isn'?t breathing|unconscious|unresponsive|passed out|collapsed|no pulse|heart attack)\b",
        ),
        (
            "crime_in_progress",
            r"\b(breaking in(to)?|break-?in (right )?now|someone (has|with) a (gun|knife)"
            r"|being (attacked|robbed|assaulted)|robbery|shots? fired|gunshots?|stabbed)\b",
        ),
        (
            "downed_power_line",
            r"\b((power|electric(al)?) lines? (is |are )?(down|sparking|on the ground)|downed (power )?lines?"
            r"|live wires?|wires? (down|sparking))\b",
        ),
    )
)
NEGATION = re.compile(r"\b(no|not|nobody|no one|none|never|isn'?t|wasn'?t|aren'?t|without)\b(\W+\w+){0,3}\W*$", re.I)


def detect_emergency(turns: Sequence[Turn]) -> Emergency:
    callers = [(i, t) for i, t in enumerate(turns) if t.role is Role.CALLER]
    scope = callers or list(enumerate(turns))
    for i, turn in scope:
        for category, pattern in CUES:
            for m in pattern.finditer(turn.text):
                if NEGATION.search(turn.text[: m.start()]):
                    continue
                return Emergency(True, category, m.group(0), i, _time_of(turn, m.start()))
    return Emergency(False)


def _time_of(turn: Turn, char: int) -> float:
    """Start time of the word at character ``char`` of the turn's text (words are joined by single spaces)."""
    pos = 0
    for w in turn.words:
        if pos + len(w.word) >= char:
            return w.start
        pos += len(w.word) + 1
    return turn.start
