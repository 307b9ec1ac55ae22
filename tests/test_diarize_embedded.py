"""The experimental embedded mono backend and the agent/caller role cues."""

import pytest
from conftest import SAMPLES

from qa.diarize.roles import agent_score, assign_roles
from qa.types import Role, Turn, Word


def _turn(spk, text, t0):
    words = tuple(Word(t0 + i * 0.3, t0 + i * 0.3 + 0.25, w, 0.9) for i, w in enumerate(text.split()))
    return Turn(spk, Role.UNKNOWN, words[0].start, words[-1].end, text, words)


def test_role_cues_pick_the_agent_with_confidence():
    turns = [
        _turn("s1", "Hi I want to report a pothole on Main Street", 0.0),
        _turn("s0", "Thank you for calling 311 my name is Maria how can I help", 5.0),
        _turn("s0", "Your request number is 241903 is there anything else I can help with", 20.0),
    ]
    roles = {r.speaker: r for r in assign_roles(turns, ["s0", "s1"])}
    assert roles["s0"].role is Role.AGENT and roles["s1"].role is Role.CALLER
    assert 0.5 < roles["s0"].confidence <= 1.0
    assert agent_score(["three one one, City of Springfield"]) > agent_score(["my trash was not picked up"])


def test_no_cues_means_unknown_roles():
    roles = assign_roles([_turn("a", "hello", 0), _turn("b", "hello", 1)], ["a", "b"])
    # the first speaker bonus alone is a weak cue: a role is given, with low confidence
    assert max(r.confidence for r in roles) < 0.5


@pytest.mark.slow
def test_embedded_backend_on_the_mono_sample(tiny_pipeline):
    from qa.config import PipelineConfig
    from qa.eval.der import diarization_error
    from qa.exports.rttm import read_rttm
    from qa.metrics.conversation import party_labels
    from qa.pipeline import Pipeline
    from qa.types import SpeakerSegment

    cfg = PipelineConfig().with_overrides(
        {"asr.model": "tiny.en", "asr.cpu_threads": 2, "diarize.mono_backend": "embedded"}
    )
    call = Pipeline(cfg).process(SAMPLES / "noise_complaint_mono.flac")
    assert call.speakers.backend == "diarize.embedded"
    assert {r.role for r in call.speakers.roles} == {Role.AGENT, Role.CALLER}
    labels = party_labels(call.speakers)
    hyp = [SpeakerSegment(labels[s.speaker], s.start, s.end) for s in call.speakers.segments]
    ref = read_rttm(SAMPLES / "noise_complaint_mono.rttm")["noise_complaint_mono"]
    res = diarization_error(ref, hyp, collar=0.25, skip_overlap=True)
    assert res.der < 0.15, res  # measured 5.0 %
    assert dict(res.mapping) == {"agent": "agent", "caller": "caller"}  # roles named right, not just clusters
    assert call.turns[0].role is Role.AGENT and "priya" in call.turns[0].text.lower()
