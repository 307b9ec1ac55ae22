"""RTTM (NIST Rich Transcription Time Marked) speaker segments: read and write."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from qa.errors import InputError
from qa.types import SpeakerSegment


def to_rttm(file_id: str, segments: Iterable[SpeakerSegment], names: dict[str, str] | None = None) -> str:
    names = names or {}
    lines = []
    for s in segments:
        if s.end > s.start:
            who = names.get(s.speaker, s.speaker)
            lines.append(f"SPEAKER {file_id} 1 {s.start:.3f} {s.end - s.start:.3f} <NA> <NA> {who} <NA> <NA>\n")
    return "".join(lines)


def read_rttm(path: str | Path) -> dict[str, list[SpeakerSegment]]:
    """File id -> segments. Lines other than SPEAKER are ignored; a malformed SPEAKER line is an error."""
    out: dict[str, list[SpeakerSegment]] = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.split()
        if not parts or parts[0] != "SPEAKER":
            continue
        try:
            start, dur = float(parts[3]), float(parts[4])
            out.setdefault(parts[1], []).append(SpeakerSegment(parts[7], start, start + dur))
        except (IndexError, ValueError):
            raise InputError(f"{path}: line {n} is not a valid RTTM SPEAKER line") from None
    return out
