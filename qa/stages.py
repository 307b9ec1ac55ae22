"""The stage registry: every stage under a versioned name (``"diarize.embedded.v1"``), built from config.

A ``Pipeline`` asks :func:`chosen` which stages its configuration uses and builds only those (:func:`build`), so an
unused backend is never constructed, loaded or hashed into a call's identity: a pyannote upgrade does not
invalidate two-channel results when pyannote is not configured. Every stage has the same shape: ``name`` (what a
call's ``stages`` records), ``version``, ``load()`` (once per process) and a call. Factories import their module
lazily: naming a stage costs nothing.

The registry key's ``.vN`` is the stage's *interface* version (what it takes and returns); ``version`` is its
*result* version (model, rules), which goes into each call's identity.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from qa.config import PipelineConfig
from qa.errors import ConfigError


@runtime_checkable
class Stage(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def load(self) -> Any: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...


def _asr(c: PipelineConfig) -> Stage:
    from qa.asr.whisper import WhisperTranscriber

    return WhisperTranscriber(c.asr)


def _channels(c: PipelineConfig) -> Stage:
    from qa.diarize.channels import ChannelSpeakers

    return ChannelSpeakers(c.turns)


def _single(c: PipelineConfig) -> Stage:
    from qa.diarize.single import SingleSpeaker

    return SingleSpeaker(c.turns)


def _embedded(c: PipelineConfig) -> Stage:
    from qa.diarize.embedded import EmbeddedDiarizer

    return EmbeddedDiarizer(c.diarize, c.turns)


def _pyannote(c: PipelineConfig) -> Stage:
    from qa.diarize.pyannote_pipeline import PyannoteDiarizer

    return PyannoteDiarizer(c.diarize, c.turns)


def _request_type(c: PipelineConfig) -> Stage:
    from qa.nlp.request_type import MODEL_DIR, RequestTypeClassifier

    model = Path(c.nlp.request_type_model) if c.nlp.request_type_model else MODEL_DIR
    return RequestTypeClassifier(model, c.nlp.review_below)


def _emergency(c: PipelineConfig) -> Stage:
    from qa.nlp.emergency import EmergencyTriage

    return EmergencyTriage()


def _language(c: PipelineConfig) -> Stage:
    from qa.nlp.stages import LanguageStage

    return LanguageStage()


def _sentiment(c: PipelineConfig) -> Stage:
    from qa.nlp.stages import SentimentStage

    return SentimentStage()


def _entities(c: PipelineConfig) -> Stage:
    from qa.nlp.stages import EntitiesStage

    return EntitiesStage()


def _sentences(c: PipelineConfig) -> Stage:
    from qa.nlp.stages import SentencesStage

    return SentencesStage()


def _llm(c: PipelineConfig) -> Stage:
    from qa.llm.stage import LlmStage

    return LlmStage(c.llm)


REGISTRY: dict[str, Callable[[PipelineConfig], Stage]] = {
    "asr.faster_whisper.v1": _asr,
    "diarize.channels.v1": _channels,
    "diarize.single.v1": _single,
    "diarize.embedded.v1": _embedded,
    "diarize.pyannote.v1": _pyannote,
    "nlp.language.v1": _language,
    "nlp.request_type.v1": _request_type,
    "nlp.emergency.v1": _emergency,
    "nlp.sentiment.v1": _sentiment,
    "nlp.entities.v1": _entities,
    "nlp.sentences.v1": _sentences,
    "llm.v1": _llm,
}

_BACKENDS = {"single": "diarize.single.v1", "embedded": "diarize.embedded.v1", "pyannote": "diarize.pyannote.v1"}


def chosen(config: PipelineConfig, audio: bool = True) -> dict[str, str]:
    """The pipeline's slots and the registry key that fills each, for this configuration (``audio=False``: only
    what imported transcripts use)."""
    d = config.diarize
    slots: dict[str, str] = {}
    if audio:
        slots["asr"] = "asr.faster_whisper.v1"
        if d.backend in _BACKENDS:  # one backend for every call
            slots["speakers.two_channel"] = slots["speakers.one_channel"] = _BACKENDS[d.backend]
        else:  # "auto" / "channels": two-channel calls by channel, one-channel calls by the mono backend
            slots["speakers.two_channel"] = "diarize.channels.v1"
            slots["speakers.one_channel"] = _BACKENDS[d.mono_backend]
        if d.voiceprints:  # agent voiceprints are matched with the embedded diarizer's speaker encoder
            slots["speakers.voiceprints"] = "diarize.embedded.v1"
    slots["language"] = "nlp.language.v1"
    if config.nlp.enabled:
        slots |= {
            "request_type": "nlp.request_type.v1",
            "emergency": "nlp.emergency.v1",
            "sentiment": "nlp.sentiment.v1",
            "entities": "nlp.entities.v1",
            "sentences": "nlp.sentences.v1",
        }
    if config.llm.enabled:  # summaries and scorecard ``ask`` items (extra callqa[llm])
        slots["llm"] = "llm.v1"
    return slots


def build(config: PipelineConfig, slots: dict[str, str]) -> dict[str, Stage]:
    """One instance per registry key (two slots naming the same stage share it)."""
    built: dict[str, Stage] = {}
    out: dict[str, Stage] = {}
    for slot, key in slots.items():
        if key not in REGISTRY:
            raise ConfigError(f"unknown stage {key!r}; known: {', '.join(sorted(REGISTRY))}")
        if key not in built:
            built[key] = REGISTRY[key](config)
        out[slot] = built[key]
    return out
