"""Agent voiceprints: the file store, matching a call's speakers, and the CLI on real audio."""

import stat

import numpy as np
import pytest
from conftest import SAMPLES

from qa.diarize.voiceprints import VoiceprintFile, apply_match, match
from qa.types import Role, SpeakerRole, Speakers, SpeakerSegment, Turn, Word

ENC = ("resemblyzer", "0.1.4")


def _unit(*xs):
    v = np.array(xs, dtype=float)
    return v / np.linalg.norm(v)


def test_the_file_is_private_keeps_the_encoder_and_averages_by_seconds(tmp_path):
    f = VoiceprintFile(tmp_path / "vp.json")
    f.enroll("A-1", _unit(1, 0, 0), 30.0, ENC)
    vp = f.enroll("A-1", _unit(0, 1, 0), 10.0, ENC)
    assert vp.sources == 2 and vp.seconds == 40.0 and vp.encoder == "resemblyzer"
    assert vp.vector[0] > vp.vector[1] > 0  # weighted towards the longer source
    assert stat.S_IMODE((tmp_path / "vp.json").stat().st_mode) == 0o600
    other = f.enroll("A-1", _unit(0, 0, 1), 5.0, ("mfcc", "builtin"))  # another encoder: not comparable, restart
    assert other.sources == 1 and other.encoder == "mfcc"
    assert f.forget("A-1") and not f.forget("A-1") and f.load() == {}


def _speakers():
    turns = (
        Turn("spk0", Role.AGENT, 0, 1, "hello", (Word(0, 1, "hello", 1.0),)),
        Turn("spk1", Role.CALLER, 2, 3, "hi", (Word(2, 3, "hi", 1.0),)),
    )
    roles = (SpeakerRole("spk0", Role.AGENT, 0.3, "cues"), SpeakerRole("spk1", Role.CALLER, 0.3, "cues"))
    segs = (SpeakerSegment("spk0", 0, 1), SpeakerSegment("spk1", 2, 3))
    return Speakers("diarize.embedded", segs, turns, roles)


def test_a_known_agents_voice_decides_the_agent_with_the_margin_as_confidence(tmp_path):
    f = VoiceprintFile(tmp_path / "vp.json")
    f.enroll("A-1", _unit(0, 1, 0.1), 60.0, ENC)
    vectors = {"spk0": _unit(1, 0.2, 0), "spk1": _unit(0.1, 1, 0)}  # spk1 sounds like A-1, the cues said spk0
    found = match(vectors, f.load(), ENC, "A-1")
    assert found.speaker == "spk1" and found.margin > 0.5 and not found.suggested
    out = apply_match(_speakers(), found)
    roles = {r.speaker: r for r in out.roles}
    assert roles["spk1"].role is Role.AGENT and roles["spk0"].role is Role.CALLER
    assert roles["spk1"].confidence == found.margin and "cues disagree" in roles["spk1"].method
    assert [t.role for t in out.turns] == [Role.CALLER, Role.AGENT] and out.voice_match == found


def test_without_an_agent_id_the_best_enrolled_agent_is_only_suggested(tmp_path):
    f = VoiceprintFile(tmp_path / "vp.json")
    f.enroll("A-1", _unit(0, 1, 0), 60.0, ENC)
    f.enroll("A-2", _unit(0, 0, 1), 60.0, ENC)
    vectors = {"spk0": _unit(1, 0, 0), "spk1": _unit(0, 0.2, 1)}
    found = match(vectors, f.load(), ENC, None)
    assert found.agent_id == "A-2" and found.suggested and found.speaker == "spk1"
    out = apply_match(_speakers(), found)
    assert out.roles == _speakers().roles and out.voice_match.agent_id == "A-2"  # a suggestion changes no role
    assert match(vectors, f.load(), ("mfcc", "builtin"), None) is None  # prints of another encoder are not used
    assert match({"spk0": _unit(1, 0, 0)}, f.load(), ENC, None) is None  # nobody close enough to suggest


@pytest.mark.slow
def test_enroll_from_a_two_channel_call_then_find_the_agent_on_a_mono_call(tmp_path):
    from typer.testing import CliRunner

    from qa.cli import app
    from qa.config import PipelineConfig
    from qa.pipeline import Pipeline
    from qa.types import CallMetadata

    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text("asr:\n  model: tiny.en\n  cpu_threads: 2\n")
    vp = tmp_path / "vp.json"
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "agents",
            "enroll",
            "A-1042",
            "--from",
            str(SAMPLES / "pothole_report.flac"),
            "--voiceprints",
            str(vp),
            "-c",
            str(cfg_file),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "agent channel 0" in res.output
    listed = runner.invoke(app, ["agents", "list", "--voiceprints", str(vp)])
    assert "A-1042" in listed.output and "[" not in listed.output  # no vector printed

    cfg = PipelineConfig().with_overrides(
        {"asr.model": "tiny.en", "asr.cpu_threads": 2, "nlp.enabled": False, "diarize.voiceprints": str(vp)}
    )
    pipe = Pipeline(cfg)
    call = pipe.process(SAMPLES / "noise_complaint_mono.flac", CallMetadata(agent_id="A-1042"))
    m = call.speakers.voice_match
    assert m is not None and m.agent_id == "A-1042" and not m.suggested and m.margin > 0.05
    assert {r.speaker: r.role for r in call.speakers.roles}[m.speaker] is Role.AGENT
    assert call.turns[0].role is Role.AGENT
    suggested = pipe.process(SAMPLES / "noise_complaint_mono.flac").speakers.voice_match
    assert suggested is not None and suggested.suggested and suggested.agent_id == "A-1042"
    assert runner.invoke(app, ["agents", "forget", "A-1042", "--voiceprints", str(vp)]).exit_code == 0
    assert "no enrolled agents" in runner.invoke(app, ["agents", "list", "--voiceprints", str(vp)]).output


def test_enrolling_changes_the_config_hash_of_calls_that_use_the_prints(tmp_path):
    """Same audio, same settings, a new voiceprint: the call must be processed again, not skipped as up to date."""
    from qa.config import PipelineConfig
    from qa.pipeline import Pipeline

    vp = tmp_path / "vp.json"
    pipe = Pipeline(PipelineConfig().with_overrides({"nlp.enabled": False, "diarize.voiceprints": str(vp)}))
    before = pipe.call_config_hash()
    VoiceprintFile(vp).enroll("A-1", _unit(1, 0, 0), 10.0, ENC)
    assert pipe.call_config_hash() != before


def test_agents_commands_refuse_bad_input_with_one_message_and_keep_the_file(tmp_path):
    from typer.testing import CliRunner

    from qa.cli import app

    runner = CliRunner()
    vp = tmp_path / "prints.json"
    vp.write_text("{not json")
    before = vp.read_bytes()
    res = runner.invoke(app, ["agents", "list", "--voiceprints", str(vp)])
    assert res.exit_code == 2 and "not a voiceprint file" in res.output
    res = runner.invoke(app, ["agents", "forget", "A1", "--voiceprints", str(vp)])
    assert res.exit_code == 2 and "not a voiceprint file" in res.output
    res = runner.invoke(app, ["agents", "enroll", "A\x001", "--from", str(vp), "--voiceprints", str(vp)])
    assert res.exit_code == 2 and "agent_id" in res.output
    nope = str(tmp_path / "nope.flac")
    res = runner.invoke(app, ["agents", "enroll", "A1", "--from", nope, "--voiceprints", str(vp)])
    assert res.exit_code == 2 and "no such file" in res.output
    assert vp.read_bytes() == before  # nothing was rewritten
    empty = tmp_path / "none.json"
    res = runner.invoke(app, ["agents", "forget", "A1", "--voiceprints", str(empty)])
    assert res.exit_code == 2 and "no voiceprint for A1" in res.output and not empty.exists()
