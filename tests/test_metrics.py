"""Every conversation metric on constructed timelines whose answers are known by hand."""

import pytest

from qa.config import MetricsConfig
from qa.metrics.conversation import conversation_metrics
from qa.types import Role, SpeakerSegment, Turn, Word

LABELS = {"A": "agent", "C": "caller"}


def seg(spk, s, e):
    return SpeakerSegment(spk, s, e)


def turn(spk, s, e, n_words):
    step = (e - s) / n_words
    words = tuple(Word(s + i * step, s + (i + 1) * step, f"w{i}", 0.9) for i in range(n_words))
    role = Role.AGENT if spk == "A" else Role.CALLER
    return Turn(spk, role, s, e, " ".join(w.word for w in words), words)


def metrics(segments, turns=(), duration=60.0, **cfg):
    return conversation_metrics(segments, turns, LABELS, duration, MetricsConfig(**cfg))


def test_talk_time_share_ratio_and_silence():
    # agent 0-10, caller 12-17, agent 18-28; duration 30
    m = metrics([seg("A", 0, 10), seg("C", 12, 17), seg("A", 18, 28)], duration=30.0)
    assert m.talk_time_s == {"agent": 20.0, "caller": 5.0}
    assert m.talk_share["agent"] == pytest.approx(0.8)
    assert m.talk_listen_ratio == pytest.approx(4.0)
    assert m.speech_s == 25.0 and m.non_talk_s == 5.0
    assert (m.longest_silence.start, m.longest_silence.end, m.longest_silence.duration_s) == (10.0, 12.0, 2.0)
    assert m.holds == () and m.overtalk_count == 0 and m.interruptions == ()


def test_hold_is_a_long_silence():
    m = metrics([seg("A", 0, 5), seg("A", 20, 25), seg("C", 26, 27), seg("C", 35, 36)], hold_min_s=8.0)
    assert [(h.start, h.end) for h in m.holds] == [(5.0, 20.0), (27.0, 35.0)]
    assert m.hold_s == 23.0
    assert m.longest_silence.duration_s == 15.0


def test_overtalk_counts_and_seconds():
    # overlaps: 9-10 (1.0 s) and 19.9-20 (0.1 s, below the 0.2 s minimum)
    m = metrics([seg("A", 0, 10), seg("C", 9, 12), seg("A", 15, 20), seg("C", 19.9, 22)])
    assert m.overtalk_count == 1
    assert m.overtalk_s == pytest.approx(1.0)


def test_interruption_who_cut_in_on_whom():
    # caller cuts in at 8 while the agent speaks until 10, and keeps going 3 s: an interruption of the agent.
    # agent cuts in at 21 while the caller speaks 15-25, for 2 s: an interruption of the caller.
    m = metrics([seg("A", 0, 10), seg("C", 8, 11), seg("C", 15, 25), seg("A", 21, 23)])
    got = [(i.by, i.of, i.at, round(i.overlap_s, 3)) for i in m.interruptions]
    assert got == [("caller", "agent", 8.0, 2.0), ("agent", "caller", 21.0, 2.0)]
    assert m.interruptions_by == {"agent": 1, "caller": 1}


def test_backchannel_and_brief_overlap_are_not_interruptions():
    # "uh-huh" 0.5 s inside the agent's speech: overtalk, but a backchannel; a 0.1 s overlap at a turn change: neither.
    m = metrics([seg("A", 0, 10), seg("C", 4, 4.5), seg("C", 9.9, 14)])
    assert m.interruptions == ()
    assert m.overtalk_count == 1  # the backchannel overlap (0.5 s); 0.1 s is under the minimum


def test_speaking_rate_word_counts_and_first_agent_words():
    segs = [seg("A", 2, 12), seg("C", 13, 19)]
    turns = [turn("A", 2, 12, 25), turn("C", 13, 19, 18)]
    m = metrics(segs, turns)
    assert m.speaking_rate_wpm["agent"] == pytest.approx(25 / (10 / 60))
    assert m.speaking_rate_wpm["caller"] == pytest.approx(18 / (6 / 60))
    assert m.word_count == {"agent": 25, "caller": 18}
    assert m.turn_count == {"agent": 1, "caller": 1}
    assert m.agent_first_words_s == 2.0


def test_unknown_roles_use_speaker_labels_and_no_ratio():
    m = conversation_metrics([seg("spk0", 0, 5)], (), {"spk0": "spk0"}, 10.0, MetricsConfig())
    assert m.talk_time_s == {"spk0": 5.0}
    assert m.talk_listen_ratio is None and m.agent_first_words_s is None


def test_empty_call_has_no_silence_and_zero_talk():
    m = metrics([], duration=5.0)
    assert m.speech_s == 0 and m.non_talk_s == 5.0 and m.longest_silence is None
    assert m.talk_listen_ratio is None
