from qa.exports.rttm import read_rttm, to_rttm
from qa.exports.subtitles import to_srt, to_vtt
from qa.types import Role, SpeakerSegment, Turn, Word


def _turns():
    w1 = (Word(0.5, 1.0, "Hello,", 0.9), Word(1.1, 1.6, "311.", 0.9))
    w2 = (Word(3725.25, 3725.75, "Hi.", 0.8),)
    return [
        Turn("ch0", Role.AGENT, 0.5, 1.6, "Hello, 311.", w1),
        Turn("spk1", Role.UNKNOWN, 3725.25, 3725.75, "Hi.", w2),
    ]


def test_vtt_and_srt():
    vtt = to_vtt(_turns())
    assert vtt.startswith("WEBVTT\n\n00:00:00.500 --> 00:00:01.600\n<v agent>Hello, 311.\n")
    assert "01:02:05.250 --> 01:02:05.750\n<v spk1>Hi." in vtt
    srt = to_srt(_turns())
    assert srt.startswith("1\n00:00:00,500 --> 00:00:01,600\n[agent] Hello, 311.\n\n2\n01:02:05,250")


def test_long_turn_is_split_into_readable_cues():
    words = tuple(Word(i * 0.5, i * 0.5 + 0.4, f"w{i}", 0.9) for i in range(40))  # 20 s of speech
    vtt = to_vtt([Turn("ch0", Role.AGENT, 0, 20, "", words)])
    assert vtt.count("-->") == 3


def test_rttm_round_trip(tmp_path):
    segs = [SpeakerSegment("ch0", 0.5, 2.25), SpeakerSegment("ch1", 2.0, 4.0)]
    p = tmp_path / "x.rttm"
    p.write_text(to_rttm("call1", segs, {"ch0": "agent", "ch1": "caller"}))
    back = read_rttm(p)["call1"]
    assert [(s.speaker, s.start, s.end) for s in back] == [("agent", 0.5, 2.25), ("caller", 2.0, 4.0)]
