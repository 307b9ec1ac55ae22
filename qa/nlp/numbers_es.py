"""Spoken Spanish numbers to digits, with the words each came from (the Spanish side of qa/nlp/numbers.py).

"dos cuatro uno, ocho ocho" -> 241 and 88; "mil doscientos cinco" -> 1205; "dos mil seiscientos treinta y dos" -> 2632;
"veintidós" -> 22; "cero cero cuatro" -> 004. A number is read as long as each word can continue it (thousands,
then hundreds, then tens "y" units); a word that cannot ("dos cero": a unit after a unit) starts the next number, and
numbers read one after the other are concatenated, as digits read one by one are (request and phone numbers).
"un" and "una" are articles far more often than numbers and are left alone; "y" joins only tens and units.
"""

from __future__ import annotations

from qa.nlp.numbers import NumberSpan

_UNITS = {w: i for i, w in enumerate("cero uno dos tres cuatro cinco seis siete ocho nueve".split())}
_TEENS = dict(
    zip(
        "diez once doce trece catorce quince dieciseis diecisiete dieciocho diecinueve veinte veintiuno veintidos"
        " veintitres veinticuatro veinticinco veintiseis veintisiete veintiocho veintinueve".split(),
        range(10, 30),
        strict=True,
    )
)
_TENS = {w: 30 + 10 * i for i, w in enumerate("treinta cuarenta cincuenta sesenta setenta ochenta noventa".split())}
_HUNDREDS = {
    "cien": 100,
    "ciento": 100,
    "doscientos": 200,
    "doscientas": 200,
    "trescientos": 300,
    "trescientas": 300,
    "cuatrocientos": 400,
    "cuatrocientas": 400,
    "quinientos": 500,
    "quinientas": 500,
    "seiscientos": 600,
    "seiscientas": 600,
    "setecientos": 700,
    "setecientas": 700,
    "ochocientos": 800,
    "ochocientas": 800,
    "novecientos": 900,
    "novecientas": 900,
}
_FOLD = str.maketrans("áéíóúü", "aeiouu")


def _kind(tok: str) -> tuple[str, int] | None:
    t = tok.lower().translate(_FOLD)
    if t in _UNITS:
        return "unit", _UNITS[t]
    if t in _TEENS:
        return "teen", _TEENS[t]
    if t in _TENS:
        return "tens", _TENS[t]
    if t in _HUNDREDS:
        return "hundreds", _HUNDREDS[t]
    if t == "mil":
        return "mil", 1000
    return None


def is_number_word(tok: str) -> bool:
    return _kind(tok) is not None


def _read_one(tokens: list[str], i: int) -> tuple[int, int]:
    """One composed number starting at ``tokens[i]``: (value, index of its last word)."""
    total, cur, last, j = 0, 0, None, i
    k = i
    while k < len(tokens):
        kind = _kind(tokens[k])
        if kind is None:
            if (
                tokens[k].lower() == "y"
                and last == "tens"
                and k + 1 < len(tokens)
                and (_kind(tokens[k + 1]) or ("", 0))[0] == "unit"
                and _kind(tokens[k + 1])[1] > 0  # type: ignore[index]
            ):
                cur += _kind(tokens[k + 1])[1]  # type: ignore[index]
                last, j, k = "unit", k + 1, k + 2
                continue
            break
        name, value = kind
        if name == "mil":
            if last == "mil" or total:
                break
            total, cur = (cur or 1) * 1000, 0
        elif name == "hundreds":
            if cur or last in ("hundreds",):
                break
            cur = value
        elif name in ("tens", "teen"):
            if cur % 100 or last in ("unit", "teen", "tens"):
                break
            cur += value
        else:  # unit
            if last is not None and (cur % 10 or last in ("unit", "teen", "tens")):
                break
            if last == "mil" and value == 0:
                break
            cur += value
        last, j = name, k
        k += 1
    return total + cur, j


def spoken_numbers(tokens: list[str]) -> list[NumberSpan]:
    """Runs of Spanish number words in ``tokens`` (words, punctuation stripped; an empty token ends a run)."""
    spans = []
    i = 0
    while i < len(tokens):
        if _kind(tokens[i]) is None:
            i += 1
            continue
        first, digits = i, ""
        while i < len(tokens) and _kind(tokens[i]) is not None:
            value, last = _read_one(tokens, i)
            digits += str(value)
            i = last + 1
        spans.append(NumberSpan(first, i - 1, digits))
    return spans
