"""Re-scoring stored call documents (`qa score`): the scorer of `qa process`, run on each stored result."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa import jsonio
from qa.files import write_atomic
from qa.scoring.schema import Scorecard
from qa.scoring.scorer import DEFAULT_SCORECARD, Scorer

if TYPE_CHECKING:
    from qa.llm.stage import LlmStage

__all__ = ["DEFAULT_SCORECARD", "rescore_folder", "score_document"]


def score_document(
    doc: dict[str, Any], card: Scorecard, card_hash: str, llm: LlmStage | None = None
) -> dict[str, Any]:
    """``doc`` scored against ``card`` (a new document; ``evaluation`` is None when the card does not apply). With
    ``llm`` (the LLM stage, on), the card's ``ask`` questions the call has no stored answer to are asked first."""
    return Scorer(card, card_hash, llm).rescore(doc)


def rescore_folder(
    results: Path, card: Scorecard, card_hash: str, llm: LlmStage | None = None
) -> tuple[int, int, list[str]]:
    """(scored, not applicable, problems) for every call JSON below ``results``; files are rewritten atomically."""
    scorer = Scorer(card, card_hash, llm)
    scored = skipped = 0
    problems: list[str] = []
    for path in sorted(results.rglob("*.json")):
        if path.name.endswith(".error.json"):
            continue
        try:
            doc = jsonio.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            problems.append(f"{path}: not readable as JSON ({exc})")
            continue
        if "turns" not in doc:
            problems.append(f"{path}: not a call document written by 'qa process'")
            continue
        doc = scorer.rescore(doc)
        write_atomic(path, jsonio.dumps(doc))
        if doc["evaluation"] is None:
            skipped += 1
        else:
            scored += 1
    return scored, skipped, problems
