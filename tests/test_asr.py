"""The real Whisper tiny.en model on the project's telephone samples and on shared real speech."""

import numpy as np
import pytest
from conftest import SAMPLES, needs_shared, tone

from qa import intervals as iv
from qa.eval.references import reference_text, script_layout
from qa.eval.wer import word_errors
from qa.types import Role

pytestmark = pytest.mark.slow

# tiny.en measured 2.5-6.3 % per sample (README); the bound leaves room for thread-count nondeterminism.
SAMPLE_WER_BOUND = 0.12


@pytest.fixture(scope="module")
def processed(tiny_pipeline):
    from qa.types import CallMetadata

    out = {}
    for script in sorted((SAMPLES / "scripts").glob("*.txt")):
        layout = script_layout(script)
        out[script.stem] = tiny_pipeline.process(SAMPLES / f"{script.stem}.flac", CallMetadata(channels=layout))
    return out


def test_word_error_rate_on_samples_per_role(processed):
    for name, call in processed.items():
        script = SAMPLES / "scripts" / f"{name}.txt"
        if call.channel_layout == "mono":
            res = word_errors(reference_text(script), " ".join(t.text for t in call.turns))
        else:
            res = sum(
                (
                    word_errors(
                        reference_text(script, role), " ".join(t.text for t in call.turns if t.role.value == role)
                    )
                    for role in ("agent", "caller")
                ),
                start=word_errors("", ""),
            )
        assert res.ref_words > 80
        assert res.wer < SAMPLE_WER_BOUND, f"{name}: WER {res.wer:.3f}"


def test_stereo_split_gives_each_party_their_own_words(processed):
    call = processed["streetlight_out"]  # agent on the RIGHT channel in this sample
    assert call.channel_layout == "agent-right"
    agent = " ".join(t.text for t in call.turns if t.role is Role.AGENT).lower()
    caller = " ".join(t.text for t in call.turns if t.role is Role.CALLER).lower()
    assert "kevin" in agent and "request number" in agent
    assert "streetlight" in caller.replace(" ", "") and "kevin" not in caller
    assert {r.role for r in call.speakers.roles} == {Role.AGENT, Role.CALLER}


def test_turns_alternate_in_time_and_words_are_ordered(processed):
    call = processed["pothole_report"]
    roles = [t.role for t in call.turns]
    assert roles[0] is Role.AGENT and roles[1] is Role.CALLER
    starts = [t.start for t in call.turns]
    assert starts == sorted(starts)
    for t in call.turns:
        assert all(a.start <= b.start for a, b in zip(t.words, t.words[1:], strict=False))
        assert t.start <= t.words[0].start and t.end >= t.words[-1].end


def test_metrics_on_the_angry_call(processed):
    m = processed["angry_caller"].metrics
    # The script holds 14 s of silence on hold; the caller cuts in on the agent (0.6 s of overlap).
    assert len(m.holds) == 1 and 13.0 < m.holds[0].duration_s < 16.0
    assert m.longest_silence.duration_s == m.holds[0].duration_s
    assert m.interruptions_by["caller"] >= 1 and m.overtalk_count >= 1
    assert 0.6 < m.talk_share["agent"] < 0.8
    assert m.agent_first_words_s < 1.0


def test_vad_covers_the_telephone_samples(processed):
    for name, call in processed.items():
        for tr in call.transcripts:
            assert tr.vad.coverage > 0.9, name
            assert tr.word_coverage > 0.85, name


def test_vad_falls_back_when_silero_misses_signal(tiny_pipeline):
    """A loud 1 kHz tone is energy but not speech to Silero: coverage drops and the fallback must add it."""
    rate = 16000
    x = np.zeros(rate * 8, np.float32)
    x[rate * 2 : rate * 6] = tone(4.0, rate, 1000, 0.3)
    energy = np.array([[2.0, 6.0]])
    regions, trusted, report = tiny_pipeline.asr.speech_regions(x, energy)
    assert iv.coverage(trusted, energy) < 0.9  # Silero does not vouch for the tone
    assert report.silero_coverage < 0.9
    assert "energy" in report.method and report.coverage == pytest.approx(1.0)
    assert iv.coverage(regions, energy) == pytest.approx(1.0)


def test_jfk_word_error_rate():
    path = needs_shared("audio", "faster_whisper_tests", "jfk.flac")
    from qa.pipeline import process_call

    call = process_call(path, _tiny())
    ref = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
    assert call.channel_layout == "mono"  # the file is "stereo" with two identical channels
    assert word_errors(ref, " ".join(t.text for t in call.turns)).wer < 0.1


def test_real_two_channel_recording():
    path = needs_shared("audio", "faster_whisper_tests", "stereo_diarization.wav")
    from qa.pipeline import process_call

    call = process_call(path, _tiny())
    agent = " ".join(t.text for t in call.turns if t.role is Role.AGENT)
    caller = " ".join(t.text for t in call.turns if t.role is Role.CALLER)
    assert (
        word_errors(
            "He began a confused complaint against the wizard, who had vanished behind the curtain on the left.", agent
        ).wer
        < 0.2
    )
    assert word_errors("The horizon seems extremely distant.", caller).wer < 0.2


def _tiny():
    from qa.config import PipelineConfig

    return PipelineConfig().with_overrides({"asr.model": "tiny.en", "asr.cpu_threads": 2})


def test_request_type_and_emergency_from_asr_transcripts(processed):
    """The language stage on what tiny.en heard (not the clean scripts); goal: accuracy >= 0.85, no missed emergency."""
    import re

    correct = 0
    for name, call in processed.items():
        header = (SAMPLES / "scripts" / f"{name}.txt").read_text()
        expected = re.search(r"^# request_type:\s*(\S+)", header, re.M).group(1)
        correct += call.request_type.label == expected
        assert call.emergency.flag == name.endswith("emergency"), name
    assert correct / len(processed) >= 0.85, correct
    gas = processed["gas_smell_emergency"].emergency
    assert gas.category == "gas" and gas.turn == 1 and 3.0 < gas.time < 12.0
