"""Imported transcripts: WebVTT with voice tags and our call JSON go through roles, metrics, language and scoring
without speech recognition, and score like the audio they came from."""

import json

import pytest
from conftest import SAMPLES
from typer.testing import CliRunner

from qa.cli import app
from qa.errors import InputError
from qa.ingest.transcripts import load_transcript, parse_webvtt, spread_words
from qa.types import Role

runner = CliRunner()

PHONE_SYSTEM_VTT = """WEBVTT
Kind: captions

NOTE exported by the phone system
with two lines

00:00:00.500 --> 00:00:04.000
<v Maria Lopez>Thank you for calling 311, my name is Maria. How can I help you?

00:00:04.500 --> 00:00:09.000
<v John Smith>Hi, there is a huge pothole on Elm Street near 5th Avenue, it popped my tire.

00:00:09.200 --> 00:00:12.000
<v Maria Lopez>I'm sorry to hear that. What is the address?</v> <v John Smith>Uh, 120 Elm Street.</v>

1:00:13.000 --> 1:00:15.000
John Smith: okay thanks
"""


def test_webvtt_voices_prefixes_and_notes():
    cues = parse_webvtt(PHONE_SYSTEM_VTT)
    assert [c[2] for c in cues] == ["Maria Lopez", "John Smith", "Maria Lopez", "John Smith", "John Smith"]
    assert cues[3][3] == "Uh, 120 Elm Street." and cues[2][3].endswith("address?")
    assert cues[4][:2] == (3613.0, 3615.0) and cues[4][3] == "okay thanks"  # hour field, "Name:" prefix


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("00:00:01.000 --> 00:00:02.000\nhello\n", "not WebVTT"),
        ("WEBVTT\n\n00:00:01 --> 00:00:02.000\nhello\n", "line 3: bad cue timing"),
        ("WEBVTT\n\n00:00:03.000 --> 00:00:02.000\nhello\n", "line 3: cue ends before it starts"),
    ],
)
def test_bad_webvtt_names_the_line(text, message):
    with pytest.raises(InputError, match=message):
        parse_webvtt(text, "x.vtt")


def test_words_spread_inside_the_cue():
    words = spread_words("a longer word", 1.0, 3.0)
    assert [w.word for w in words] == ["a", "longer", "word"]
    assert words[0].start == 1.0 and abs(words[-1].end - 3.0) < 1e-6
    assert all(a.end <= b.start + 1e-9 for a, b in zip(words, words[1:], strict=False))
    assert words[1].end - words[1].start > words[0].end - words[0].start  # longer word, longer time


def test_roles_from_cues_when_names_are_personal(tmp_path):
    f = tmp_path / "c.vtt"
    f.write_text(PHONE_SYSTEM_VTT)
    imp = load_transcript(f)
    assert {r.speaker: r.role for r in imp.roles} == {"Maria Lopez": Role.AGENT, "John Smith": Role.CALLER}
    assert imp.audio.sha256 == imp.input_sha256 and imp.kind == "webvtt"
    f.write_text(
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v Caller>hello\n\n00:00:02.000 --> 00:00:03.000\n<v CSR 42>hi\n"
    )
    assert {r.speaker: (r.role, r.method) for r in load_transcript(f).roles} == {
        "Caller": (Role.CALLER, "voice name"),
        "CSR 42": (Role.AGENT, "voice name"),
    }


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.vtt", b"  \n", "empty transcript"),
        ("latin.vtt", "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\ncaf\xe9\n".encode("latin-1"), "not UTF-8"),
        ("nocue.vtt", b"WEBVTT\n\nNOTE nothing here\n", "no cues with text"),
        ("bad.json", b"{not json", "not valid JSON"),
        ("other.json", b'{"name": "x"}', "not a callqa call document"),
        ("failed.json", b'{"schema_version": "1.0", "errors": [{"kind": "input"}]}', "error record"),
        ("noturns.json", b'{"schema_version": "1.0", "turns": [{"speaker": "a"}]}', "missing or has a bad field"),
    ],
)
def test_bad_transcripts_are_one_clear_error(tmp_path, name, content, message):
    f = tmp_path / name
    f.write_bytes(content)
    with pytest.raises(InputError, match=message) as err:
        load_transcript(f)
    assert str(f) in str(err.value)


def test_webvtt_is_scored_without_asr(tmp_path):
    f = tmp_path / "calls" / "pothole.vtt"
    f.parent.mkdir()
    f.write_text(PHONE_SYSTEM_VTT.replace("1:00:13.000 --> 1:00:15.000", "00:00:13.000 --> 00:00:15.000"))
    (tmp_path / "calls" / "broken.vtt").write_text("WEBVTT\n\n00:00:01 --> 00:00:02.000\nhello\n")
    out = tmp_path / "out"
    res = runner.invoke(
        app, ["process", str(f.parent), "--transcripts", "--out", str(out), "-f", "json,vtt,wav", "--no-progress"]
    )
    assert res.exit_code == 1 and "0 processed, 0 up to date, 2 failed" in res.output  # wav needs the audio
    assert "needs the recording" in res.output and "line 3: bad cue timing" in res.output
    res = runner.invoke(
        app, ["process", str(f.parent), "--transcripts", "--out", str(out), "-f", "json,vtt", "--no-progress"]
    )
    assert "1 processed, 0 up to date, 1 failed" in res.output
    doc = json.loads((out / "pothole.json").read_text())
    assert doc["channel_layout"] == "transcript" and doc["asr"] == [] and doc["stages"]["import.webvtt"]
    assert doc["request_type"]["label"] == "pothole" and doc["metrics"]["talk_time_s"]["agent"] > 0
    assert any(e["type"] == "ADDRESS" for e in doc["entities"])
    items = {i["id"]: i for i in doc["evaluation"]["items"]}
    assert items["greeting"]["answer"] == "yes" and items["greeting"]["evidence"][0]["turn"] == 0
    assert any(w["code"] == "imported_transcript" for w in doc["warnings"])
    assert "Maria" not in (out / "pothole.vtt").read_text()  # the re-exported subtitles are redacted
    res = runner.invoke(app, ["process", str(f), "--out", str(out), "--no-progress"])
    assert "0 processed, 1 up to date" in res.output  # same transcript, same settings: skipped


@pytest.mark.slow
def test_call_json_and_our_vtt_score_like_the_audio(tmp_path, tiny_pipeline):
    from qa.runner.batch import BatchOptions, discover, run_batch
    from qa.scoring.scorer import Scorer

    pipe = tiny_pipeline.with_scorer(Scorer.from_file())
    audio_out = tmp_path / "audio"
    run_batch(pipe, discover([SAMPLES / "angry_caller.flac"]), audio_out, BatchOptions(("vtt",)), progress=False)
    run_batch(pipe, discover([audio_out / "angry_caller.json"]), tmp_path / "json", progress=False)
    run_batch(pipe, discover([audio_out / "angry_caller.vtt"]), tmp_path / "vtt", progress=False)
    a = json.loads((audio_out / "angry_caller.json").read_text())
    j = json.loads((tmp_path / "json" / "angry_caller.json").read_text())
    v = json.loads((tmp_path / "vtt" / "angry_caller.json").read_text())
    assert j["call_id"] == a["call_id"] and j["audio"]["sha256"] == a["audio"]["sha256"]  # same call, same identity
    assert j["turns"] == a["turns"] and j["entities"] == a["entities"]

    def answers(d):
        return {i["id"]: i["answer"] for i in d["evaluation"]["items"]}

    assert answers(j) == answers(a) and answers(v) == answers(a)
    assert v["request_type"]["label"] == j["request_type"]["label"] == a["request_type"]["label"]
    assert v["sentiment"]["caller"]["was_negative"] == a["sentiment"]["caller"]["was_negative"]
    # a results folder imported with --transcripts takes each call once (the JSON, not also its VTT)
    jobs = discover([audio_out], transcripts=True)
    assert [j.path.name for j in jobs] == ["angry_caller.json"]
    from qa.runner.batch import run_one

    out = run_one(pipe, jobs[0], audio_out, BatchOptions(force=True))  # into its own folder: refused
    assert out.status == "failed" and "overwrite" in out.message
    assert json.loads((audio_out / "angry_caller.json").read_text()) == a  # and the input is untouched
