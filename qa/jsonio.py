"""JSON for result files: indented for people, written by orjson (the standard library's encoder falls back to
pure Python when asked to indent, and was most of the time of re-scoring a results folder)."""

from __future__ import annotations

from typing import Any

import orjson


def dumps(doc: Any) -> bytes:
    """Two-space indented UTF-8 JSON with a final newline (non-ASCII kept as is)."""
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def loads(data: str | bytes) -> Any:
    return orjson.loads(data)
