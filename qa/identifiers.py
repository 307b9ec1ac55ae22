"""Identifiers (agent ids, team and queue names, user names) and short free text, checked where they enter: the API,
the manifest loader and the CLI all call these functions, so a value is refused the same way wherever it comes from.

An identifier ends up in URLs, file names, spreadsheet cells, log lines and SQL filters. A control character (Unicode
category Cc: NUL, CR, LF, ...) or a format character (Cf: bidi overrides such as U+202E, zero-width joiners) makes the
same id look different (or the same as another) to a person, breaks XLSX files and CSV rows, and NUL is refused by
PostgreSQL; a lone surrogate cannot be stored at all, and U+FFFE/U+FFFF break XLSX; surrounding whitespace makes
"east" and "east " two teams.
"""

from __future__ import annotations

import unicodedata

from qa.errors import ConfigError

MAX_IDENTIFIER = 100
MAX_TEXT = 10_000
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


# Unicode categories an identifier may not hold: Cs (a lone surrogate: not encodable as UTF-8, so PostgreSQL and every
# file format refuse it), Cn (unassigned code points and the non-characters U+FFFE, U+FFFF, U+FDD0..U+FDEF: XML, and so
# XLSX, forbids U+FFFE and U+FFFF).
_REFUSED = {
    "Cc": "a control character",
    "Cf": "an invisible formatting character",
    "Cs": "a surrogate",
    "Cn": "an unassigned code point or non-character",
}


def _unencodable(c: str) -> bool:
    """A lone surrogate or a non-character (U+FDD0..U+FDEF and the last two code points of every plane)."""
    o = ord(c)
    return 0xD800 <= o <= 0xDFFF or 0xFDD0 <= o <= 0xFDEF or (o & 0xFFFE) == 0xFFFE


class IdentifierError(ConfigError):
    """An identifier or text value that callqa refuses; the message names the field and what is wrong."""

    kind = "identifier"


def _char(c: str) -> str:
    name = unicodedata.name(c, "")
    return f"U+{ord(c):04X}" + (f" {name}" if name else "")


def check_identifier(value: str, field: str, max_length: int = MAX_IDENTIFIER) -> str:
    """``value`` unchanged when it is a usable identifier; else IdentifierError naming ``field``."""
    if not isinstance(value, str):
        raise IdentifierError(f"{field}: must be text")
    if not value:
        raise IdentifierError(f"{field}: empty")
    if len(value) > max_length:
        raise IdentifierError(f"{field}: longer than {max_length} characters ({len(value)})")
    for i, c in enumerate(value):
        cat = unicodedata.category(c)
        if cat in _REFUSED:
            raise IdentifierError(f"{field}: contains {_REFUSED[cat]} ({_char(c)}) at position {i + 1}")
    if value != value.strip():
        raise IdentifierError(f"{field}: has leading or trailing whitespace")
    return value


def check_text(value: str, field: str, max_length: int = MAX_TEXT) -> str:
    """Free text people write (comments, reasons, notes): line breaks and tabs are fine; NUL, other control
    characters and bidi overrides (which make text read differently from what it says) are not."""
    if len(value) > max_length:
        raise IdentifierError(f"{field}: longer than {max_length} characters ({len(value)})")
    for i, c in enumerate(value):
        if c in "\t\n\r":
            continue
        if unicodedata.category(c) == "Cc" or c in _BIDI:
            raise IdentifierError(f"{field}: contains a control character ({_char(c)}) at position {i + 1}")
        if _unencodable(c):
            raise IdentifierError(f"{field}: contains a surrogate or non-character ({_char(c)}) at position {i + 1}")
    if not value.strip():
        raise IdentifierError(f"{field}: empty")
    return value


def check_search(value: str, field: str, max_length: int = 200) -> str:
    """Search words: spaces are fine; control characters (NUL: PostgreSQL refuses it in a query), invisible
    formatting characters, surrogates and non-characters are not."""
    if len(value) > max_length:
        raise IdentifierError(f"{field}: longer than {max_length} characters ({len(value)})")
    for i, c in enumerate(value):
        cat = unicodedata.category(c)
        if cat in ("Cc", "Cf", "Cs") or _unencodable(c):
            raise IdentifierError(f"{field}: contains {_REFUSED[cat]} ({_char(c)}) at position {i + 1}")
    return value


def pydantic_identifier(field: str, max_length: int = MAX_IDENTIFIER):
    """An ``AfterValidator`` body for pydantic models and FastAPI parameters (a ValueError becomes a 422 that names
    the field)."""

    def check(value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_identifier(value, field, max_length)
        except IdentifierError as exc:
            raise ValueError(str(exc).split(": ", 1)[1]) from None

    return check


def pydantic_search(field: str, max_length: int = 200):
    def check(value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_search(value, field, max_length)
        except IdentifierError as exc:
            raise ValueError(str(exc).split(": ", 1)[1]) from None

    return check


def pydantic_text(field: str, max_length: int = MAX_TEXT):
    def check(value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_text(value, field, max_length)
        except IdentifierError as exc:
            raise ValueError(str(exc).split(": ", 1)[1]) from None

    return check
