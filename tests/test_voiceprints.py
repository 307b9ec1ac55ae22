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


def test_a_source_is_counted_once_and_old_files_without_source_ids_still_load(tmp_path):
    import json

    f = VoiceprintFile(tmp_path / "vp.json")
    first = f.enroll("A-1", _unit(1, 0, 0), 30.0, ENC, source_id="call-1")
    assert first.source_ids == ("call-1",)
    assert f.enroll("A-1", _unit(0, 1, 0), 30.0, ENC, source_id="call-1") is None  # re-processed: not again
    assert f.load()["A-1"] == first
    raw = json.loads((tmp_path / "vp.json").read_text())
    del raw["agents"]["A-1"]["source_ids"]  # a file written before source ids existed
    (tmp_path / "vp.json").write_text(json.dumps(raw))
    assert f.load()["A-1"].source_ids == ()
    assert f.enroll("A-1", _unit(0, 1, 0), 30.0, ENC, source_id="call-2").sources == 2


def test_the_config_hash_follows_who_is_enrolled_not_each_refinement(tmp_path):
    from qa.config import PipelineConfig
    from qa.pipeline import Pipeline

    vp = tmp_path / "vp.json"
    pipe = Pipeline(PipelineConfig().with_overrides({"nlp.enabled": False, "diarize.voiceprints": str(vp)}))
    none = pipe.call_config_hash()
    VoiceprintFile(vp).enroll("A-1", _unit(1, 0, 0), 10.0, ENC, "c1")
    one = pipe.call_config_hash()
    VoiceprintFile(vp).enroll("A-1", _unit(0, 1, 0), 10.0, ENC, "c2")  # learnt from another call
    assert pipe.call_config_hash() == one != none
    VoiceprintFile(vp).forget("A-1")
    assert pipe.call_config_hash() == none


def test_learning_needs_somewhere_to_keep_the_prints():
    from qa.config import PipelineConfig
    from qa.errors import ConfigError

    with pytest.raises(ConfigError, match="voiceprint_learning needs diarize.voiceprints"):
        PipelineConfig().with_overrides({"diarize.voiceprint_learning": True})


def test_store_voiceprints_round_trip_count_each_source_once_and_audit_every_change(store):
    from qa.store.audit import Actor
    from qa.store.models import AuditRow, VoiceprintRow, VoiceprintSource
    from qa.store.voiceprints import StoreVoiceprints

    prints = StoreVoiceprints(store, Actor(None, "pipeline:test", "worker"))
    a = prints.enroll("A-1", _unit(1, 0.5, 0), 30.0, ENC, "c1")
    b = prints.enroll("A-1", _unit(0, 1, 0), 10.0, ENC, "c2")
    assert prints.enroll("A-1", _unit(0, 0, 1), 99.0, ENC, "c2") is None
    got = prints.load()["A-1"]
    assert got.sources == 2 == b.sources and got.seconds == 40.0 and got.source_ids == ("c1", "c2")
    assert np.allclose(got.vector, b.vector, atol=1e-6) and not np.allclose(got.vector, a.vector, atol=1e-3)
    prints.enroll("A-2", _unit(0, 0, 1), 5.0, ENC)
    assert set(StoreVoiceprints(store).listing()) == {"A-1", "A-2"}
    assert prints.forget("A-2") and not prints.forget("A-2")
    with store.session() as s:
        trail = [(r.action, r.object_id, r.actor_name) for r in s.query(AuditRow).order_by(AuditRow.id)]
        details = [r.details for r in s.query(AuditRow)]
        assert s.query(VoiceprintRow).count() == 1
        assert {x.agent_id for x in s.query(VoiceprintSource)} == {"A-1"}  # A-2's sources went with its print
    assert trail == [
        ("voiceprint.enroll", "A-1", "pipeline:test"),
        ("voiceprint.update", "A-1", "pipeline:test"),
        ("voiceprint.enroll", "A-2", "pipeline:test"),
        ("voiceprint.list", None, trail[3][2]),
        ("voiceprint.forget", "A-2", "pipeline:test"),
    ]
    assert trail[3][2].startswith("cli:")
    assert not any("vector" in d for d in details)  # the print itself never goes into the trail


def test_two_writers_refining_one_print_lose_no_update(store):
    import threading

    from qa.store.voiceprints import StoreVoiceprints

    StoreVoiceprints(store).enroll("A-1", _unit(1, 0, 0), 1.0, ENC, "seed")
    errors = []

    def work(k):
        try:
            for i in range(8):
                StoreVoiceprints(store).enroll("A-1", _unit(0, 1, 0), 1.0, ENC, f"w{k}-{i}", create=False)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    vp = StoreVoiceprints(store).load()["A-1"]
    assert not errors and vp.sources == 17 and vp.seconds == 17.0 and len(set(vp.source_ids)) == 17


def test_learning_refines_enrolled_prints_only(tmp_path):
    f = VoiceprintFile(tmp_path / "vp.json")
    assert f.enroll("A-1", _unit(1, 0, 0), 5.0, ENC, "c1", create=False) is None and f.load() == {}
    f.enroll("A-1", _unit(1, 0, 0), 5.0, ENC, "c1")
    assert f.enroll("A-1", _unit(0, 1, 0), 5.0, ("mfcc", "builtin"), "c2", create=False) is None  # other encoder
    assert f.enroll("A-1", _unit(0, 1, 0), 5.0, ENC, "c2", create=False).sources == 2


def test_a_source_taken_out_of_a_stored_print_leaves_exactly_the_others(store):
    from qa.store.models import AuditRow, VoiceprintRow, VoiceprintSource
    from qa.store.voiceprints import StoreVoiceprints

    prints = StoreVoiceprints(store)
    only_a = prints.enroll("A-1", _unit(1, 0.2, 0), 30.0, ENC, "a")
    both = prints.enroll("A-1", _unit(0, 1, 0.3), 10.0, ENC, "b")
    assert not np.allclose(both.vector, only_a.vector, atol=1e-3)
    assert prints.remove_source("A-1", "b", "test") and not prints.remove_source("A-1", "b", "test")
    back = prints.load()["A-1"]
    assert np.allclose(back.vector, only_a.vector, atol=1e-6) and back.seconds == 30.0 and back.sources == 1
    assert back.source_ids == ("a",)
    assert prints.enroll("A-1", _unit(0, 1, 0.3), 10.0, ENC, "b") is not None  # it can come back: it is gone
    assert prints.remove_source("A-1", "a", "test") and prints.remove_source("A-1", "b", "test")
    with store.session() as s:  # the last source took the print with it
        assert s.query(VoiceprintRow).count() == 0 and s.query(VoiceprintSource).count() == 0
        reasons = [r.details["reason"] for r in s.query(AuditRow).filter(AuditRow.action == "voiceprint.remove_source")]
    assert reasons == ["test"] * 3


def test_erasing_a_call_takes_its_voice_out_of_every_print(store, sample_docs):
    from storekit import load, variant

    from qa.store.models import AuditRow
    from qa.store.retention import erase_call
    from qa.store.voiceprints import StoreVoiceprints

    (cid,) = load(store, [variant(sample_docs["pothole_report"], 3, "A1", "east", "2026-11-02T09:00:00")])
    prints = StoreVoiceprints(store)
    prints.enroll("A1", _unit(1, 0, 0), 20.0, ENC, "enrolment-clip")
    prints.enroll("A1", _unit(0, 1, 0), 20.0, ENC, cid)
    done = erase_call(store, cid, "records request")
    assert done["voiceprints_changed"] == ["A1"]
    vp = prints.load()["A1"]
    assert vp.source_ids == ("enrolment-clip",) and np.allclose(vp.vector, _unit(1, 0, 0), atol=1e-6)
    with store.session() as s:
        erase = s.query(AuditRow).filter(AuditRow.action == "call.erase").one()
        assert erase.details["voiceprints_changed"] == ["A1"]


def test_agents_commands_work_on_the_store_and_refuse_bad_input(tmp_path):
    from typer.testing import CliRunner

    from qa.cli import app
    from qa.store.db import open_store
    from qa.store.voiceprints import StoreVoiceprints

    url = f"sqlite:///{tmp_path / 'qa.db'}"
    StoreVoiceprints(open_store(url)).enroll("A-7", _unit(1, 0, 0), 12.0, ENC, "c1")
    StoreVoiceprints(open_store(url)).enroll("A-7", _unit(0, 1, 0), 3.0, ENC, "c2")
    runner = CliRunner()
    listed = runner.invoke(app, ["agents", "list", "--voiceprints", url, "--sources"])
    assert listed.exit_code == 0 and "A-7\t2 source(s)\t15.0 s" in listed.output and "c1 c2" in listed.output
    res = runner.invoke(app, ["agents", "forget", "A-7", "--source", "c2", "--voiceprints", url])
    assert res.exit_code == 0 and "took c2 out of A-7's voiceprint" in res.output
    res = runner.invoke(app, ["agents", "forget", "A-7", "--source", "c2", "--voiceprints", url])
    assert res.exit_code == 2 and "no source c2 in the voiceprint of A-7" in res.output
    res = runner.invoke(app, ["agents", "forget", "A-7", "--source", "c\x001", "--voiceprints", url])
    assert res.exit_code == 2 and "--source" in res.output
    vp_file = tmp_path / "vp.json"
    VoiceprintFile(vp_file).enroll("A-7", _unit(1, 0, 0), 12.0, ENC, "c1")
    res = runner.invoke(app, ["agents", "forget", "A-7", "--source", "c1", "--voiceprints", str(vp_file)])
    assert res.exit_code == 2 and "keeps no per-source voices" in res.output
    res = runner.invoke(app, ["agents", "forget", "A-8", "--voiceprints", url])
    assert res.exit_code == 2 and "no voiceprint for A-8 in the store sqlite:///" in res.output
    assert runner.invoke(app, ["agents", "forget", "A-7", "--voiceprints", url]).exit_code == 0
    assert "no enrolled agents" in runner.invoke(app, ["agents", "list", "--voiceprints", url]).output
    res = runner.invoke(app, ["agents", "learn", "--db", url])
    assert res.exit_code == 0 and "no confirmed call to learn from" in res.output
    res = runner.invoke(app, ["agents", "learn", "--db", url, "--call", "0123456789abcdef"])
    assert res.exit_code == 0 and "skipped 0123456789abcdef: no role confirmation" in res.output


@pytest.mark.slow
def test_two_channel_calls_teach_the_store_and_a_confirmed_mono_call_adds_to_the_print(tmp_path):
    """Real audio end to end: a confidently decided two-channel call refines its agent's print in the store (once);
    the print then names the agent on a mono call; a reviewer's confirmation of a mono call adds it via `learn`."""
    from typer.testing import CliRunner

    from qa.cli import app
    from qa.config import PipelineConfig
    from qa.document import call_document
    from qa.pipeline import Pipeline
    from qa.store.audit import Actor
    from qa.store.calls import import_document
    from qa.store.db import open_store
    from qa.store.models import AuditRow, Call
    from qa.store.voiceprints import StoreVoiceprints, confirm_roles
    from qa.types import CallMetadata

    url = f"sqlite:///{tmp_path / 'qa.db'}"
    store = open_store(url)
    cfg = PipelineConfig().with_overrides(
        {
            "asr.model": "tiny.en",
            "asr.cpu_threads": 2,
            "nlp.enabled": False,
            "diarize.voiceprints": url,
            "diarize.voiceprint_learning": True,
        }
    )
    pipe = Pipeline(cfg)
    before = pipe.call_config_hash()
    call = pipe.process(SAMPLES / "pothole_report.flac", CallMetadata(agent_id="A-1042"))
    assert call.speakers.voice_learned is None and StoreVoiceprints(store).load() == {}  # nobody enrolled: no print
    runner = CliRunner()
    res = runner.invoke(
        app,
        ["agents", "enroll", "A-1042", "--from", str(SAMPLES / "pothole_report.flac"), "--voiceprints", url, "-c",
         str(_tiny_cfg(tmp_path))],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert pipe.call_config_hash() != before  # a new agent is enrolled: mono calls are redone
    again = pipe.process(SAMPLES / "pothole_report.flac", CallMetadata(agent_id="A-1042"))
    learned = call_document(again)["speakers"]["voiceprint_learned"]
    assert learned["agent_id"] == "A-1042" and learned["added"] is False  # the enrolled call: counted once
    vp = StoreVoiceprints(store).load()["A-1042"]
    assert vp.sources == 1 and vp.source_ids == (call.call_id,)
    other = pipe.process(SAMPLES / "streetlight_out.flac", CallMetadata(agent_id="A-1042"))
    assert other.speakers.voice_learned.added and other.speakers.voice_learned.seconds > 10
    assert StoreVoiceprints(store).load()["A-1042"].sources == 2
    assert pipe.process(SAMPLES / "missed_trash.flac").speakers.voice_learned is None  # no agent_id: nothing
    assert pipe.process(SAMPLES / "missed_trash.flac", CallMetadata(agent_id="A-9")).speakers.voice_learned is None

    mono = pipe.process(SAMPLES / "noise_complaint_mono.flac", CallMetadata(agent_id="A-1042"))
    m = mono.speakers.voice_match
    assert m is not None and m.agent_id == "A-1042" and not m.suggested and m.margin > 0.05
    assert mono.speakers.voice_learned is None  # mono calls learn only through a reviewer's confirmation

    doc = call_document(mono)
    with store.session() as s:
        row, _ = import_document(s, doc, audio_path=str(SAMPLES / "noise_complaint_mono.flac"))
        confirm_roles(s, row, m.speaker, None, Actor.cli())
    res = runner.invoke(app, ["agents", "learn", "--db", url, "-c", str(_tiny_cfg(tmp_path))])
    assert res.exit_code == 0, res.output
    assert f"{mono.call_id}: agent A-1042" in res.output and "speech added" in res.output
    vp = StoreVoiceprints(store).load()["A-1042"]
    assert vp.sources == 3 and mono.call_id in vp.source_ids
    assert "no confirmed call to learn from" in runner.invoke(app, ["agents", "learn", "--db", url]).output
    res = runner.invoke(app, ["agents", "learn", "--db", url, "--call", mono.call_id, "-c", str(_tiny_cfg(tmp_path))])
    assert "already in the print" in res.output and StoreVoiceprints(store).load()["A-1042"].sources == 3
    before = StoreVoiceprints(store).load()["A-1042"].vector
    with store.session() as s:  # the reviewer changes their mind: the other speaker is the agent
        other_speaker = next(r.speaker for r in mono.speakers.roles if r.speaker != m.speaker)
        confirm_roles(s, s.get(Call, mono.call_id), other_speaker, None, Actor.cli())
    res = runner.invoke(app, ["agents", "learn", "--db", url, "-c", str(_tiny_cfg(tmp_path))])
    assert "the voice taken with the wrong roles replaced" in res.output, res.output
    vp = StoreVoiceprints(store).load()["A-1042"]
    assert vp.sources == 3 and mono.call_id in vp.source_ids and vp.vector != before
    with store.session() as s:
        actions = [r.action for r in s.query(AuditRow).order_by(AuditRow.id)]
        s.get(Call, mono.call_id).config_hash = "another"  # re-processed since the confirmation
    assert actions.count("voiceprint.enroll") == 1 and actions.count("voiceprint.update") == 3
    assert actions.count("voiceprint.remove_source") == 1
    res = runner.invoke(app, ["agents", "learn", "--db", url, "--call", mono.call_id])
    assert "re-processed since the roles were confirmed" in res.output


def _tiny_cfg(tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("asr:\n  model: tiny.en\n  cpu_threads: 2\n")
    return cfg
