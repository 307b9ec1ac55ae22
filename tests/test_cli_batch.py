"""`qa process` on a mixed folder: one JSON per good call, one clear error per bad file, nothing half-written."""

import json
import shutil

import numpy as np
import pytest
from conftest import SAMPLES, write_audio
from typer.testing import CliRunner

from qa.cli import app

runner = CliRunner()
TINY = ["--model", "tiny.en", "--threads", "2", "--no-progress"]


@pytest.fixture
def mixed(tmp_path):
    calls = tmp_path / "calls"
    (calls / "east").mkdir(parents=True)
    shutil.copy(SAMPLES / "missed_trash.flac", calls / "east" / "good.flac")
    (calls / "notes.wav").write_text("not audio at all\n" * 50)
    (calls / "empty.flac").write_bytes(b"")
    write_audio(calls / "silent.wav", np.zeros(8000 * 3, np.float32), 8000)
    (calls / "readme.txt").write_text("ignored: not an audio extension")
    body = (SAMPLES / "missed_trash.flac").read_bytes()
    (calls / "corrupt.flac").write_bytes(body[:200] + np.random.default_rng(0).bytes(50000))
    return calls


@pytest.mark.slow
def test_mixed_folder(tmp_path, mixed):
    out = tmp_path / "out"
    res = runner.invoke(app, ["process", str(mixed), "--out", str(out), "--format", "json,vtt,srt,rttm", *TINY])
    assert res.exit_code == 1, res.output  # some calls failed
    assert "1 processed, 0 up to date, 4 failed" in res.output
    doc = json.loads((out / "east" / "good.json").read_text())
    assert doc["schema_version"] == "1.0" and doc["errors"] == []
    assert doc["call_id"] == doc["audio"]["sha256"][:16]
    assert doc["audio"] == {**doc["audio"], "sample_rate": 8000, "channels": 2}
    assert {t["role"] for t in doc["turns"]} == {"agent", "caller"}
    assert set(doc["metrics"]) >= {
        "talk_time_s",
        "longest_silence",
        "overtalk_count",
        "interruptions",
        "speaking_rate_wpm",
    }
    for fmt in ("vtt", "srt", "rttm"):
        assert (out / "east" / f"good.{fmt}").stat().st_size > 0
    errors = {p.name: json.loads(p.read_text())["errors"][0] for p in out.glob("*.error.json")}
    assert set(errors) == {"notes.error.json", "empty.error.json", "silent.error.json", "corrupt.error.json"}
    assert (
        errors["corrupt.error.json"]["kind"] == "audio_decode"
        and "corrupt audio" in errors["corrupt.error.json"]["message"]
    )
    assert errors["notes.error.json"]["kind"] == "audio_decode" and "notes.wav" in errors["notes.error.json"]["message"]
    assert errors["empty.error.json"]["kind"] == "empty_audio"
    assert errors["silent.error.json"]["kind"] == "silent_audio"
    assert not list(out.glob("notes.json")) and not list(out.rglob("*.tmp"))
    assert "Traceback" not in res.output

    # Re-run: the good call is up to date, the bad ones are tried again (they may have been fixed).
    res = runner.invoke(app, ["process", str(mixed), "--out", str(out), "--format", "json,vtt,srt,rttm", *TINY])
    assert "0 processed, 1 up to date, 4 failed" in res.output
    # A different setting changes the config hash, so the call is redone; --force redoes regardless.
    res = runner.invoke(app, ["process", str(mixed / "east"), "--out", str(out / "east"), "--beam-size", "1", *TINY])
    assert "1 processed" in res.output and res.exit_code == 0
    res = runner.invoke(
        app, ["process", str(mixed / "east"), "--out", str(out / "east"), "--beam-size", "1", "--force", *TINY]
    )
    assert "1 processed" in res.output


@pytest.mark.slow
def test_manifest_metadata_and_channel_mapping(tmp_path):
    calls = tmp_path / "calls"
    calls.mkdir()
    shutil.copy(SAMPLES / "streetlight_out.flac", calls / "s.flac")
    (tmp_path / "m.csv").write_text("path,agent_id,team,channels\ncalls/s.flac,A-9,west,agent-right\n")
    out = tmp_path / "out"
    res = runner.invoke(app, ["process", str(calls), "--out", str(out), "--manifest", str(tmp_path / "m.csv"), *TINY])
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "s.json").read_text())
    assert doc["metadata"]["agent_id"] == "A-9" and doc["metadata"]["team"] == "west"
    assert doc["channel_layout"] == "agent-right"
    agent_text = " ".join(t["text"] for t in doc["turns"] if t["role"] == "agent").lower()
    assert "kevin" in agent_text  # the agent in this sample is on the right channel


def test_too_long_is_one_error_and_batch_goes_on(tmp_path):
    calls = tmp_path / "calls"
    write_audio(calls / "long.flac", np.zeros(8000 * 30, np.float32), 8000)
    out = tmp_path / "out"
    res = runner.invoke(app, ["process", str(calls), "--out", str(out), "--max-duration", "10", *TINY])
    assert res.exit_code == 1
    err = json.loads((out / "long.error.json").read_text())["errors"][0]
    assert err["kind"] == "audio_too_long" and "max_duration_s" in err["message"]


def test_unwritable_output_is_a_clear_error(tmp_path):
    calls = tmp_path / "calls"
    write_audio(calls / "x.wav", np.zeros(8000, np.float32), 8000)
    blocker = tmp_path / "out"
    blocker.write_text("a file where the output folder should be")
    res = runner.invoke(app, ["process", str(calls), "--out", str(blocker), *TINY])
    assert res.exit_code == 1
    assert "cannot write" in res.output and "Traceback" not in res.output


def test_bad_options_manifest_and_config(tmp_path):
    res = runner.invoke(app, ["process", str(SAMPLES), "--format", "json,docx", *TINY])
    assert res.exit_code == 2 and "unknown format(s) docx" in res.output
    bad = tmp_path / "m.csv"
    bad.write_text("path,channels\nx.flac,sideways\n")
    res = runner.invoke(app, ["process", str(SAMPLES), "--manifest", str(bad), *TINY])
    assert res.exit_code == 2 and "row 2, column 'channels'" in res.output
    cfg = tmp_path / "c.yaml"
    cfg.write_text("metrics:\n  hold_min_s: -1\n")
    res = runner.invoke(app, ["process", str(SAMPLES), "--config", str(cfg), *TINY])
    assert res.exit_code == 2 and "field 'metrics.hold_min_s'" in res.output
    res = runner.invoke(app, ["process", str(SAMPLES), "--scorecard", str(tmp_path / "nope.yaml"), *TINY])
    assert res.exit_code == 2 and "nope.yaml: cannot read scorecard" in res.output
    res = runner.invoke(app, ["process", str(SAMPLES), "--channels", "left", *TINY])
    assert res.exit_code == 2 and "field 'audio.channels'" in res.output
    res = runner.invoke(app, ["process", str(tmp_path / "missing.wav"), "--out", str(tmp_path / "o"), *TINY])
    assert res.exit_code == 1 and "missing.wav: no such file" in res.output
    res = runner.invoke(app, ["process", str(SAMPLES), "--model", str(tmp_path / "no-model"), "--no-progress"])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_help_explains():
    res = runner.invoke(app, ["process", "--help"])
    assert res.exit_code == 0
    for word in ("--manifest", "--channels", "agent-left", "--format", "--force", "json,vtt,srt,rttm"):
        assert word in res.output
    res = runner.invoke(app, ["models"])
    assert "tiny.en" in res.output and "base" in res.output


@pytest.mark.slow
def test_summary_prints_metrics_without_transcript_text(tmp_path):
    out = tmp_path / "out"
    runner.invoke(app, ["process", str(SAMPLES / "pothole_report.flac"), "--out", str(out), *TINY])
    res = runner.invoke(app, ["summary", str(out)])
    assert res.exit_code == 0 and "pothole_report" in res.output and "1 call(s), 0 failure(s)" in res.output
    out = res.output.lower()
    assert "pothole" in out  # the request type label is shown...
    for word in ("lincoln", "boulevard", "maria", "swerving", "241903"):  # ...but no transcript words
        assert word not in out


@pytest.mark.slow
def test_exports_are_redacted_by_default(tmp_path):
    import soundfile as sf

    out = tmp_path / "out"
    src = SAMPLES / "pothole_report.flac"
    res = runner.invoke(app, ["process", str(src), "--out", str(out), "--format", "json,vtt,wav", *TINY])
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "pothole_report.json").read_text())
    person = [e for e in doc["entities"] if e["type"] == "PERSON"]
    assert person, "the agent's name should be found"
    vtt = (out / "pothole_report.vtt").read_text()
    assert "[PERSON]" in vtt and person[0]["value"] not in vtt
    assert any("[PERSON]" in t["text"] for t in doc["redacted"]) and doc["sentiment"]["caller"] is not None
    y, rate = sf.read(out / "pothole_report.redacted.wav")
    e = person[0]
    a, b = int(e["start"] * rate) + 1, int(e["end"] * rate) - 1
    assert rate == 16000 and y.shape[1] == 2 and np.abs(y[a:b]).max() == 0  # the name is silent...
    assert np.abs(y).max() > 0.05  # ...the rest is not
    res = runner.invoke(
        app, ["process", str(src), "--out", str(tmp_path / "raw"), "--format", "vtt", "--no-redact", *TINY]
    )
    assert person[0]["value"] in (tmp_path / "raw" / "pothole_report.vtt").read_text()


@pytest.mark.slow
def test_process_scores_calls_and_a_changed_scorecard_only_rescores(tmp_path):
    import yaml

    from qa.scoring.rescore import DEFAULT_SCORECARD

    out = tmp_path / "out"
    src = SAMPLES / "streetlight_out.flac"
    res = runner.invoke(app, ["process", str(src), "--out", str(out), "--channels", "agent-right", *TINY])
    assert res.exit_code == 0, res.output
    ev = json.loads((out / "streetlight_out.json").read_text())["evaluation"]
    assert ev["scorecard"]["id"] == "311-standard" and ev["passed"]
    assert {i["id"]: i["answer"] for i in ev["items"]}["sr_number_given"] == "yes"
    card = yaml.safe_load(DEFAULT_SCORECARD.read_text())
    card["version"] = "1.1"
    card["pass_percent"] = 100.0
    changed = tmp_path / "card.yaml"
    changed.write_text(yaml.safe_dump(card))
    res = runner.invoke(
        app, ["process", str(src), "--out", str(out), "--channels", "agent-right", "--scorecard", str(changed), *TINY]
    )
    assert "0 processed, 1 up to date" in res.output  # no model ran again...
    ev2 = json.loads((out / "streetlight_out.json").read_text())["evaluation"]
    assert ev2["scorecard"]["version"] == "1.1" and ev2["scorecard"]["hash"] != ev["scorecard"]["hash"]  # ...re-scored


@pytest.mark.slow
def test_two_worker_processes_give_the_same_results(tmp_path):
    srcs = [str(SAMPLES / "missed_trash.flac"), str(SAMPLES / "noise_complaint_mono.flac")]
    common = ["--model", "tiny.en", "--no-progress", "--manifest", str(SAMPLES / "manifest.csv")]
    one = runner.invoke(app, ["process", *srcs, "--out", str(tmp_path / "one"), "--workers", "1", *common])
    two = runner.invoke(app, ["process", *srcs, "--out", str(tmp_path / "two"), "--workers", "2", *common])
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    assert "2 processed, 0 up to date, 0 failed" in two.output
    for name in ("missed_trash.json", "noise_complaint_mono.json"):
        a = json.loads((tmp_path / "one" / name).read_text())
        b = json.loads((tmp_path / "two" / name).read_text())
        assert a["config_hash"] == b["config_hash"]  # thread count is not part of a result's identity
        assert [t["text"] for t in a["turns"]] == [t["text"] for t in b["turns"]]
        assert a["evaluation"]["items"] == b["evaluation"]["items"]
    again = runner.invoke(app, ["process", *srcs, "--out", str(tmp_path / "two"), *common])  # default: auto workers
    assert "0 processed, 2 up to date" in again.output
