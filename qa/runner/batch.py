"""Local batch runner: find recordings, process each, write results atomically, never stop on one bad file.

For every input a batch leaves exactly one of: ``<name>.json`` (+ the other requested formats) or
``<name>.error.json`` with the reason. Nothing is half-written: files are written to a temporary name and renamed.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from qa import jsonio
from qa.audio.decode import AUDIO_EXTENSIONS, file_sha256
from qa.errors import InputError, OutputError, QAError
from qa.exports.call_json import call_document, error_document
from qa.exports.rttm import to_rttm
from qa.exports.subtitles import to_srt, to_vtt
from qa.ingest.transcripts import TRANSCRIPT_EXTENSIONS, is_transcript
from qa.manifest import Manifest
from qa.metrics.conversation import party_labels
from qa.pipeline import Pipeline
from qa.scoring.rescore import score_document
from qa.types import CallAnalysis, CallMetadata

log = logging.getLogger("qa.runner")

FORMATS = ("json", "vtt", "srt", "rttm", "wav")  # wav: the recording with personal data silenced


@dataclass(frozen=True, slots=True)
class Job:
    path: Path
    out_stem: Path  # relative to the output folder, without suffix
    metadata: CallMetadata


@dataclass(frozen=True, slots=True)
class Outcome:
    source: str
    status: str  # "done" | "skipped" | "failed"
    call_id: str | None
    message: str
    output: str | None


def discover(inputs: Sequence[str | Path], manifest: Manifest | None = None, transcripts: bool = False) -> list[Job]:
    """Folders are searched recursively for audio files (and, with ``transcripts``, for WebVTT and call JSON files);
    files named explicitly are always tried (so a mislabelled or broken file is reported, not ignored). Output names
    mirror the folder structure below each input folder."""
    wanted = AUDIO_EXTENSIONS | (TRANSCRIPT_EXTENSIONS if transcripts else frozenset())
    jobs: list[Job] = []
    seen: set[Path] = set()
    for raw in inputs:
        root = Path(raw)
        if root.is_dir():
            files = sorted(
                p
                for p in root.rglob("*")
                if p.is_file() and p.suffix.lower() in wanted and not p.name.endswith(".error.json")
            )
            pairs = [(f, f.relative_to(root).with_suffix("")) for f in files]
        else:
            pairs = [(root, Path(root.name).with_suffix(""))]
        if transcripts:  # a results folder holds x.json and x.vtt of one call: import the exact one (JSON) only
            have_json = {stem for f, stem in pairs if f.suffix.lower() == ".json"}
            pairs = [(f, stem) for f, stem in pairs if f.suffix.lower() != ".vtt" or stem not in have_json]
        for f, stem in pairs:
            key = f.resolve()
            if key in seen:
                continue
            seen.add(key)
            meta = (manifest.lookup(f) if manifest else None) or CallMetadata()
            jobs.append(Job(f, stem, meta))
    # Two inputs that map to the same output name (a/x.wav and b/x.wav given as files) get distinct names.
    counts: dict[Path, int] = {}
    unique = []
    for j in jobs:
        n = counts.get(j.out_stem, 0)
        counts[j.out_stem] = n + 1
        unique.append(j if n == 0 else Job(j.path, j.out_stem.with_name(f"{j.out_stem.name}-{n + 1}"), j.metadata))
    return unique


def write_atomic(path: Path, text: str | bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(text.encode("utf-8") if isinstance(text, str) else text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def redacted_audio(call: CallAnalysis, tone_hz: float | None = None) -> bytes:
    """The recording (16 kHz, 16-bit WAV, channels kept) with every personal-data span silenced or toned out."""
    import io

    import soundfile as sf

    from qa.audio.decode import load_audio
    from qa.nlp.redact import pii_spans, silence_spans

    audio, _ = load_audio(call.source)
    y = silence_spans(audio.samples, audio.sample_rate, pii_spans(call.turns, call.entities), tone_hz)
    buf = io.BytesIO()
    sf.write(buf, y.T, audio.sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def output_path(out_dir: Path, job: Job, fmt: str) -> Path:
    return out_dir / job.out_stem.with_suffix(".redacted.wav" if fmt == "wav" else f".{fmt}")


def render(call: CallAnalysis, fmt: str, redact: bool = True) -> str | bytes:
    """The exports beside the call JSON: subtitles carry the redacted text unless told not, wav the silenced audio."""
    if fmt == "wav":
        if not call.transcripts:
            raise InputError(f"{call.source}: --format wav needs the recording; this call was imported as a transcript")
        return redacted_audio(call)
    turns = call.redacted if redact else call.turns
    if fmt == "vtt":
        return to_vtt(turns)
    if fmt == "srt":
        return to_srt(turns)
    if fmt == "rttm":
        return to_rttm(call.call_id, call.speakers.segments, party_labels(call.speakers))
    raise ValueError(fmt)


def is_current(job: Job, out_dir: Path, formats: Iterable[str], config_hash: str) -> str | None:
    """The call id if ``job`` already has results for this exact audio and config, else None."""
    target = out_dir / job.out_stem.with_suffix(".json")
    if not target.is_file() or any(not output_path(out_dir, job, f).is_file() for f in formats):
        return None
    try:
        doc = jsonio.loads(target.read_bytes())
        sha = file_sha256(job.path)
    except (OSError, ValueError):
        return None
    if doc.get("config_hash") == config_hash and doc.get("input_sha256", doc.get("audio", {}).get("sha256")) == sha:
        return doc.get("call_id")
    return None


def run_one(
    pipeline: Pipeline,
    job: Job,
    out_dir: Path,
    formats: Sequence[str],
    force: bool,
    redact: bool = True,
    scorecard: tuple | None = None,
) -> Outcome:
    json_path = out_dir / job.out_stem.with_suffix(".json")
    err_path = out_dir / job.out_stem.with_suffix(".error.json")
    config_hash = pipeline.call_config_hash(job.metadata)
    if not force and (cid := is_current(job, out_dir, ("json", *formats), config_hash)):
        if scorecard is not None:  # a changed scorecard re-scores the stored analysis; no model runs again
            doc = jsonio.loads(json_path.read_bytes())
            if ((doc.get("evaluation") or {}).get("scorecard") or {}).get("hash") != scorecard[1]:
                write_atomic(json_path, jsonio.dumps(score_document(doc, *scorecard, pipeline.llm)))
                return Outcome(str(job.path), "skipped", cid, "analysis up to date, re-scored", str(json_path))
        return Outcome(str(job.path), "skipped", cid, "up to date", str(json_path))
    try:
        if is_transcript(job.path):
            if json_path.resolve() == job.path.resolve():
                raise InputError(f"{job.path}: importing it would overwrite it; choose another --out folder")
            call = pipeline.process_transcript(job.path, job.metadata)
        else:
            call = pipeline.process(job.path, job.metadata)
        # Render everything before writing anything, then write the JSON last: its presence means "complete".
        rendered = {f: render(call, f, redact) for f in formats if f != "json"}
        for fmt, text in rendered.items():
            write_atomic(output_path(out_dir, job, fmt), text)
        doc = call_document(call)
        if scorecard is not None:
            doc = score_document(doc, *scorecard, pipeline.llm)
        write_atomic(json_path, jsonio.dumps(doc))
        err_path.unlink(missing_ok=True)
        note = f"{len(call.turns)} turns, {len(call.warnings)} warning(s)"
        return Outcome(str(job.path), "done", call.call_id, note, str(json_path))
    except QAError as exc:
        kind, message = exc.kind, str(exc)
    except Exception as exc:  # noqa: BLE001 - one broken call must not stop the batch
        log.debug("internal error on %s", job.path, exc_info=True)
        kind, message = "internal", f"{job.path}: internal error ({type(exc).__name__}: {exc})"
    try:
        write_atomic(err_path, jsonio.dumps(error_document(str(job.path), kind, message, None, config_hash)))
    except OutputError as exc:
        message += f" (and {exc})"
    return Outcome(str(job.path), "failed", None, message, str(err_path))


def run_batch(
    pipeline: Pipeline,
    jobs: Sequence[Job],
    out_dir: Path,
    formats: Sequence[str] = ("json",),
    force: bool = False,
    progress: bool = True,
    on_outcome: Callable[[Outcome], None] | None = None,
    redact: bool = True,
    scorecard: tuple | None = None,
) -> list[Outcome]:
    from tqdm import tqdm

    outcomes = []
    bar = tqdm(jobs, desc="calls", unit="call", disable=None if progress else True, dynamic_ncols=True)
    for job in bar:
        bar.set_postfix_str(job.path.name[-40:])
        outcome = run_one(pipeline, job, out_dir, formats, force, redact, scorecard)
        outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
    bar.close()
    return outcomes
