"""The scorecard's totals rule, in one place: section scores, section weights, the pass mark and critical items.

Used by the engine on automatic answers (``qa/scoring/engine.py``) and by the store on reviewed answers (a reviewer's
override recomputes the totals: ``qa/store/calls.final_evaluation``), so the two can never drift apart.

- An item counts when its answer is "yes" or "no" (N/A and "needs review" are out of the denominator).
- A section's percent is its points over its possible points; the call's percent is the weighted mean of the
  sections that have possible points.
- A critical item answered "no" fails the call (``critical_fails: call``) or zeroes its section (``section``).
- The call passes when its percent reaches the pass mark and no critical item failed it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from qa.types import SectionResult, TotalsRules

__all__ = ["Scored", "Totals", "TotalsRules", "totals"]


@dataclass(frozen=True, slots=True)
class Scored:
    """One item's contribution: its final answer and points."""

    id: str
    section: str
    answer: str | None  # "yes" | "no" | "na" | None (needs review)
    points: float
    max_points: float
    critical: bool = False


@dataclass(frozen=True, slots=True)
class Totals:
    score: float
    max_score: float
    percent: float | None
    passed: bool
    critical_failed: tuple[str, ...]
    sections: tuple[SectionResult, ...]


def totals(items: Iterable[Scored], rules: TotalsRules, section_order: Sequence[str] = ()) -> Totals:
    """The totals of ``items`` under ``rules``; sections come in ``section_order`` (then in order of appearance), and
    a section with nothing to score is listed with percent None."""
    items = list(items)
    order = list(dict.fromkeys([*section_order, *(it.section for it in items)]))
    got = dict.fromkeys(order, 0.0)
    possible = dict.fromkeys(order, 0.0)
    failed_sections: set[str] = set()
    critical_failed: list[str] = []
    for it in items:
        if it.answer not in ("yes", "no"):
            continue
        got[it.section] += it.points
        possible[it.section] += it.max_points
        if it.critical and it.answer == "no":
            critical_failed.append(it.id)
            failed_sections.add(it.section)
    sections = []
    weighted = weights = 0.0
    for sec in order:
        score = 0.0 if sec in failed_sections and rules.critical_fails == "section" else got[sec]
        p = possible[sec]
        sections.append(SectionResult(sec, score, p, (100.0 * score / p) if p else None))
        if p:
            w = float(rules.section_weights.get(sec, 1.0))
            weighted += w * score / p
            weights += w
    percent = 100.0 * weighted / weights if weights else None
    passed = (
        percent is not None
        and percent >= rules.pass_percent
        and not (critical_failed and rules.critical_fails == "call")
    )
    return Totals(
        sum(s.score for s in sections),
        sum(s.max_score for s in sections),
        percent,
        passed,
        tuple(critical_failed),
        tuple(sections),
    )
