"""Transcripts a centre already has, read into turns so the rest of the pipeline runs without speech recognition.

Two formats:
- WebVTT with voice tags (``<v Agent>Thank you for calling 311``), or a ``Name:`` prefix, as phone systems and our own
  ``--format vtt`` write them. A voice named like an agent (agent, csr, operator, representative, 311) or a caller
  (caller, customer, resident, citizen) gets that role; other names get roles from what they say (the same agent cues
  as diarization). Cue times are kept; word times inside a cue are spread by word length, and the output says so.
- our own call JSON (``qa process --format json``): turns, words and word times come back exactly, with the original
  audio's identity (hash, duration), so a stored analysis can be re-run through newer language stages.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from qa.diarize.roles import assign_roles
from qa.errors import InputError
from qa.types import AudioInfo, CallMetadata, Role, SpeakerRole, SpeakerSegment, Turn, Warning_, Word

TRANSCRIPT_EXTENSIONS = frozenset({".vtt", ".json"})
MAX_TRANSCRIPT_BYTES = 50 * 1024 * 1024
VERSION = "1"

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_CUE_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>(.*?)(?:</v>|(?=<v[\s.])|$)", re.S)
_TAG = re.compile(r"</?[^>]+>")
_PREFIX = re.compile(r"^\s*([A-Za-z][\w .'()-]{0,40}?)\s*:\s+(.+)$", re.S)
AGENT_NAMES = re.compile(r"\b(agent|csr|operator|representative|rep|311|call ?taker|staff)\b", re.I)
CALLER_NAMES = re.compile(r"\b(caller|customer|resident|citizen|client|constituent)\b", re.I)


@dataclass(frozen=True, slots=True)
class ImportedTranscript:
    """What an imported file gives the pipeline in place of audio + ASR + diarization."""

    kind: str  # "webvtt" | "call-json"
    audio: AudioInfo  # the original recording's identity when known (call JSON), else the transcript file's
    input_sha256: str  # hash of the file read (what decides "already up to date")
    segments: tuple[SpeakerSegment, ...]
    turns: tuple[Turn, ...]
    roles: tuple[SpeakerRole, ...]
    metadata: CallMetadata | None
    warnings: tuple[Warning_, ...]


def is_transcript(path: Path) -> bool:
    return path.suffix.lower() in TRANSCRIPT_EXTENSIONS


def load_transcript(path: str | Path) -> ImportedTranscript:
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InputError(f"{path}: not a file")
        if size > MAX_TRANSCRIPT_BYTES:
            raise InputError(
                f"{path}: transcript is {size / 1e6:.0f} MB; the limit is {MAX_TRANSCRIPT_BYTES // 10**6} MB"
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not raw.strip():
        raise InputError(f"{path}: empty transcript")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); is it really a transcript?") from None
    sha = hashlib.sha256(raw).hexdigest()
    if path.suffix.lower() == ".json":
        return _from_call_json(path, text, sha)
    return _from_webvtt(path, text, sha)


# ----------------------------------------------------------------------------------------------------------- WebVTT


def _seconds(h: str | None, m: str, s: str, ms: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000


def parse_webvtt(text: str, name: str = "<vtt>") -> list[tuple[float, float, str, str]]:
    """(start, end, speaker label or "", text) per voice span of every cue. Errors name the line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not lines[0].lstrip("\ufeff").startswith("WEBVTT"):
        raise InputError(f"{name}: not WebVTT (the first line must start with 'WEBVTT')")
    cues: list[tuple[float, float, str, str]] = []
    i = 1
    while i < len(lines):
        line = lines[i]
        if "-->" not in line:
            if line.strip().startswith(("NOTE", "STYLE", "REGION")):  # skip the whole block
                while i < len(lines) and lines[i].strip():
                    i += 1
            i += 1
            continue
        m = _CUE_TIMING.match(line)
        if not m:
            raise InputError(f"{name}, line {i + 1}: bad cue timing (expected HH:MM:SS.mmm --> HH:MM:SS.mmm)")
        g = m.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        if end < start:
            raise InputError(f"{name}, line {i + 1}: cue ends before it starts")
        body = []
        i += 1
        while i < len(lines) and lines[i].strip():
            body.append(lines[i])
            i += 1
        payload = "\n".join(body)
        voices = _VOICE.findall(payload)
        if voices:
            for who, said in voices:
                cues.append((start, end, who.strip(), _clean(said)))
        else:
            pm = _PREFIX.match(_clean(payload))
            if pm and len(pm.group(1).split()) <= 3:
                cues.append((start, end, pm.group(1).strip(), pm.group(2).strip()))
            else:
                cues.append((start, end, "", _clean(payload)))
    return [c for c in cues if c[3]]


def _clean(s: str) -> str:
    s = _TAG.sub("", s)
    for a, b in (("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"), ("&nbsp;", " ")):
        s = s.replace(a, b)
    return " ".join(s.split())


def spread_words(text: str, start: float, end: float) -> tuple[Word, ...]:
    """Words of a cue with times spread over it in proportion to their length (no timing inside a cue is known)."""
    tokens = text.split()
    if not tokens:
        return ()
    weights = [len(t) + 1 for t in tokens]
    total = sum(weights)
    span = max(end - start, 0.0)
    out, t = [], start
    for tok, w in zip(tokens, weights, strict=True):
        d = span * w / total
        out.append(Word(round(t, 3), round(t + d, 3), tok, 1.0))
        t += d
    return tuple(out)


def role_from_name(name: str) -> Role | None:
    if AGENT_NAMES.search(name):
        return Role.AGENT
    if CALLER_NAMES.search(name):
        return Role.CALLER
    return None


def _from_webvtt(path: Path, text: str, sha: str) -> ImportedTranscript:
    cues = parse_webvtt(text, str(path))
    if not cues:
        raise InputError(f"{path}: WebVTT has no cues with text")
    warnings = [
        Warning_(
            "imported_transcript",
            "speech recognition skipped: transcript imported from WebVTT; word times are spread evenly inside each cue",
        )
    ]
    if not any(who for _, _, who, _ in cues):
        warnings.append(
            Warning_(
                "no_speaker_labels",
                "the WebVTT has no voice tags (<v Name>) or 'Name:' prefixes; "
                "the whole call is one speaker and per-role items cannot be scored",
            )
        )
    turns = [
        Turn(label, Role.UNKNOWN, start, end, said, spread_words(said, start, end))
        for start, end, label, said in _joined((start, end, who or "speaker", said) for start, end, who, said in cues)
    ]
    labels = [t.speaker for t in turns]
    speakers = list(dict.fromkeys(labels))
    roles = _roles(turns, speakers)
    role_of = {r.speaker: r.role for r in roles}
    turns = [Turn(t.speaker, role_of[t.speaker], t.start, t.end, t.text, t.words) for t in turns]
    segments = tuple(SpeakerSegment(t.speaker, t.start, t.end) for t in turns)
    duration = max(t.end for t in turns)
    audio = AudioInfo(str(path), duration, 0, 0, "webvtt", sha)
    return ImportedTranscript("webvtt", audio, sha, segments, tuple(turns), roles, None, tuple(warnings))


CUE_JOIN_S = 0.25


def _joined(cues) -> list[tuple[float, float, str, str]]:
    """Cues of one voice that follow each other without a pause are one turn: subtitle writers (ours included) cut a
    long turn into cues of a readable length, sometimes in mid-sentence ("your request number is" | "61208")."""
    out: list[tuple[float, float, str, str]] = []
    for start, end, who, said in cues:
        if out and out[-1][2] == who and 0 <= start - out[-1][1] <= CUE_JOIN_S:
            s0, _, _, text = out[-1]
            out[-1] = (s0, max(end, out[-1][1]), who, f"{text} {said}")
        else:
            out.append((start, end, who, said))
    return out


def _roles(turns: list[Turn], speakers: list[str]) -> tuple[SpeakerRole, ...]:
    """Roles from the voice names where they say it; otherwise from agent cues, as for diarized audio."""
    named = {s: role_from_name(s) for s in speakers}
    if all(r is not None for r in named.values()):
        return tuple(SpeakerRole(s, r, 1.0, "voice name") for s, r in named.items())
    guessed = {r.speaker: r for r in assign_roles(turns, speakers)}
    out = []
    for s in speakers:
        if named[s] is not None:
            out.append(SpeakerRole(s, named[s], 1.0, "voice name"))
        else:
            out.append(guessed[s])
    return tuple(out)


# -------------------------------------------------------------------------------------------------------- call JSON


def _from_call_json(path: Path, text: str, sha: str) -> ImportedTranscript:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(doc, dict) or "schema_version" not in doc:
        raise InputError(f"{path}: not a callqa call document (no 'schema_version'); import WebVTT or our call JSON")
    if doc.get("errors") and "turns" not in doc:
        raise InputError(f"{path}: is an error record of a failed call, not a transcript")
    try:
        turns = tuple(_turn(t) for t in doc["turns"])
        roles = tuple(
            SpeakerRole(r["speaker"], Role(r["role"]), float(r.get("confidence") or 0.0), str(r.get("method", "")))
            for r in (doc.get("speakers") or {}).get("roles", [])
        )
        segments = tuple(
            SpeakerSegment(s["speaker"], float(s["start"]), float(s["end"]))
            for s in (doc.get("speakers") or {}).get("segments", [])
        )
        a = doc.get("audio") or {}
        audio = AudioInfo(
            str(doc.get("source") or path),
            float(a.get("duration_s") or max((t.end for t in turns), default=0.0)),
            int(a.get("sample_rate") or 0),
            int(a.get("channels") or 0),
            str(a.get("codec") or "unknown"),
            str(a.get("sha256") or sha),
        )
        meta = doc.get("metadata") or {}
        metadata = CallMetadata(**{k: v for k, v in meta.items() if k in CallMetadata.__dataclass_fields__})
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: call document is missing or has a bad field ({type(exc).__name__}: {exc})") from None
    if not turns:
        raise InputError(f"{path}: call document has no turns")
    if not segments:
        segments = tuple(SpeakerSegment(t.speaker, t.start, t.end) for t in turns)
    if not roles:
        speakers = list(dict.fromkeys(t.speaker for t in turns))
        roles = tuple(SpeakerRole(s, next(t.role for t in turns if t.speaker == s), 1.0, "imported") for s in speakers)
    warnings = (Warning_("imported_transcript", "speech recognition skipped: turns imported from a call JSON"),)
    return ImportedTranscript("call-json", audio, sha, segments, turns, roles, metadata, warnings)


def _turn(t: dict) -> Turn:
    words = tuple(
        Word(float(w["start"]), float(w["end"]), str(w["word"]), float(w.get("probability", 1.0)))
        for w in t.get("words") or ()
    )
    if not words:
        words = spread_words(str(t["text"]), float(t["start"]), float(t["end"]))
    return Turn(
        str(t["speaker"]), Role(t.get("role", "unknown")), float(t["start"]), float(t["end"]), str(t["text"]), words
    )
