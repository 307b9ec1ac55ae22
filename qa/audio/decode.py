"""Decode any recording (wav/flac/mp3/ogg/m4a, any rate, mono or stereo) to float32 at the model rate.

PyAV (the FFmpeg bindings faster-whisper already uses) sniffs the content, so a mislabelled extension still decodes
and a non-audio file fails with a clear message. Every failure is one :class:`~qa.errors.InputError` naming the file.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

from qa.errors import AudioDecodeError, AudioTooLongError, EmptyAudioError, InputError
from qa.types import Audio, AudioInfo, Warning_

log = logging.getLogger("qa.audio")

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma", ".webm", ".mka"}
)


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_readable(path: Path) -> int:
    """Return the size in bytes, or raise an InputError saying why the path cannot be read."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a recording")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied (the worker's user cannot read it)")
    size = path.stat().st_size
    if size == 0:
        raise EmptyAudioError(f"{path}: file is empty (0 bytes)")
    return size


def load_audio(
    path: str | Path, target_rate: int = 16000, max_duration_s: float = 4 * 3600.0
) -> tuple[Audio, tuple[Warning_, ...]]:
    """Decode ``path`` to (channels, samples) float32 at ``target_rate``; keep up to 2 channels.

    Raises AudioTooLongError from the container's declared duration before decoding anything, so a huge file costs
    nothing.
    """
    import av  # lazy: PyAV pulls in FFmpeg

    p = Path(path)
    check_readable(p)
    try:
        sha = file_sha256(p)
    except OSError as exc:
        raise InputError(f"{p}: cannot read file ({exc.strerror or exc})") from None

    warnings: list[Warning_] = []
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise AudioDecodeError(f"{p}: not a readable audio file ({_reason(exc)})") from None
    with container:
        if not container.streams.audio:
            raise AudioDecodeError(f"{p}: contains no audio stream (is it a video, image or text file?)")
        stream = container.streams.audio[0]
        rate = int(stream.rate or stream.codec_context.sample_rate or 0)
        channels = int(stream.codec_context.channels or 0)
        codec = stream.codec_context.name or "unknown"
        declared = _declared_duration(container, stream)
        if declared is not None and declared > max_duration_s:
            raise AudioTooLongError(
                f"{p}: {declared / 60:.1f} min long, over the {max_duration_s / 60:.0f} min limit "
                "(raise audio.max_duration_s in the config to accept it)"
            )
        if channels > 2:
            warnings.append(
                Warning_("extra_channels", f"recording has {channels} channels; only the first two are used")
            )
        layout = "mono" if channels == 1 else "stereo"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=target_rate)
        parts: list[np.ndarray] = []
        n = 0
        limit = int(max_duration_s * target_rate) + target_rate
        bad_frames = 0
        try:
            for frame in container.decode(stream):
                try:
                    for out in resampler.resample(frame):
                        parts.append(out.to_ndarray())
                        n += parts[-1].shape[1]
                except (av.error.FFmpegError, ValueError):
                    bad_frames += 1
                if n > limit:
                    raise AudioTooLongError(
                        f"{p}: longer than the {max_duration_s / 60:.0f} min limit "
                        "(raise audio.max_duration_s in the config to accept it)"
                    )
            for out in resampler.resample(None):
                parts.append(out.to_ndarray())
        except av.error.FFmpegError as exc:
            if not parts:
                raise AudioDecodeError(f"{p}: corrupt audio, nothing could be decoded ({_reason(exc)})") from None
            warnings.append(
                Warning_("truncated", f"decoding stopped early ({_reason(exc)}); the rest of the file is lost")
            )

    if not parts or sum(x.shape[1] for x in parts) == 0:
        raise EmptyAudioError(f"{p}: no audio samples (zero-length recording or corrupt file)")
    samples = np.concatenate(parts, axis=1).astype(np.float32, copy=False)
    if samples.shape[0] > 2:
        samples = samples[:2]
    duration = samples.shape[1] / target_rate
    if duration < 0.1:
        raise EmptyAudioError(f"{p}: only {duration * 1000:.0f} ms of audio; too short to be a call")
    if duration > max_duration_s:
        raise AudioTooLongError(
            f"{p}: {duration / 60:.1f} min long, over the {max_duration_s / 60:.0f} min limit "
            "(raise audio.max_duration_s in the config to accept it)"
        )
    if bad_frames:
        warnings.append(Warning_("bad_frames", f"{bad_frames} undecodable frame(s) skipped"))
    if declared and abs(declared - duration) > max(1.0, 0.05 * declared):
        warnings.append(
            Warning_(
                "duration_mismatch", f"header says {declared:.1f} s but {duration:.1f} s decoded (truncated file?)"
            )
        )
    info = AudioInfo(path=str(p), duration_s=duration, sample_rate=rate, channels=channels, codec=codec, sha256=sha)
    return Audio(info=info, samples=samples, sample_rate=target_rate), tuple(warnings)


def _declared_duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    # FFmpeg errors repeat the path; keep the reason only.
    return text.split(": '")[0].strip() or type(exc).__name__
