"""Aggregates for supervisors and HR: trends per agent or team, evaluation rows for exports, and calibration
agreement (percent agreement and Cohen's kappa between reviewers, and between reviewers and the automatic answers)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, defer

from qa.store.calls import final_evaluation
from qa.store.models import Call, Dispute, EvaluationRow, Review

LIGHT = (defer(Call.document), defer(Call.search_text))  # the big columns a list or an aggregate never reads


@dataclass(frozen=True, slots=True)
class EvaluatedCall:
    call: Call
    final: dict[str, Any]
    state: str = "draft"  # the evaluation's lifecycle state (draft, released, acknowledged, disputed, final)


TREND_COLUMNS = (
    Call.id,
    Call.started_at,
    Call.created_at,
    Call.percent,
    Call.passed,
    Call.caller_sentiment_change,
    Call.answers,
)


def light_calls(s: Session, calls_q: Select, limit: int = 20000) -> list:
    """The columns trends read, as plain rows (no ORM objects: an aggregate over hundreds of calls stays cheap)."""
    return list(s.execute(calls_q.with_only_columns(*TREND_COLUMNS).limit(limit)))


def evaluated_calls(s: Session, calls_q: Select, limit: int = 20000) -> list[EvaluatedCall]:
    """Calls of the (already scoped and filtered) query with their final evaluations, in three queries."""
    calls = list(s.scalars(calls_q.options(*LIGHT).limit(limit)))
    if not calls:
        return []
    ids = [c.id for c in calls]
    evs = {
        e.call_id: e
        for e in s.scalars(select(EvaluationRow).where(EvaluationRow.call_id.in_(ids), EvaluationRow.current.is_(True)))
    }
    ev_ids = [e.id for e in evs.values()]
    reviews: dict[int, list[Review]] = defaultdict(list)
    disputes: dict[int, dict[str, str]] = defaultdict(dict)
    if ev_ids:
        for r in s.scalars(select(Review).where(Review.evaluation_id.in_(ev_ids))):
            reviews[r.evaluation_id].append(r)
        for d in s.scalars(select(Dispute).where(Dispute.evaluation_id.in_(ev_ids))):
            disputes[d.evaluation_id][d.item_id] = d.status
    out = []
    for c in calls:
        e = evs.get(c.id)
        if e is not None:
            out.append(EvaluatedCall(c, final_evaluation(e, reviews[e.id], disputes[e.id]), e.state))
    return out


def period_key(t: dt.datetime, period: str) -> str:
    if period == "week":
        y, w, _ = t.isocalendar()
        return f"{y}-W{w:02d}"
    return f"{t.year}-{t.month:02d}"


def trends(calls: Sequence, period: str = "week", examples: int = 3) -> dict[str, Any]:
    """Per period: calls, average score, pass rate, caller sentiment change, per-item pass rates and the worst items;
    plus the lowest- and highest-scoring example calls. Reads only the calls' denormalised columns (final answers
    with overrides), never the evaluation documents: an agent's quarter is a few hundred rows."""
    buckets: dict[str, list] = defaultdict(list)
    for c in calls:
        buckets[period_key(c.started_at or c.created_at, period)].append(c)
    out = [{"period": key, **aggregate(buckets[key])} for key in sorted(buckets)]
    overall = aggregate(calls) if calls else None
    ranked = sorted((c for c in calls if c.percent is not None), key=lambda c: c.percent)
    return {
        "period": period,
        "buckets": out,
        "overall": overall,
        "worst_items": (overall or {}).get("worst_items", []),
        "examples": {
            "lowest": [_example(c) for c in ranked[:examples]],
            "highest": [_example(c) for c in reversed(ranked[-examples:])],
        },
    }


def _example(c) -> dict[str, Any]:
    return {"call_id": c.id, "percent": c.percent, "started_at": c.started_at}


def aggregate(calls: Sequence) -> dict[str, Any]:
    """Calls, average score, pass rate, caller sentiment change, per-item pass rates and the five worst items of a
    group of calls (rows with percent, passed, caller_sentiment_change, answers)."""
    percents = [c.percent for c in calls if c.percent is not None]
    changes = [c.caller_sentiment_change for c in calls if c.caller_sentiment_change is not None]
    yes: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    for c in calls:
        for item, answer in (c.answers or {}).items():
            if answer in ("yes", "no"):
                answered[item] += 1
                yes[item] += answer == "yes"
    item_rates = {k: round(yes[k] / n, 4) for k, n in sorted(answered.items())}
    worst = sorted(item_rates.items(), key=lambda kv: (kv[1], kv[0]))[:5]
    return {
        "calls": len(calls),
        "average_percent": round(sum(percents) / len(percents), 2) if percents else None,
        "pass_rate": round(sum(bool(c.passed) for c in calls) / len(calls), 4) if calls else None,
        "caller_sentiment_change": round(sum(changes) / len(changes), 4) if changes else None,
        "item_pass_rates": item_rates,
        "worst_items": [{"item": k, "pass_rate": v, "answered": answered[k]} for k, v in worst],
    }


def export_rows(rows: Sequence[EvaluatedCall]) -> tuple[list[str], list[list[Any]]]:
    """One row per evaluated call: identity, totals, and the final answer of every item (no transcript text)."""
    item_ids: list[str] = []
    for r in rows:
        for it in r.final["items"]:
            if it["id"] not in item_ids:
                item_ids.append(it["id"])
    header = [
        "call_id",
        "started_at",
        "agent_id",
        "team",
        "queue",
        "request_type",
        "scorecard",
        "scorecard_version",
        "state",
        "score",
        "max_score",
        "percent",
        "passed",
        "critical_failed",
        "reviewed",
        "automatic_percent",
        *item_ids,
    ]
    out = []
    for r in rows:
        f, c = r.final, r.call
        answers = {it["id"]: it["answer"] or "review" for it in f["items"]}
        out.append(
            [
                c.id,
                c.started_at.isoformat(sep=" ") if c.started_at else "",
                c.agent_id or "",
                c.team or "",
                c.queue or "",
                c.request_type or "",
                f["scorecard"]["id"],
                f["scorecard"]["version"],
                r.state,
                f["score"],
                f["max_score"],
                None if f["percent"] is None else round(f["percent"], 2),
                bool(f["passed"]),
                ";".join(f.get("critical_failed") or []),
                bool(f.get("reviewed")),
                None if f["automatic"]["percent"] is None else round(f["automatic"]["percent"], 2),
                *[answers.get(i, "") for i in item_ids],
            ]
        )
    return header, out


# ------------------------------------------------------------------------------------------------------ calibration


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters over the same items; None when undefined (no items, or chance agreement 1)."""
    n = len(a)
    if n == 0:
        return None
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    if pe >= 1.0:
        return 1.0 if po == 1.0 else None
    return (po - pe) / (1 - pe)


def agreement(answers: dict[str, dict[str, str]], automatic: dict[str, str | None]) -> dict[str, Any]:
    """``answers``: reviewer -> {item: answer}. Per item: share of reviewer pairs that agree, and whether the
    automatic answer equals the reviewers' majority; overall: percent agreement and mean pairwise Cohen's kappa,
    and each reviewer against the automatic answers."""
    reviewers = sorted(answers)
    items = sorted({i for a in answers.values() for i in a})
    per_item = {}
    for i in items:
        given = [answers[r][i] for r in reviewers if i in answers[r]]
        pairs = list(itertools.combinations(given, 2))
        majority = Counter(given).most_common(1)[0][0] if given else None
        per_item[i] = {
            "answers": {r: answers[r].get(i) for r in reviewers},
            "pair_agreement": round(sum(x == y for x, y in pairs) / len(pairs), 4) if pairs else None,
            "automatic": automatic.get(i),
            "automatic_matches_majority": None if majority is None else automatic.get(i) == majority,
        }
    pair_stats = []
    for r1, r2 in itertools.combinations(reviewers, 2):
        common = [i for i in items if i in answers[r1] and i in answers[r2]]
        a, b = [answers[r1][i] for i in common], [answers[r2][i] for i in common]
        if common:
            pair_stats.append(
                {
                    "reviewers": [r1, r2],
                    "items": len(common),
                    "percent_agreement": round(100 * sum(x == y for x, y in zip(a, b, strict=True)) / len(common), 2),
                    "kappa": _round(cohen_kappa(a, b)),
                }
            )
    vs_auto = {}
    for r in reviewers:
        common = [i for i in answers[r] if automatic.get(i) is not None]
        a, b = [answers[r][i] for i in common], [str(automatic[i]) for i in common]
        vs_auto[r] = {
            "items": len(common),
            "percent_agreement": round(100 * sum(x == y for x, y in zip(a, b, strict=True)) / len(common), 2)
            if common
            else None,
            "kappa": _round(cohen_kappa(a, b)) if common else None,
        }
    kappas = [p["kappa"] for p in pair_stats if p["kappa"] is not None]
    pcts = [p["percent_agreement"] for p in pair_stats]
    return {
        "reviewers": reviewers,
        "items": per_item,
        "pairs": pair_stats,
        "overall": {
            "percent_agreement": round(sum(pcts) / len(pcts), 2) if pcts else None,
            "mean_kappa": _round(sum(kappas) / len(kappas)) if kappas else None,
        },
        "reviewer_vs_automatic": vs_auto,
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)
