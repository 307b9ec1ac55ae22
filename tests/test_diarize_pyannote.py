"""The pyannote.audio backend end to end on a pipeline built from local checkpoints (no hub, no telemetry)."""

import json
import os

import pytest
import soundfile as sf
from conftest import SAMPLES

pytest.importorskip("pyannote.audio", reason="pyannote extra not installed: pip install 'callqa[pyannote]'")


@pytest.fixture(scope="module")
def local_pipeline(tmp_path_factory):
    from pyannote_local import build_local_pipeline

    return build_local_pipeline(tmp_path_factory.mktemp("pyannote"))


@pytest.mark.slow
def test_pyannote_backend_produces_the_common_output_types(local_pipeline, tmp_path):
    from qa.config import PipelineConfig
    from qa.document import call_document
    from qa.pipeline import Pipeline
    from qa.types import Role, SpeakerSegment, Turn

    x, rate = sf.read(SAMPLES / "noise_complaint_mono.flac", dtype="float32")
    clip = tmp_path / "clip.flac"
    sf.write(clip, x[: rate * 12], rate)  # 12 s keep the random-weight CPU inference short
    cfg = PipelineConfig().with_overrides(
        {
            "asr.model": "tiny.en",
            "asr.cpu_threads": 2,
            "diarize.mono_backend": "pyannote",
            "diarize.pyannote_pipeline": str(local_pipeline),
        }
    )
    pipe = Pipeline(cfg)
    pipe.load()
    assert os.environ["PYANNOTE_METRICS_ENABLED"] == "0"  # telemetry off before pyannote was imported
    call = pipe.process(clip)
    sp = call.speakers
    assert sp.backend == "diarize.pyannote" and call.stages["diarize.pyannote"] == "1"
    assert sp.segments and all(isinstance(s, SpeakerSegment) for s in sp.segments)
    assert all(0 <= s.start < s.end <= call.audio.duration_s + 0.1 for s in sp.segments), (sp.segments, call.audio)
    assert {r.speaker for r in sp.roles} == {s.speaker for s in sp.segments}
    assert all(isinstance(t, Turn) and t.words for t in sp.turns)
    assert sum(len(t.words) for t in sp.turns) == sum(len(tr.words) for tr in call.transcripts)  # no word lost
    assert all(isinstance(r.role, Role) for r in sp.roles)
    json.dumps(call_document(call))  # serialises like any other backend's result


def test_pyannote_configuration_errors(tmp_path):
    from qa.config import PipelineConfig
    from qa.errors import ConfigError, ModelNotFoundError
    from qa.pipeline import Pipeline

    cfg = PipelineConfig().with_overrides({"asr.model": "tiny.en", "diarize.mono_backend": "pyannote"})
    with pytest.raises(ConfigError, match="diarize.pyannote_pipeline is not set"):
        Pipeline(cfg).load()
    cfg = cfg.with_overrides({"diarize.pyannote_pipeline": str(tmp_path / "missing")})
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        Pipeline(cfg).load()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.yaml").write_text("pipeline:\n  name: no.such.Pipeline\n")
    with pytest.raises(ModelNotFoundError, match="could not be loaded"):
        Pipeline(cfg.with_overrides({"diarize.pyannote_pipeline": str(broken)})).load()
