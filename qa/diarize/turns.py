"""Words -> speakers -> turns, and speaker segments from word timings clipped to signal energy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from qa import intervals as iv
from qa.types import Role, SpeakerSegment, Turn, Word


def assign_words(words: Sequence[Word], segments: Sequence[SpeakerSegment]) -> list[str | None]:
    """Speaker of each word: the speaker whose segments cover most of the word (vectorised over words).

    For each speaker, coverage of every word is computed with prefix sums over that speaker's merged segments and
    ``np.searchsorted``; no word x segment loop. Words no segment touches get the nearest speaker in time.
    """
    if not words:
        return []
    starts = np.array([w.start for w in words])
    ends = np.array([w.end for w in words])
    ends = np.maximum(ends, starts + 1e-3)
    speakers = sorted({s.speaker for s in segments})
    if not speakers:
        return [None] * len(words)
    cover = np.zeros((len(speakers), len(words)))
    dist = np.full((len(speakers), len(words)), np.inf)
    for k, spk in enumerate(speakers):
        segs = iv.merge([(s.start, s.end) for s in segments if s.speaker == spk])
        cover[k] = _covered_length(segs, starts, ends)
        mids = (starts + ends) / 2
        i = np.clip(np.searchsorted(segs[:, 0], mids), 1, len(segs)) - 1
        j = np.clip(i + 1, 0, len(segs) - 1)
        d_i = np.maximum(0, np.maximum(segs[i, 0] - mids, mids - segs[i, 1]))
        d_j = np.maximum(0, np.maximum(segs[j, 0] - mids, mids - segs[j, 1]))
        dist[k] = np.minimum(d_i, d_j)
    best = np.where(cover.max(axis=0) > 0, cover.argmax(axis=0), dist.argmin(axis=0))
    return [speakers[b] for b in best]


def _covered_length(segs: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Length of [starts[i], ends[i]) inside the merged intervals ``segs``, for every i."""
    if len(segs) == 0:
        return np.zeros(len(starts))
    cum = np.concatenate([[0.0], np.cumsum(segs[:, 1] - segs[:, 0])])

    def covered_before(t: np.ndarray) -> np.ndarray:  # total segment length in (-inf, t)
        k = np.searchsorted(segs[:, 0], t, side="right")  # segments starting at or before t
        full = cum[np.maximum(k - 1, 0)]
        partial = np.where(k > 0, np.clip(t - segs[np.maximum(k - 1, 0), 0], 0, None), 0)
        partial = np.minimum(partial, np.where(k > 0, segs[np.maximum(k - 1, 0), 1] - segs[np.maximum(k - 1, 0), 0], 0))
        return np.where(k > 0, full + partial, 0.0)

    return covered_before(ends) - covered_before(starts)


def build_turns(
    words: Sequence[Word], speakers: Sequence[str], roles: Mapping[str, Role], max_gap_s: float
) -> tuple[Turn, ...]:
    """Sort attributed words by time and cut a new turn on a speaker change or a pause longer than ``max_gap_s``."""
    order = sorted(range(len(words)), key=lambda i: (words[i].start, words[i].end))
    turns: list[Turn] = []
    cur: list[Word] = []
    cur_spk: str | None = None
    for i in order:
        w, spk = words[i], speakers[i]
        if cur and (spk != cur_spk or w.start - cur[-1].end > max_gap_s):
            turns.append(_turn(cur, cur_spk, roles))
            cur = []
        cur.append(w)
        cur_spk = spk
    if cur:
        turns.append(_turn(cur, cur_spk, roles))
    return tuple(turns)


def _turn(words: list[Word], speaker: str | None, roles: Mapping[str, Role]) -> Turn:
    spk = speaker or "unknown"
    text = " ".join(w.word for w in words)
    return Turn(spk, roles.get(spk, Role.UNKNOWN), words[0].start, max(w.end for w in words), text, tuple(words))


def speech_segments(
    speaker: str, words: Sequence[Word], energy: np.ndarray | None, gap_s: float, vad: np.ndarray | None = None
) -> tuple[SpeakerSegment, ...]:
    """Where ``speaker`` talks: their words merged across short gaps, clipped to where their channel has energy,
    plus (with ``vad``: the channel's Silero speech regions) energetic signal that Silero also calls speech.

    Whisper's word boundaries are loose (ends drift into pauses); energy is tight but cannot tell who is speaking on a
    mono channel or on crosstalk. Their intersection takes the best of both. Words alone miss speech the recogniser
    gave no word to (a mumble, an "mm-hmm", a clipped word: ~20 % of the speech on the samples' and the SpokenWOZ
    calls' channels, bench/diarization.py), hence the vouched energy on a channel that is one party's alone.
    """
    spans = iv.merge([(w.start, w.end) for w in words], gap=gap_s)
    if energy is not None and len(energy) and len(spans):
        en = iv.dilate(energy, 0.05)
        # A stretch of words with no energy at all (very quiet speech) is kept whole rather than dropped.
        silent = spans[_covered_length(en, spans[:, 0], spans[:, 1]) <= 0]
        spans = iv.merge(np.concatenate([iv.intersect(spans, en), silent]))
    if vad is not None and energy is not None and len(vad) and len(energy):
        vouched = iv.drop_shorter(iv.intersect(energy, vad), 0.1)
        spans = iv.merge(np.concatenate([spans.reshape(-1, 2), vouched]))
    return tuple(SpeakerSegment(speaker, float(s), float(e)) for s, e in spans)


def attribute(backend: str, segments: Sequence[SpeakerSegment], words: Sequence[Word], max_gap_s: float):
    """Diarization segments + recognised words -> :class:`~qa.types.Speakers` with turns and agent/caller roles.

    The step every mono backend shares: words go to the speaker covering most of them, provisional turns are read for
    agent cues, then turns are rebuilt with the roles.
    """
    from qa.diarize.roles import assign_roles
    from qa.types import Speakers

    owners = assign_words(words, segments)
    provisional = build_turns(words, owners, {}, max_gap_s)
    roles = assign_roles(provisional, sorted({s.speaker for s in segments}))
    turns = build_turns(words, owners, {r.speaker: r.role for r in roles}, max_gap_s)
    return Speakers(backend, tuple(segments), turns, roles)
