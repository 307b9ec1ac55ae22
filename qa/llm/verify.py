"""What the program checks in the model's output, so no claim without its words in the call reaches a result.

- ``find_quote``: the sentence the model copied occurs in the turns of the role asked about (case, punctuation and
  number forms normalised as the scorecard's phrase rules do: "three one one", "3-1-1" and "311" are one; a copy
  that differs by a word or two in a long sentence still counts). The evidence kept is the call's own words, never
  the model's copy.
- ``missing_facts``: every number and every capitalised name in a summary field is looked up in the call's words; what
  is not there is reported, and the caller drops the field.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.nlp.tokens import Line, norm_tokens
from qa.types import Turn

MIN_QUOTE_TOKENS = 3  # "yes sir" proves nothing
FUZZY_MIN = 0.85  # token-level similarity of a copy that is not exact (SequenceMatcher ratio)


@dataclass(frozen=True, slots=True)
class QuoteMatch:
    turn: int
    role: str
    start: float
    end: float
    quote: str  # the call's words (normalised tokens), not the model's copy
    exact: bool


def lines_of_turns(turns: Sequence[Turn]) -> tuple[Line, ...]:
    return tuple(Line(i, str(t.role), t.start, t.end, tuple(norm_tokens(t.text))) for i, t in enumerate(turns))


def _joined(tokens: Sequence[str]) -> list[str]:
    """Adjacent digit tokens joined ("3 1 1" -> "311", "1 200" -> "1200") so number forms compare equal."""
    out: list[str] = []
    for t in tokens:
        if t.isdigit() and out and out[-1].isdigit():
            out[-1] += t
        else:
            out.append(t)
    return out


def find_quote(quote: str, lines: Sequence[Line], role: str = "any") -> QuoteMatch | None:
    """Where ``quote`` occurs in a turn of ``role`` ("any": every turn), exactly or as a near copy; None if nowhere."""
    q = _joined(norm_tokens(quote))
    if len(q) < MIN_QUOTE_TOKENS:
        return None
    digits = {t for t in q if any(c.isdigit() for c in t)}
    best: tuple[float, Line, int, int] | None = None
    for line in lines:
        if role != "any" and line.role != role:
            continue
        toks = _joined(line.tokens)
        n = len(q)
        for i in range(0, max(1, len(toks) - n + 1)):
            if toks[i : i + n] == q:
                return QuoteMatch(line.index, line.role, line.start, line.end, " ".join(toks[i : i + n]), True)
        sm = difflib.SequenceMatcher(None, q, toks, autojunk=False)
        if sm.find_longest_match(0, len(q), 0, len(toks)).size < 2:
            continue
        for width in range(max(MIN_QUOTE_TOKENS, n - 2), n + 3):
            for i in range(0, max(1, len(toks) - width + 1)):
                window = toks[i : i + width]
                if not digits <= set(window):  # a number must be copied exactly
                    continue
                ratio = difflib.SequenceMatcher(None, q, window, autojunk=False).ratio()
                if ratio >= FUZZY_MIN and (best is None or ratio > best[0]):
                    best = (ratio, line, i, width)
    if best is None:
        return None
    _, line, i, width = best
    toks = _joined(line.tokens)
    return QuoteMatch(line.index, line.role, line.start, line.end, " ".join(toks[i : i + width]), False)


_ORDINALS = {
    w: str(i + 1)
    for i, w in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
        "fifteenth sixteenth seventeenth eighteenth nineteenth twentieth".split()
    )
}
_ORD_SUFFIX = re.compile(r"^(\d+)(?:st|nd|rd|th)$")
_CAPITALISED = re.compile(r"\b[A-Z][A-Za-z'\-]+")
# Capitalised words a summary uses that are not facts about this call (sentence starts, the parties, headings).
_ORDINARY = frozenset(
    """a an the this that these those it its he she they them their his her i we you your our caller agent resident
    customer representative operator someone nobody no yes not none unknown request number reason outcome next step
    action actions after before when while during then also and but or so because if as at by for from in into of
    on to with without will would should could can may might must has have had is are was were be been being do does
    did said says asked told gave give given confirmed reported called calling explained provided noted requested
    mentioned informed advised offered thanked transferred created filed logged submitted scheduled""".split()
)


def number_vocabulary(lines: Sequence[Line]) -> frozenset[str]:
    """Every number said in the call, in digits: each digit token, each run of adjacent digit tokens joined, and
    ordinals ("ninth", "9th" -> 9; "thirty first" -> 31)."""
    out: set[str] = set()
    for line in lines:
        toks = list(line.tokens)
        for i, t in enumerate(toks):
            if t in _ORDINALS:
                out.add(_ORDINALS[t])
                if i and toks[i - 1].isdigit() and toks[i - 1].endswith("0"):
                    out.add(str(int(toks[i - 1]) + int(_ORDINALS[t])))
            m = _ORD_SUFFIX.match(t)
            if m:
                out.add(m.group(1))
        run: list[str] = []
        for t in [*toks, ""]:
            if t.isdigit():
                run.append(t)
                continue
            for a in range(len(run)):
                for b in range(a + 1, min(len(run), a + 8) + 1):
                    out.add("".join(run[a:b]))
            run = []
    return frozenset(out)


def word_vocabulary(lines: Sequence[Line]) -> frozenset[str]:
    return frozenset(t for line in lines for t in line.tokens)


def facts(text: str) -> tuple[list[str], list[str]]:
    """(numbers, names) stated in ``text``: numbers in digits (adjacent digit groups joined, ordinals as numbers),
    names as the capitalised words that are not ordinary sentence words."""
    numbers: list[str] = []
    for t in _joined(norm_tokens(text)):
        m = _ORD_SUFFIX.match(t)
        if m:
            numbers.append(m.group(1))
        elif t.isdigit():
            numbers.append(t)
    names = [w for w in _CAPITALISED.findall(text) if w.lower() not in _ORDINARY]
    return numbers, names


def missing_facts(text: str, numbers_said: frozenset[str], words_said: frozenset[str]) -> list[str]:
    """The numbers and names of ``text`` that the call does not contain (empty: every fact checked out)."""
    nums, names = facts(text)
    out = [n for n in nums if n not in numbers_said]
    for name in names:
        toks = norm_tokens(name)
        if toks and not all(t in words_said or t in numbers_said for t in toks):
            out.append(name)
    return out
