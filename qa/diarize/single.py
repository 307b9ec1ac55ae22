"""Speaker backend ``diarize.single``: the mono placeholder, one unknown speaker.

It fills the same :class:`~qa.types.Speakers` shape that real mono diarization fills, so nothing downstream changes
when a clustering backend is configured instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.audio.activity import as_intervals
from qa.config import TurnsConfig
from qa.diarize.turns import build_turns, speech_segments
from qa.types import Audio, ChannelActivity, ChannelTranscript, Role, SpeakerRole, Speakers

SPEAKER = "spk0"


@dataclass
class SingleSpeaker:
    turns_config: TurnsConfig
    name: str = "diarize.single"
    version: str = "1"

    def load(self) -> None:
        return None

    def __call__(
        self,
        audio: Audio,
        layout: str,
        transcripts: tuple[ChannelTranscript, ...],
        activity: tuple[ChannelActivity, ...],
    ) -> Speakers:
        words = [w for tr in transcripts for w in tr.words]
        segments = speech_segments(SPEAKER, words, as_intervals(activity[0]), self.turns_config.segment_gap_s)
        turns = build_turns(words, [SPEAKER] * len(words), {SPEAKER: Role.UNKNOWN}, self.turns_config.max_gap_s)
        role = SpeakerRole(SPEAKER, Role.UNKNOWN, 0.0, "mono placeholder: no diarization backend configured")
        return Speakers(self.name, segments, turns, (role,))
