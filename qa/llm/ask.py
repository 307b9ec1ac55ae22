"""Scorecard ``ask`` items: put each question to the LLM stage once per call and keep the raw answers in the call
document (``asks``), so the scorer (qa/scoring/engine.py) decides from them without a model, and re-scoring an
unchanged call with the same questions asks nothing.

Cost control: only the questions of the scorecard in use are asked, only when the stage is on (``llm.ask``), and an
answer is reused while the redacted transcript, the model and the prompt version are the same (in the document, and
in the on-disk cache of the stage). An item's ``second_opinion`` is asked only when its rules leave it to a person.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from qa.llm.models import INSTALL_HINT, runtime_available
from qa.llm.prompts import PROMPT_VERSION, transcript_sha256
from qa.scoring import schema as S
from qa.types import to_jsonable

if TYPE_CHECKING:
    from qa.llm.stage import LlmStage


def ask_rules(rule: Any) -> Iterator[S.AskRule]:
    if isinstance(rule, S.AskRule):
        yield rule
    for child in (getattr(rule, "rules", None) or []) + [getattr(rule, a, None) for a in ("rule", "first", "then")]:
        if child is not None:
            yield from ask_rules(child)


def card_questions(card: S.Scorecard) -> list[tuple[str, str]]:
    """``(role, question)`` of every ask rule of the scorecard, in order, once each."""
    out = [(r.role, r.question) for sec in card.sections for it in sec.items for r in ask_rules(it.rule)]
    return list(dict.fromkeys(out))


def doc_pairs(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The redacted turns of a call document as ``(role, text)``: what the model reads."""
    return [(str(t.get("role", "unknown")), str(t.get("text", ""))) for t in doc.get("redacted") or []]


def find_answer(doc: Mapping[str, Any], role: str, question: str) -> Mapping[str, Any] | None:
    """The stored answer to ``question`` about ``role`` for the document's current transcript, if any."""
    asks = doc.get("asks") or []
    if not asks:
        return None
    sha = transcript_sha256(doc_pairs(doc))
    for a in asks:
        if a.get("question") == question and a.get("role") == role and a.get("transcript_sha256") == sha:
            return a  # type: ignore[no-any-return]
    return None


def no_answer_reason() -> str:
    if not runtime_available():
        return f"llm_unavailable: the LLM stage is not installed ({INSTALL_HINT}); a person answers this item"
    return "llm_off: no LLM answer for this call (run qa process --llm, or set llm.enabled); a person answers this item"


def attach_answers(
    doc: dict[str, Any], card: S.Scorecard, stage: LlmStage | None, questions: list[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """``doc`` with ``asks`` holding an answer to each question of ``card`` (or to ``questions``: the second
    opinions of the items the rules left to a person), asked now when missing and ``stage`` is given; answers for an
    older transcript or prompt removed, and the seconds spent added to ``timings_s.llm``."""
    questions = card_questions(card) if questions is None else questions
    if not questions or not doc.get("redacted"):
        return doc
    sha = transcript_sha256(doc_pairs(doc))
    current = [
        a
        for a in doc.get("asks") or []
        if a.get("transcript_sha256") == sha and a.get("prompt_version") == PROMPT_VERSION
    ]
    if stage is not None:
        current = [a for a in current if a.get("model") == stage.model_id]
    have = {(a["role"], a["question"]) for a in current}
    todo = [q for q in questions if q not in have]
    if todo and stage is not None and stage.config.ask:
        t0 = time.perf_counter()
        pairs = doc_pairs(doc)
        for role, question in todo:
            current.append(to_jsonable(stage.ask(pairs, role, question)))
        timings = doc.setdefault("timings_s", {})
        timings["llm"] = round(float(timings.get("llm") or 0.0) + time.perf_counter() - t0, 3)
    doc["asks"] = current
    return doc
