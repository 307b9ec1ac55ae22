"""The language stages in the one stage shape (``name``, ``version``, ``load()``, a call), for the registry
(qa/stages.py). Each wraps the module that does the work; versions come from constants and model manifests, so
computing a job's identity loads no model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qa.types import ChannelTranscript, Entity, LanguageReport, SentenceVectors, Sentiment, Turn


@dataclass(frozen=True)
class LanguageStage:
    """The call's language per call, channel and turn (qa/nlp/language.py)."""

    name: str = "nlp.language"

    @property
    def version(self) -> str:
        from qa.nlp.language import stage_version

        return stage_version()

    def load(self) -> None:
        return None

    def __call__(
        self, turns: tuple[Turn, ...], transcripts: tuple[ChannelTranscript, ...], fixed: str | None
    ) -> LanguageReport:
        from qa.nlp.language import detect_language

        return detect_language(turns, transcripts, fixed)


@dataclass(frozen=True)
class SentimentStage:
    """Per-turn sentiment and the caller's arc, with the caller-state model (qa/nlp/sentiment.py)."""

    name: str = "nlp.sentiment"

    @property
    def version(self) -> str:
        from qa.nlp.caller_state import MODEL_DIR
        from qa.nlp.sentiment import VERSION
        from qa.resources import manifest

        return f"{VERSION}-{manifest(MODEL_DIR)['version']}"

    def load(self) -> Any:
        from qa.nlp.caller_state import load_model
        from qa.nlp.sentiment import score_text

        score_text("warm up")  # VADER's lexicon
        return load_model()

    def __call__(self, turns: Sequence[Turn], emergency: bool) -> Sentiment:
        from qa.nlp.caller_state import load_model
        from qa.nlp.sentiment import call_sentiment

        return call_sentiment(turns, emergency, load_model())


@dataclass(frozen=True)
class EntitiesStage:
    """Named entities and personal data per turn, in the turn's language (qa/nlp/entities.py)."""

    name: str = "nlp.entities"

    @property
    def version(self) -> str:
        from qa.nlp.entities import VERSION

        return VERSION

    def load(self) -> Any:
        from qa.nlp.entities import nlp

        return nlp()

    def __call__(self, turns: Sequence[Turn], languages: Sequence[str]) -> tuple[Entity, ...]:
        from qa.nlp.entities import find_entities

        return find_entities(turns, languages)


@dataclass(frozen=True)
class SentencesStage:
    """Sentence vectors kept with the call, so semantic scorecard items re-score without the encoder."""

    name: str = "nlp.sentences"

    @property
    def version(self) -> str:
        from qa.nlp.sentences import VERSION
        from qa.nlp.static_encoder import ENCODER_DIR
        from qa.resources import manifest

        return f"{VERSION}-{manifest(ENCODER_DIR)['name']}"

    def load(self) -> Any:
        from qa.nlp.static_encoder import load_encoder

        return load_encoder()

    def __call__(self, turns: Sequence[Turn]) -> SentenceVectors:
        from qa.nlp.sentences import embed_sentences
        from qa.nlp.static_encoder import load_encoder

        return embed_sentences(turns, load_encoder())
