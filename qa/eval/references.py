"""Reference transcripts of the sample calls (``samples/scripts/*.txt``): the text each role speaks."""

from __future__ import annotations

import re
from pathlib import Path

_LINE = re.compile(r"^(AGENT|CALLER)(?:@-?\d+(?:\.\d+)?)?:\s*(.+)$")


def script_lines(path: str | Path) -> list[tuple[str, str]]:
    """(role, text) for every spoken line, in order; roles are 'agent' / 'caller'."""
    out = []
    for raw in Path(path).read_text().splitlines():
        m = _LINE.match(raw.strip())
        if m:
            out.append((m.group(1).lower(), m.group(2)))
    return out


def reference_text(path: str | Path, role: str | None = None) -> str:
    return " ".join(text for r, text in script_lines(path) if role is None or r == role)


def script_layout(path: str | Path) -> str:
    for raw in Path(path).read_text().splitlines():
        if raw.startswith("# layout:"):
            value = raw.split(":", 1)[1].strip()
            return "mono" if value == "mono" else value.split(",")[1].strip()
    return "mono"
