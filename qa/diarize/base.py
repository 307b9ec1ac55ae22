"""The one interface every speaker backend implements (channels, single speaker, and later embedded/pyannote)."""

from __future__ import annotations

from typing import Protocol

from qa.types import Audio, ChannelActivity, ChannelTranscript, Speakers


class SpeakerBackend(Protocol):
    name: str
    version: str

    def load(self) -> None: ...

    def __call__(
        self,
        audio: Audio,
        layout: str,
        transcripts: tuple[ChannelTranscript, ...],
        activity: tuple[ChannelActivity, ...],
    ) -> Speakers: ...
