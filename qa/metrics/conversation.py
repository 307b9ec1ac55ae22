"""Conversation metrics from who-spoke-when (speaker segments) and words.

Definitions (also in the README):
- talk time: total length of a party's speech segments (their words merged across gaps < 0.3 s, clipped to where
  their channel carries energy); talk share: each party's talk time over the sum.
- talk/listen ratio: agent talk time / caller talk time.
- non-talk time: call duration minus the union of everyone's speech.
- silences: gaps in that union between the first and the last speech; the longest is reported with its position;
  a silence of at least ``hold_min_s`` is a hold.
- overtalk: stretches where two or more parties speak at once, each at least ``overtalk_min_s`` long.
- interruption: B starts speaking while A is speaking (A started first), their speech overlaps for at least
  ``interruption_min_overlap_s`` and B goes on for at least ``interruption_min_segment_s`` (shorter cut-ins are
  backchannels such as "okay", "uh-huh"). Reported as who cut in on whom, and when.
- speaking rate: words per minute of the party's own talk time.
- agent first words: start of the agent's first recognised word, from the start of the recording.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from qa import intervals as iv
from qa.config import MetricsConfig
from qa.types import Interruption, Metrics, Role, Silence, Speakers, SpeakerSegment, Turn


def party_labels(speakers: Speakers) -> dict[str, str]:
    """Speaker label -> the name metrics use: the role when known, else the speaker label."""
    out = {}
    for r in speakers.roles:
        out[r.speaker] = r.role.value if r.role is not Role.UNKNOWN else r.speaker
    return out


def compute_metrics(speakers: Speakers, duration_s: float, config: MetricsConfig) -> Metrics:
    labels = party_labels(speakers)
    return conversation_metrics(
        segments=speakers.segments, turns=speakers.turns, labels=labels, duration_s=duration_s, config=config
    )


def conversation_metrics(
    segments: Sequence[SpeakerSegment],
    turns: Sequence[Turn],
    labels: Mapping[str, str],
    duration_s: float,
    config: MetricsConfig,
) -> Metrics:
    by_party: dict[str, np.ndarray] = {}
    for seg in segments:
        by_party.setdefault(labels.get(seg.speaker, seg.speaker), []).append((seg.start, seg.end))  # type: ignore[arg-type]
    by_party = {p: iv.merge(v) for p, v in by_party.items()}
    for party in set(labels.values()):
        by_party.setdefault(party, np.zeros((0, 2)))
    parties = sorted(by_party)

    talk = {p: iv.total(by_party[p]) for p in parties}
    total_talk = sum(talk.values())
    share = {p: (talk[p] / total_talk if total_talk else 0.0) for p in parties}
    speech = iv.merge(np.concatenate([by_party[p] for p in parties])) if parties else np.zeros((0, 2))
    speech_s = iv.total(speech)

    silences = _silences(speech)
    longest = max(silences, key=lambda s: s.duration_s) if silences else None
    holds = tuple(s for s in silences if s.duration_s >= config.hold_min_s)

    overlaps = _overlaps(by_party, parties)
    overlaps = overlaps[(overlaps[:, 1] - overlaps[:, 0]) >= config.overtalk_min_s] if len(overlaps) else overlaps

    interruptions = _interruptions(by_party, parties, config)
    words = {p: 0 for p in parties}
    turn_count = {p: 0 for p in parties}
    for t in turns:
        p = labels.get(t.speaker, t.speaker)
        words[p] = words.get(p, 0) + len(t.words)
        turn_count[p] = turn_count.get(p, 0) + 1
    wpm = {p: (words.get(p, 0) / (talk[p] / 60.0) if talk.get(p) else None) for p in parties}

    agent_turns = [t for t in turns if labels.get(t.speaker) == Role.AGENT.value and t.words]
    agent_first = min((t.words[0].start for t in agent_turns), default=None)
    ratio = None
    if "agent" in talk and "caller" in talk and talk["caller"] > 0:
        ratio = talk["agent"] / talk["caller"]
    by_counts = {p: 0 for p in parties}
    for it in interruptions:
        by_counts[it.by] = by_counts.get(it.by, 0) + 1
    return Metrics(
        duration_s=duration_s,
        speech_s=speech_s,
        non_talk_s=max(0.0, duration_s - speech_s),
        talk_time_s=talk,
        talk_share=share,
        talk_listen_ratio=ratio,
        longest_silence=longest,
        holds=holds,
        hold_s=sum(h.duration_s for h in holds),
        overtalk_count=len(overlaps),
        overtalk_s=float((overlaps[:, 1] - overlaps[:, 0]).sum()) if len(overlaps) else 0.0,
        interruptions=interruptions,
        interruptions_by=by_counts,
        speaking_rate_wpm=wpm,
        word_count=words,
        turn_count=turn_count,
        agent_first_words_s=agent_first,
    )


def _silences(speech: np.ndarray) -> tuple[Silence, ...]:
    if len(speech) < 2:
        return ()
    gaps = iv.complement(speech, float(speech[0, 0]), float(speech[-1, 1]))
    return tuple(Silence(float(s), float(e), float(e - s)) for s, e in gaps)


def _overlaps(by_party: Mapping[str, np.ndarray], parties: Sequence[str]) -> np.ndarray:
    pieces = [iv.intersect(by_party[a], by_party[b]) for i, a in enumerate(parties) for b in parties[i + 1 :]]
    pieces = [p for p in pieces if len(p)]
    return iv.merge(np.concatenate(pieces)) if pieces else np.zeros((0, 2))


def _interruptions(
    by_party: Mapping[str, np.ndarray], parties: Sequence[str], config: MetricsConfig
) -> tuple[Interruption, ...]:
    events = []
    for b in parties:
        for s, e in by_party[b]:
            if e - s < config.interruption_min_segment_s:
                continue
            for a in parties:
                if a == b or not len(by_party[a]):
                    continue
                segs = by_party[a]
                # A's segment in progress when B starts: started strictly before and still going.
                k = np.searchsorted(segs[:, 0], s, side="left") - 1
                if k < 0 or segs[k, 1] <= s:
                    continue
                overlap = min(segs[k, 1], e) - s
                if overlap >= config.interruption_min_overlap_s:
                    events.append(Interruption(by=b, of=a, at=float(s), overlap_s=float(overlap)))
    return tuple(sorted(events, key=lambda x: x.at))
