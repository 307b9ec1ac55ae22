import numpy as np

from qa.diarize.turns import assign_words, build_turns, speech_segments
from qa.types import Role, SpeakerSegment, Word


def w(s, e, text="x"):
    return Word(s, e, text, 0.9)


def test_word_in_overlap_goes_to_the_speaker_covering_most_of_it():
    segs = [SpeakerSegment("A", 0, 5.2), SpeakerSegment("B", 4.9, 9)]
    words = [w(1, 1.5), w(4.95, 5.5), w(5.0, 5.15), w(7, 7.4), w(20, 20.5)]
    # 4.95-5.5: A covers 0.25, B 0.55 -> B; 5.0-5.15 inside both: tie broken toward the first (A);
    # 20-20.5 touched by nobody: nearest speaker in time (B).
    assert assign_words(words, segs) == ["A", "B", "A", "B", "B"]


def test_assign_words_scales_without_nested_loops():
    rng = np.random.default_rng(0)
    starts = np.sort(rng.uniform(0, 3600, 20000))
    words = [w(s, s + 0.3) for s in starts]
    segs = [SpeakerSegment("A" if i % 2 else "B", i * 10.0, i * 10.0 + 10.0) for i in range(360)]
    out = assign_words(words, segs)
    expect = ["A" if int((s + 0.15) // 10) % 2 else "B" for s in starts]
    assert np.mean([a == b for a, b in zip(out, expect, strict=True)]) > 0.99


def test_build_turns_merges_by_time_and_splits_on_speaker_change_or_long_pause():
    words = [w(0, 0.4, "hello"), w(5.0, 5.3, "later"), w(0.5, 0.9, "there"), w(1.2, 1.5, "hi")]
    speakers = ["A", "A", "A", "B"]
    turns = build_turns(words, speakers, {"A": Role.AGENT, "B": Role.CALLER}, max_gap_s=1.5)
    assert [(t.speaker, t.text, t.role) for t in turns] == [
        ("A", "hello there", Role.AGENT),
        ("B", "hi", Role.CALLER),
        ("A", "later", Role.AGENT),
    ]
    assert (turns[0].start, turns[0].end) == (0, 0.9)


def test_speech_segments_clip_loose_word_ends_to_energy():
    words = [w(1.0, 1.5), w(1.6, 3.0)]  # Whisper stretched the last word to 3.0; energy stops at 2.0
    segs = speech_segments("A", words, np.array([[0.95, 2.0]]), gap_s=0.3)
    assert [(s.start, round(s.end, 3)) for s in segs] == [(1.0, 2.05)]
    # words with no energy at all (very quiet speech) are kept rather than dropped
    segs = speech_segments("A", [w(10, 11)], np.array([[0.95, 2.0]]), gap_s=0.3)
    assert [(s.start, s.end) for s in segs] == [(10.0, 11.0)]


def test_speech_segments_add_energy_that_vad_calls_speech():
    """Speech the recogniser gave no word to (a mumble at 5-6 s) counts when the channel's Silero regions vouch for it;
    energy that Silero does not call speech (a door at 8 s) does not."""
    words = [w(1.0, 1.5)]
    energy = np.array([[0.95, 1.6], [5.0, 6.0], [8.0, 8.5]])
    vad = np.array([[0.9, 1.7], [4.9, 6.1]])
    segs = speech_segments("A", words, energy, gap_s=0.3, vad=vad)
    assert [(s.start, round(s.end, 3)) for s in segs] == [(0.95, 1.6), (5.0, 6.0)]
    assert speech_segments("A", [], energy, gap_s=0.3, vad=vad)[-1].start == 5.0  # no words at all: still there
