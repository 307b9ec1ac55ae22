"""Word error rate with a small, documented text normaliser.

Normalisation (applied to reference and hypothesis alike): lower case; hyphens and slashes become spaces; other
punctuation is dropped; digits are spelled one by one ("311" -> "three one one", Whisper's usual rendering of digit
strings spoken one by one); ordinals up to 31st are spelled ("10th" -> "tenth"); a few spoken variants are unified
("oh" between digits -> "zero", "okay"/"ok"). Anything subtler (Whisper's full English normaliser) is out of scope:
the point is a stable, comparable number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_DIGITS = "zero one two three four five six seven eight nine".split()
_ORD = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
    "fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
).split()


def _suffix(i: int) -> str:
    if i % 10 == 1 and i != 11:
        return "st"
    if i % 10 == 2 and i != 12:
        return "nd"
    return "rd" if i % 10 == 3 and i != 13 else "th"


_ORDINALS = {f"{i}{_suffix(i)}": w for i, w in enumerate(_ORD, 1)}
_ORDINALS.update(
    {
        "21st": "twenty first",
        "22nd": "twenty second",
        "23rd": "twenty third",
        "30th": "thirtieth",
        "31st": "thirty first",
    }
)
_SAME = {"ok": "okay", "mr": "mister", "mrs": "missus", "dr": "doctor", "st": "street", "ave": "avenue"}


def normalize(text: str) -> list[str]:
    text = text.lower().replace("’", "'")
    text = re.sub(r"[-/]", " ", text)
    text = re.sub(r"[^\w\s']", " ", text)
    words: list[str] = []
    for tok in text.split():
        tok = tok.strip("'")
        if not tok:
            continue
        if tok in _ORDINALS:
            words.extend(_ORDINALS[tok].split())
        elif tok.isdigit():
            words.extend(_DIGITS[int(d)] for d in tok)
        else:
            words.append(_SAME.get(tok, tok))
    # "oh" read as a digit among digits
    for i, w in enumerate(words):
        if w == "oh" and (i > 0 and words[i - 1] in _DIGITS) and (i + 1 < len(words) and words[i + 1] in _DIGITS):
            words[i] = "zero"
    return words


@dataclass(frozen=True, slots=True)
class WerResult:
    errors: int
    ref_words: int
    substitutions: int
    deletions: int
    insertions: int

    @property
    def wer(self) -> float:
        return self.errors / self.ref_words if self.ref_words else float(self.errors > 0)

    def __add__(self, other: WerResult) -> WerResult:
        return WerResult(
            self.errors + other.errors,
            self.ref_words + other.ref_words,
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
        )


def word_errors(reference: str, hypothesis: str) -> WerResult:
    ref, hyp = normalize(reference), normalize(hypothesis)
    n, m = len(ref), len(hyp)
    # Levenshtein over words; each cell keeps (cost, subs, dels, ins) to report the breakdown.
    d = np.zeros((n + 1, m + 1, 4), dtype=np.int64)
    d[:, 0, 0] = d[:, 0, 2] = np.arange(n + 1)
    d[0, :, 0] = d[0, :, 3] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if ref[i - 1] == hyp[j - 1]:
                d[i, j] = d[i - 1, j - 1]
                continue
            sub, dele, ins = d[i - 1, j - 1], d[i - 1, j], d[i, j - 1]
            best = min((sub, 1), (dele, 2), (ins, 3), key=lambda x: x[0][0])
            d[i, j] = best[0]
            d[i, j, 0] += 1
            d[i, j, best[1]] += 1
    c = d[n, m]
    return WerResult(int(c[0]), n, int(c[1]), int(c[2]), int(c[3]))
