"""Speaker backend ``diarize.pyannote``: a pyannote.audio speaker-diarization pipeline behind our interface.

The pipeline comes from ``diarize.pyannote_pipeline``: a local folder (``config.yaml`` and the checkpoints it names;
the way to run a pretrained pipeline on an offline machine), a ``config.yaml`` path, or, on a machine that is online,
a Hugging Face pipeline name with the token taken from the environment variable named by
``diarize.pyannote_token_env``. pyannote's usage telemetry is switched off before it is imported: call audio and
call metadata stay on premises. Output is the same :class:`~qa.types.Speakers` as every other backend.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from qa.config import DiarizeConfig, TurnsConfig
from qa.diarize.turns import attribute
from qa.errors import ConfigError, ModelNotFoundError
from qa.types import Audio, ChannelActivity, ChannelTranscript, Speakers, SpeakerSegment


def _import_pipeline_class():
    os.environ["PYANNOTE_METRICS_ENABLED"] = "0"  # before the first import of pyannote.audio: no telemetry
    try:
        from pyannote.audio import Pipeline
    except ImportError as exc:
        raise ConfigError(
            f"diarize.mono_backend 'pyannote' needs pyannote.audio ({exc}); pip install 'callqa[pyannote]' "
            "(README: Install, pyannote)"
        ) from None
    return Pipeline


@functools.lru_cache(maxsize=2)
def _load(source: str, token_env: str):
    Pipeline = _import_pipeline_class()
    token = os.environ.get(token_env) or None
    try:
        pipeline = Pipeline.from_pretrained(source, token=token)
    except Exception as exc:  # noqa: BLE001 - pyannote raises many types for "cannot get it"
        raise ModelNotFoundError(
            f"diarize.pyannote_pipeline '{source}' could not be loaded ({type(exc).__name__}: {exc}); give a local "
            "folder with config.yaml and its checkpoints, or a hub name on a machine that is online"
        ) from None
    if pipeline is None:
        raise ModelNotFoundError(f"diarize.pyannote_pipeline '{source}': not found (gated? set ${token_env})")
    return pipeline


@dataclass
class PyannoteDiarizer:
    config: DiarizeConfig
    turns_config: TurnsConfig
    name: str = "diarize.pyannote"
    version: str = "1"

    def _source(self) -> str:
        source = self.config.pyannote_pipeline
        if not source:
            raise ConfigError(
                "diarize.pyannote_pipeline is not set: name a local pipeline folder (config.yaml + checkpoints) "
                "or a hub pipeline such as pyannote/speaker-diarization-community-1"
            )
        looks_local = source.startswith((".", "~", os.sep)) or source.endswith((".yaml", ".yml"))
        if looks_local and not os.path.exists(os.path.expanduser(source)):
            raise ModelNotFoundError(f"diarize.pyannote_pipeline: {source} does not exist")
        return os.path.expanduser(source)

    def load(self):
        return _load(self._source(), self.config.pyannote_token_env)

    def diarize(self, x: np.ndarray, rate: int) -> list[SpeakerSegment]:
        import torch

        pipeline = self.load()
        kwargs = {}
        if self.config.num_speakers:
            kwargs["num_speakers"] = self.config.num_speakers
        else:
            kwargs["max_speakers"] = self.config.max_speakers
        output = pipeline({"waveform": torch.from_numpy(np.ascontiguousarray(x))[None], "sample_rate": rate}, **kwargs)
        # pyannote 4 returns DiarizeOutput; its exclusive (overlap-free) version is the one meant for transcripts.
        annotation = getattr(output, "exclusive_speaker_diarization", None) or getattr(
            output, "speaker_diarization", output
        )
        # Its frame grid can run past the end of the file: clip to the recording.
        duration = len(x) / rate
        segments = [
            SpeakerSegment(str(label), max(0.0, float(turn.start)), min(duration, float(turn.end)))
            for turn, _, label in annotation.itertracks(yield_label=True)
        ]
        return sorted((s for s in segments if s.end > s.start), key=lambda s: (s.start, s.end))

    def __call__(
        self,
        audio: Audio,
        layout: str,
        transcripts: tuple[ChannelTranscript, ...],
        activity: tuple[ChannelActivity, ...],
    ) -> Speakers:
        words = [w for tr in transcripts for w in tr.words]
        segments = self.diarize(audio.samples[0], audio.sample_rate)
        return attribute(self.name, segments, words, self.turns_config.max_gap_s)
