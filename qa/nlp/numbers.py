"""Spoken numbers to digits, keeping track of which words each number came from.

"two four one nine oh three" -> 241903, "forty one" -> 41, "one eight" -> 18, "three hundred twelve" -> 312,
"twenty twenty six" -> 2026, "double two five" -> 225, "triple seven" -> 777. Digits read one by one are concatenated
(that is how people say request numbers, house numbers and phone numbers); "oh" counts as zero and "double"/"triple"
repeat the next digit only inside a run of number words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}
TEENS = {
    w: 10 + i
    for i, w in enumerate("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())
}
TENS = {w: 20 + 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
REPEAT = {"double": 2, "triple": 3}
WORD = re.compile(r"[a-z]+|\d+|[.,;:!?]", re.I)  # punctuation is kept as a token: it ends a number


@dataclass(frozen=True, slots=True)
class NumberSpan:
    first: int  # index of the first word (in the token list) of the spoken number
    last: int  # index of the last word, inclusive
    digits: str


KIND = {
    **dict.fromkeys(UNITS, "unit"),
    **dict.fromkeys(TEENS, "teen"),
    **dict.fromkeys(TENS, "tens"),
    "hundred": "hundred",
    "oh": "oh",
    **dict.fromkeys(REPEAT, "repeat"),
}


def number_word_kind(tok: str) -> str | None:
    return KIND.get(tok) or KIND.get(tok.lower())


def spoken_numbers(tokens: list[str], lower: bool = False) -> list[NumberSpan]:
    """Find runs of number words in ``tokens`` (words, punctuation stripped) and convert each run to digits.
    ``lower``: the tokens are lower case already (one dictionary lookup a token)."""
    kinds = list(map(KIND.get, tokens)) if lower else [KIND.get(t) or KIND.get(t.lower()) for t in tokens]
    if not any(kinds):
        return []
    spans = []
    i = 0
    while i < len(tokens):
        kind = kinds[i]
        starts = kind not in (None, "oh", "hundred", "repeat") or (
            kind == "repeat" and i + 1 < len(tokens) and kinds[i + 1] in ("unit", "oh")
        )
        if not starts:
            i += 1
            continue
        j = i
        while j + 1 < len(tokens) and kinds[j + 1] is not None:
            j += 1
        run = tokens[i : j + 1]
        spans.append(NumberSpan(i, j, _digits(run if lower else [t.lower() for t in run])))
        i = j + 1
    return spans


def _digits(words: list[str]) -> str:
    out = []
    k = 0
    while k < len(words):
        w = words[k]
        if w in REPEAT:
            nxt = words[k + 1] if k + 1 < len(words) else None
            if nxt in UNITS or nxt == "oh":
                out.append(str(0 if nxt == "oh" else UNITS[nxt]) * REPEAT[w])
                k += 2
            else:
                k += 1
            continue
        if w in TENS:
            if k + 1 < len(words) and words[k + 1] in UNITS and words[k + 1] != "zero":
                out.append(str(TENS[w] + UNITS[words[k + 1]]))
                k += 2
                continue
            out.append(str(TENS[w]))
        elif w in TEENS:
            out.append(str(TEENS[w]))
        elif w in UNITS or w == "oh":
            value = 0 if w == "oh" else UNITS[w]
            if k + 1 < len(words) and words[k + 1] == "hundred":
                rest = words[k + 2 :]
                tail = 0
                step = 0
                if rest and rest[0] in TENS:
                    tail = TENS[rest[0]]
                    step = 1
                    if len(rest) > 1 and rest[1] in UNITS and rest[1] != "zero":
                        tail += UNITS[rest[1]]
                        step = 2
                elif rest and rest[0] in TEENS:
                    tail, step = TEENS[rest[0]], 1
                elif rest and rest[0] in UNITS:
                    tail, step = UNITS[rest[0]], 1
                out.append(str(value * 100 + tail))
                k += 2 + step
                continue
            out.append(str(value))
        k += 1
    return "".join(out)


def with_digits(tokens: list[str], spans: list[NumberSpan]) -> list[str]:
    """``tokens`` with each span of number words replaced by its digits (one token per number)."""
    first = {s.first: s for s in spans}
    out, i = [], 0
    while i < len(tokens):
        if i in first:
            out.append(first[i].digits)
            i = first[i].last + 1
        else:
            out.append(tokens[i])
            i += 1
    return out


def normalize_numbers(text: str) -> str:
    """The text with every spoken number written as digits (other words untouched). Punctuation ends a number
    ("three one one, forty one" is 311 and 41) and is then dropped."""
    return " ".join(number_tokens(text))


def number_tokens(text: str, lower: bool = False) -> list[str]:
    """:func:`normalize_numbers` as a list of tokens (words and digits, punctuation dropped)."""
    tokens = WORD.findall(text)
    spans = spoken_numbers(tokens, lower)
    return [t for t in (with_digits(tokens, spans) if spans else tokens) if t not in _PUNCT]


_PUNCT = frozenset(".,;:!?")
