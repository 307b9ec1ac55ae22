"""The one tokenisation of spoken text for matching: lower case, accents folded, spoken numbers as digits
("two four one" -> "241"), Whisper's "3 -1 -1" as "311". Used by the scorecard engine's phrases and by the redaction of
evidence quotes, so a quote and the personal data found in its turn meet as the same tokens; ``Line`` is a turn in
those tokens (the engine's phrase rules and the LLM stage's quote checks read the same)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from qa.nlp.language import fold_accents
from qa.nlp.numbers import number_tokens

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
        tokens = number_tokens(text, lower=True)  # [a-z]+ or digits: what _TOKEN finds in their joined form
        return tokens if text.isascii() else _TOKEN.findall(" ".join(tokens))
    return _TOKEN.findall(text)


@dataclass(frozen=True, slots=True)
class Line:
    """One turn as matching reads it: its index in the call, role, times and normalised tokens."""

    index: int
    role: str
    start: float
    end: float
    tokens: tuple[str, ...]


TOKENS_VERSION = "1"  # bump when norm_tokens changes: stored tokens of another version are not read


def _crc(text: str) -> int:
    return zlib.crc32(f"{TOKENS_VERSION}\0{text}".encode())


def stored_tokens(text: str) -> dict[str, Any]:
    """What a call document keeps beside a turn's text so that re-scoring does not normalise it again: the tokens
    (space separated) and a checksum of the normaliser's version and the text they were made from."""
    return {"tokens": " ".join(norm_tokens(text)), "tokens_crc": _crc(text)}


def turn_tokens(turn: Mapping[str, Any]) -> tuple[str, ...]:
    """A document turn's tokens: the stored ones when they were made from this text by this normaliser, else
    normalised now (documents from before, hand-edited text, a scrubbed transcript)."""
    text = turn["text"]
    stored = turn.get("tokens")
    if isinstance(stored, str) and turn.get("tokens_crc") == _crc(text):
        return tuple(stored.split())
    return tuple(norm_tokens(text))


def lines_of_doc(turns: Iterable[Mapping[str, Any]]) -> tuple[Line, ...]:
    """The turns of a call document (``turns`` or ``redacted``) as :class:`Line`s."""
    return tuple(
        Line(i, str(t.get("role", "unknown")), float(t["start"]), float(t["end"]), turn_tokens(t))
        for i, t in enumerate(turns)
    )
