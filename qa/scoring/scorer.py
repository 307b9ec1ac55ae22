"""The scoring stage: a scorecard applied to one call. The pipeline runs it last (``Pipeline.process`` returns the
evaluation with the analysis); re-scoring a stored call runs the same scorer on the stored document, so no model
runs again and the answers cannot differ from a fresh run's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.document import SCORER, call_document, evaluation_document
from qa.resources import scorecard_path
from qa.scoring.engine import card_applies, evaluate_call
from qa.scoring.schema import Scorecard, load_scorecard
from qa.types import CallAnalysis, Evaluation

DEFAULT_SCORECARD = scorecard_path("311-standard.yaml")


@dataclass(frozen=True)
class Scorer:
    """Stage ``scoring.scorecard``: its version is the scorecard's id, version and content hash."""

    card: Scorecard
    card_hash: str
    name: str = SCORER

    @classmethod
    def from_file(cls, path: Path | None = None) -> Scorer:
        """The scorecard at ``path`` (default: the packaged 311-standard); a bad file raises ConfigError."""
        card, digest = load_scorecard(path or DEFAULT_SCORECARD)
        return cls(card, digest)

    @property
    def version(self) -> str:
        return f"{self.card.id}@{self.card.version}#{self.card_hash}"

    def load(self) -> None:
        """Nothing to load: semantic items use the sentence vectors stored with the call."""

    def __call__(self, call: CallAnalysis) -> Evaluation | None:
        """The evaluation of an analysed call (None when the scorecard does not apply to it)."""
        return self.evaluate(call_document(call))

    def evaluate(self, doc: Mapping[str, Any]) -> Evaluation | None:
        """The same, from a call document (a stored result): the engine reads the document form either way."""
        return evaluate_call(doc, self.card, self.card_hash) if card_applies(self.card, doc) else None

    def rescore(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """A stored call document scored again: a new document (the input is not changed) with this scorecard's
        ``evaluation`` and its version in ``stages``."""
        return {
            **doc,
            "stages": {**(doc.get("stages") or {}), self.name: self.version},
            "evaluation": evaluation_document(self.evaluate(doc)),
        }

    def is_current(self, doc: Mapping[str, Any]) -> bool:
        """True when ``doc`` was scored by exactly this scorecard."""
        return bool(((doc.get("evaluation") or {}).get("scorecard") or {}).get("hash") == self.card_hash)
