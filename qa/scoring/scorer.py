"""The scoring stage: a scorecard applied to one call. The pipeline runs it last (``Pipeline.process`` returns the
evaluation with the analysis); re-scoring a stored call runs the same scorer on the stored document, so no model
runs again and the answers cannot differ from a fresh run's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.document import SCORER, call_document, evaluation_document
from qa.resources import scorecard_path
from qa.scoring.engine import card_applies, evaluate_call, unsure_items
from qa.scoring.schema import Scorecard, load_scorecard
from qa.types import AskAnswer, CallAnalysis, Evaluation

if TYPE_CHECKING:
    from qa.llm.stage import LlmStage

DEFAULT_SCORECARD = scorecard_path("311-standard.yaml")


@dataclass(frozen=True)
class Scorer:
    """Stage ``scoring.scorecard``: its version is the scorecard's id, version and content hash. With ``llm`` (the
    LLM stage, on) the card's ``ask`` questions a call has no stored answer to are asked before it is scored; without
    it, they are answered from the answers stored with the call, or go to review."""

    card: Scorecard
    card_hash: str
    llm: LlmStage | None = None
    name: str = SCORER
    _asks: bool = field(init=False, repr=False, compare=False)  # the card has ask items (worked out once)

    def __post_init__(self) -> None:
        from qa.llm.ask import card_questions

        object.__setattr__(self, "_asks", bool(card_questions(self.card)))

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

    def with_llm(self, llm: LlmStage | None) -> Scorer:
        return replace(self, llm=llm)

    def __call__(self, call: CallAnalysis) -> CallAnalysis:
        """The analysed call with its evaluation (None when the scorecard does not apply to it), and the LLM's
        answers to the card's ``ask`` items when it asked any."""
        doc, evaluation = self.score(call_document(call))
        asks = tuple(AskAnswer(**a) for a in doc.get("asks") or ())
        timings = dict(call.timings_s)
        if "llm" in (doc.get("timings_s") or {}):
            timings["llm"] = float(doc["timings_s"]["llm"])
        return replace(call, evaluation=evaluation, asks=asks, timings_s=timings)

    def score(self, doc: Mapping[str, Any]) -> tuple[dict[str, Any], Evaluation | None]:
        """A call document (the engine's input, fresh or stored) with any new ``ask`` answers, and its evaluation."""
        out = {**doc, "timings_s": dict(doc.get("timings_s") or {})}
        if not card_applies(self.card, out):
            return out, None
        from qa.llm.ask import attach_answers

        if self._asks:  # the card has ``ask`` items: stored answers, or asked now with the LLM on
            out = attach_answers(out, self.card, self.llm)
        evaluation = evaluate_call(out, self.card, self.card_hash)
        if self.llm is not None and self.llm.config.ask:  # second opinions, only on what the rules left to a person
            second = [(r.role, r.question) for r in unsure_items(self.card, evaluation)]
            if second:
                before = list(out.get("asks") or ())
                out = attach_answers(out, self.card, self.llm, questions=list(dict.fromkeys(second)))
                if list(out.get("asks") or ()) != before:  # new answers, or stale ones (another model) dropped
                    evaluation = evaluate_call(out, self.card, self.card_hash)
        return out, evaluation

    def evaluate(self, doc: Mapping[str, Any]) -> Evaluation | None:
        return self.score(doc)[1]

    def rescore(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """A stored call document scored again: a new document (the input is not changed) with this scorecard's
        ``evaluation`` and its version in ``stages``."""
        out, evaluation = self.score(doc)
        return {
            **out,
            "stages": {**(out.get("stages") or {}), self.name: self.version},
            "evaluation": evaluation_document(evaluation),
        }

    def is_current(self, doc: Mapping[str, Any]) -> bool:
        """True when ``doc`` was scored by exactly this scorecard."""
        return bool(((doc.get("evaluation") or {}).get("scorecard") or {}).get("hash") == self.card_hash)
