"""A supervisor's team dashboard: per agent per week average score and pass rate, the worst items, calls per day and
average handle time, and the request types rising this week against the four weeks before (outages and special
events show up there first).

It reads the calls' denormalised columns only (final answers with overrides, never documents), from a calls query
the caller has already cut to what the user may see (``api.permissions.scope_calls``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from qa.store.models import Call
from qa.store.reports import aggregate
from qa.store.sampling import Week

COLUMNS = (
    Call.id,
    Call.agent_id,
    Call.started_at,
    Call.duration_s,
    Call.percent,
    Call.passed,
    Call.answers,
    Call.request_type,
    Call.caller_sentiment_change,
)
BASELINE_WEEKS = 4  # "rising": this week against the average of the four before


def team_dashboard(s: Session, calls_q: Select, week: Week, weeks: int = 8, limit: int = 50000) -> dict[str, Any]:
    """The dashboard for the ``weeks`` weeks ending with ``week``."""
    labels = [week.shift(i - weeks + 1) for i in range(weeks)]
    first = min(labels[0].start, week.shift(-BASELINE_WEEKS).start)
    q = calls_q.where(Call.started_at >= first, Call.started_at < week.end).with_only_columns(*COLUMNS)
    rows = list(s.execute(q.order_by(None).limit(limit)))
    by_week: dict[str, list] = defaultdict(list)
    label_of: dict[dt.date, str] = {}
    for r in rows:
        day = r.started_at.date()
        if day not in label_of:
            label_of[day] = Week.of(day).label
        by_week[label_of[day]].append(r)
    shown = [w.label for w in labels]
    in_window = [r for w in shown for r in by_week[w]]
    evaluated = [r for r in in_window if r.percent is not None]

    agents: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for w in shown:
        per_agent: dict[str, list] = defaultdict(list)
        for r in by_week[w]:
            if r.percent is not None:
                per_agent[r.agent_id or "–"].append(r)
        for agent, calls in per_agent.items():
            scores = _scores(calls)
            agents[agent][w] = {"calls": len(calls), "average_percent": scores["average_percent"],
                                "pass_rate": scores["pass_rate"]}  # fmt: skip
    team_weeks = []
    for w in shown:
        scored = [r for r in by_week[w] if r.percent is not None]
        team_weeks.append({"week": w, "calls": len(by_week[w]), "evaluated": len(scored), **_scores(scored)})
    return {
        "week": week.label,
        "weeks": shown,
        "agents": {a: agents[a] for a in sorted(agents)},
        "team_weeks": team_weeks,
        "worst_items": aggregate(evaluated)["worst_items"] if evaluated else [],
        "days": _days(by_week[week.label], week),
        "rising": rising(by_week, week),
    }


def _scores(calls: list) -> dict[str, float | None]:
    """Average score, pass rate and caller sentiment change of evaluated calls; the per-item pass rates (the costly
    part of ``reports.aggregate``) are computed once, for the worst items over all the weeks."""
    if not calls:
        return {"average_percent": None, "pass_rate": None, "caller_sentiment_change": None}
    changes = [c.caller_sentiment_change for c in calls if c.caller_sentiment_change is not None]
    return {
        "average_percent": round(sum(c.percent for c in calls) / len(calls), 2),
        "pass_rate": round(sum(bool(c.passed) for c in calls) / len(calls), 4),
        "caller_sentiment_change": round(sum(changes) / len(changes), 4) if changes else None,
    }


def _days(rows: list, week: Week) -> list[dict[str, Any]]:
    """Calls per day of the week and their average handle time (the call's length, seconds)."""
    per_day: dict[dt.date, list[float]] = defaultdict(list)
    for r in rows:
        per_day[r.started_at.date()].append(float(r.duration_s or 0))
    out = []
    for i in range(7):
        day = (week.start + dt.timedelta(days=i)).date()
        lengths = per_day.get(day, [])
        out.append(
            {"day": day, "calls": len(lengths), "handle_s": round(sum(lengths) / len(lengths), 1) if lengths else None}
        )
    return out


def rising(by_week: dict[str, list], week: Week) -> list[dict[str, Any]]:
    """Request types of ``week`` against their weekly average over the ``BASELINE_WEEKS`` before: every type seen
    in those five weeks, the rising ones (more than the average) first, by how many calls more."""
    now = Counter(r.request_type or "unknown" for r in by_week.get(week.label, []))
    before: Counter[str] = Counter()
    for i in range(1, BASELINE_WEEKS + 1):
        before.update(r.request_type or "unknown" for r in by_week.get(week.shift(-i).label, []))
    out = []
    for label in set(now) | set(before):
        avg = before[label] / BASELINE_WEEKS
        out.append(
            {
                "request_type": label,
                "this_week": now[label],
                "weekly_average_before": round(avg, 2),
                "change": round(now[label] - avg, 2),
                "ratio": round(now[label] / avg, 2) if avg else None,
                "rising": now[label] > avg,
            }
        )
    return sorted(out, key=lambda r: (not r["rising"], -r["change"], r["request_type"]))
