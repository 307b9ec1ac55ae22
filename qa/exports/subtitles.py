"""WebVTT and SRT with speaker labels, one cue per turn (long turns split at ~7 s for readability)."""

from __future__ import annotations

from collections.abc import Iterable

from qa.types import Turn, Word

MAX_CUE_S = 7.0


def _cues(turns: Iterable[Turn]) -> list[tuple[float, float, str, str]]:
    cues = []
    for t in turns:
        label = t.role.value if t.role.value != "unknown" else t.speaker
        chunk: list[Word] = []
        for w in t.words:
            if chunk and w.end - chunk[0].start > MAX_CUE_S:
                cues.append((chunk[0].start, chunk[-1].end, label, " ".join(x.word for x in chunk)))
                chunk = []
            chunk.append(w)
        if chunk:
            cues.append((chunk[0].start, chunk[-1].end, label, " ".join(x.word for x in chunk)))
    return cues


def _ts(t: float, sep: str) -> str:
    ms = int(round(max(t, 0.0) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_vtt(turns: Iterable[Turn]) -> str:
    out = ["WEBVTT", ""]
    for start, end, label, text in _cues(turns):
        out += [f"{_ts(start, '.')} --> {_ts(end, '.')}", f"<v {label}>{text}", ""]
    return "\n".join(out)


def to_srt(turns: Iterable[Turn]) -> str:
    out = []
    for n, (start, end, label, text) in enumerate(_cues(turns), 1):
        out += [str(n), f"{_ts(start, ',')} --> {_ts(end, ',')}", f"[{label}] {text}", ""]
    return "\n".join(out)
