"""Call scripts (``samples/scripts/*.txt``, ``bench/data/*/``): the reference text each role speaks, the script's
headers, and a WebVTT rendering with estimated times, so a written call can go through the pipeline as an imported
transcript (no audio) as well as rendered to audio by ``samples/make_samples.py``.

Grammar: ``ROLE: text`` (AGENT or CALLER), ``ROLE@-0.6: text`` (starts 0.6 s before the previous line ends:
overtalk), ``[pause S]`` / ``[hold S]`` (S seconds of line noise only), ``# key: value`` headers (layout, seed,
request_type, ...). This module imports nothing heavy: the audio generator runs it in a separate environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

LINE = re.compile(r"^(AGENT|CALLER)(?:@(-?\d+(?:\.\d+)?))?:\s*(.+)$")
PAUSE = re.compile(r"^\[(pause|hold)\s+(\d+(?:\.\d+)?)\]$")
GAP_S = 0.45  # default gap between consecutive lines (as in the audio generator)
LEAD_S = 0.5  # leading silence
WORDS_PER_S = {"AGENT": 2.7, "CALLER": 3.0}  # measured on the piper renderings of the samples (about 160-180 wpm)


@dataclass(frozen=True, slots=True)
class Line:
    role: str  # "AGENT" | "CALLER"
    text: str
    offset: float | None  # seconds relative to the previous line's end; None = default gap


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    headers: dict[str, str]
    items: tuple[Line | float, ...]  # a float is a pause/hold in seconds

    @property
    def layout(self) -> str:
        """ "stereo-agent-left" | "stereo-agent-right" | "mono"."""
        value = self.headers.get("layout", "mono").replace(", ", "-").replace(" ", "-")
        return value if value in ("stereo-agent-left", "stereo-agent-right") else "mono"

    @property
    def seed(self) -> int | None:
        return int(self.headers["seed"]) if "seed" in self.headers else None


def parse_script(path: str | Path) -> Script:
    path = Path(path)
    headers: dict[str, str] = {}
    items: list[Line | float] = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep:
                headers[key.strip()] = value.strip()
            continue
        if m := PAUSE.match(line):
            items.append(float(m.group(2)))
            continue
        m = LINE.match(line)
        if not m:
            raise ValueError(f"{path}:{n}: cannot parse line {raw!r}")
        items.append(Line(m.group(1), m.group(3), float(m.group(2)) if m.group(2) else None))
    return Script(path.stem, headers, tuple(items))


def script_lines(path: str | Path) -> list[tuple[str, str]]:
    """(role, text) for every spoken line, in order; roles are 'agent' / 'caller'."""
    return [(i.role.lower(), i.text) for i in parse_script(path).items if isinstance(i, Line)]


def reference_text(path: str | Path, role: str | None = None) -> str:
    return " ".join(text for r, text in script_lines(path) if role is None or r == role)


def script_layout(path: str | Path) -> str:
    """ "agent-left" | "agent-right" | "mono" (the manifest's vocabulary)."""
    layout = parse_script(path).layout
    return layout.removeprefix("stereo-") if layout != "mono" else "mono"


def timed_lines(script: Script) -> list[tuple[str, float, float, str]]:
    """(role, start, end, text) with times estimated from a speaking rate, laid out as the audio generator does."""
    out: list[tuple[str, float, float, str]] = []
    prev_end = cursor = LEAD_S
    for item in script.items:
        if isinstance(item, float):
            cursor = prev_end = prev_end + item
            continue
        dur = max(0.6, len(item.text.split()) / WORDS_PER_S[item.role])
        start = prev_end + (item.offset if item.offset is not None else GAP_S) if out else cursor
        start = max(0.0, start)
        out.append((item.role, start, start + dur, item.text))
        prev_end = start + dur
    return out


def _ts(t: float) -> str:
    h, rest = divmod(t, 3600)
    m, s = divmod(rest, 60)
    return f"{int(h):02d}:{int(m):02d}:{s:06.3f}"


def script_webvtt(path: str | Path) -> str:
    """The script as WebVTT with ``<v Agent>`` / ``<v Caller>`` voice tags and estimated cue times."""
    cues = [f"{_ts(s)} --> {_ts(e)}\n<v {role.title()}>{text}" for role, s, e, text in timed_lines(parse_script(path))]
    return "WEBVTT\n\n" + "\n\n".join(cues) + "\n"


def script_turns(path: str | Path):
    """The script as turns (agent/caller roles, words spread over each line's estimated time): a written call as the
    language stages see it, without going through a transcript file."""
    from qa.types import Role, Turn, Word

    turns = []
    for role, start, end, text in timed_lines(parse_script(path)):
        tokens = text.split()
        step = (end - start) / max(1, len(tokens))
        words = tuple(Word(start + i * step, start + (i + 1) * step, w, 1.0) for i, w in enumerate(tokens))
        speaker = "agent" if role == "AGENT" else "caller"
        turns.append(Turn(speaker, Role(speaker), start, end, text, words))
    return tuple(sorted(turns, key=lambda t: t.start))
