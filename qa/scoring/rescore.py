"""Scoring stored call documents: `qa process` (after analysis) and `qa score` (re-scoring a results folder)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa import jsonio
from qa.resources import scorecard_path
from qa.scoring.engine import card_applies, evaluate_call
from qa.scoring.schema import Scorecard
from qa.types import to_jsonable

if TYPE_CHECKING:
    from qa.llm.stage import LlmStage

DEFAULT_SCORECARD = scorecard_path("311-standard.yaml")


def score_document(
    doc: dict[str, Any], card: Scorecard, card_hash: str, llm: LlmStage | None = None
) -> dict[str, Any]:
    """The document with ``evaluation`` set (None when the scorecard does not apply to this call). With ``llm`` (the
    LLM stage, on), the scorecard's ``ask`` questions this call has no answer to yet are asked first."""
    applies = card_applies(card, doc)
    if applies:
        from qa.llm.ask import attach_answers

        doc = attach_answers(doc, card, llm)
    ev = evaluate_call(doc, card, card_hash) if applies else None
    data = to_jsonable(ev) if ev else None
    if ev is not None and data:
        data["scorecard"] = {"id": ev.scorecard_id, "version": ev.scorecard_version, "hash": ev.scorecard_hash}
        for k in ("scorecard_id", "scorecard_version", "scorecard_hash"):
            data.pop(k)
        # What a reviewer's override needs to recompute the totals, and what a report shows beside each answer.
        data["rules"] = {
            "pass_percent": card.pass_percent,
            "critical_fails": card.critical_fails,
            "section_weights": {sec.id: sec.weight for sec in card.sections},
        }
        spec = {it.id: it for sec in card.sections for it in sec.items}
        for it in data["items"]:
            it["question"] = spec[it["id"]].question
            it["critical"] = spec[it["id"]].critical
            it["points_possible"] = spec[it["id"]].points
    doc["evaluation"] = data
    return doc


def rescore_folder(
    results: Path, card: Scorecard, card_hash: str, llm: LlmStage | None = None
) -> tuple[int, int, list[str]]:
    """(scored, not applicable, problems) for every call JSON below ``results``; files are rewritten atomically."""
    from qa.runner.batch import write_atomic

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
        doc = score_document(doc, card, card_hash, llm)
        write_atomic(path, jsonio.dumps(doc))
        if doc["evaluation"] is None:
            skipped += 1
        else:
            scored += 1
    return scored, skipped, problems
