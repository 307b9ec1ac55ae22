"""Speaker backend ``diarize.channels``: a two-channel recording has one party per channel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.audio.activity import as_intervals
from qa.audio.layout import agent_channel
from qa.config import TurnsConfig
from qa.diarize.channel_roles import ChannelDecision, channel_label
from qa.diarize.turns import build_turns, speech_segments
from qa.types import Audio, ChannelActivity, ChannelTranscript, Role, SpeakerRole, Speakers


@dataclass
class ChannelSpeakers:
    turns_config: TurnsConfig
    name: str = "diarize.channels"
    version: str = "3"

    def load(self) -> None:
        return None

    def __call__(
        self,
        audio: Audio,
        layout: str,
        transcripts: tuple[ChannelTranscript, ...],
        activity: tuple[ChannelActivity, ...],
        decision: ChannelDecision | None = None,
    ) -> Speakers:
        """``decision``: which side is the agent and how sure (:func:`~qa.diarize.channel_roles.decide_channels`);
        without one the layout is taken as given."""
        layout = decision.layout if decision else layout
        agent_ch = agent_channel(layout)
        roles = {}
        for ch in range(len(transcripts)):
            role = Role.AGENT if ch == agent_ch else Role.CALLER
            conf, how = (decision.confidence, decision.method) if decision else (1.0, f"channel layout {layout}")
            roles[_label(ch)] = SpeakerRole(_label(ch), role, conf, how)
        segments = []
        words, owners = [], []
        for tr in transcripts:
            spk = _label(tr.channel)
            segments.extend(
                speech_segments(
                    spk,
                    tr.words,
                    as_intervals(activity[tr.channel]),
                    self.turns_config.segment_gap_s,
                    np.array([(i.start, i.end) for i in tr.vad_speech]).reshape(-1, 2),
                )
            )
            words.extend(tr.words)
            owners.extend([spk] * len(tr.words))
        segments.sort(key=lambda s: (s.start, s.end))
        turns = build_turns(words, owners, {k: v.role for k, v in roles.items()}, self.turns_config.max_gap_s)
        return Speakers(self.name, tuple(segments), turns, tuple(roles.values()))


_label = channel_label
