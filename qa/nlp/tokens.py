"""The one tokenisation of spoken text for matching: lower case, accents folded, spoken numbers as digits
("two four one" -> "241"), Whisper's "3 -1 -1" as "311". Used by the scorecard engine's phrases and by the redaction of
evidence quotes, so a quote and the personal data found in its turn meet as the same tokens."""

from __future__ import annotations

import re

from qa.nlp.language import fold_accents
from qa.nlp.numbers import normalize_numbers

_NUMBER_WORD = re.compile(
    r"\b(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty|thirty|forty|fifty"
    r"|sixty|seventy|eighty|ninety|hundred)\b"
)
_TOKEN = re.compile(r"[a-z0-9']+")
_DIGIT_DASH = re.compile(r"(\d)\s+-(?=\d)")


def norm_tokens(text: str) -> list[str]:
    if not text.isascii():  # "dirección" and "direccion" are one word (accents come and go in recognition)
        text = fold_accents(text)
    text = _DIGIT_DASH.sub(r"\1", text).lower().replace("-", " ")  # Whisper's "3 -1 -1" is 311
    if _NUMBER_WORD.search(text):  # most turns hold no spoken number: skip the normaliser
        text = normalize_numbers(text)
    return _TOKEN.findall(text)
