"""Which calls a reviewer evaluates by hand: a random sample of N evaluated calls per agent per ISO week.

The draw is deterministic per week: each call gets the rank ``sha256(week : call id)`` and an agent's N lowest ranks
are the sample. Reloading shows the same calls; a call added to the week later displaces a sampled one only when its
own rank is lower, and one agent's calls never change another's sample. The caller passes the calls query already
cut to what the user may see (``api.permissions.scope_calls``); nothing here decides who sees what.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import Select
from sqlalchemy.orm import Session, defer

from qa.store.models import Call

WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True, slots=True)
class Week:
    """An ISO week: ``label`` ("2026-W45"), its Monday ``start`` and the next Monday ``end`` (naive UTC)."""

    label: str
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def of(cls, day: dt.date) -> Week:
        y, w, _ = day.isocalendar()
        monday = dt.date.fromisocalendar(y, w, 1)
        start = dt.datetime.combine(monday, dt.time())
        return cls(f"{y}-W{w:02d}", start, start + dt.timedelta(days=7))

    @classmethod
    def parse(cls, label: str) -> Week:
        """ "2026-W45" -> the week; ValueError naming the expected form otherwise."""
        m = WEEK.match(label.strip())
        if not m or not 1900 <= int(m.group(1)) <= 2999:
            raise ValueError(f"week: {label[:20]!r} is not an ISO week such as 2026-W45")
        try:
            return cls.of(dt.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1))
        except ValueError:
            raise ValueError(f"week: {m.group(1)} has no week {m.group(2)}") from None

    def shift(self, weeks: int) -> Week:
        return Week.of((self.start + dt.timedelta(weeks=weeks)).date())


def rank(week: str, call_id: str) -> str:
    return hashlib.sha256(f"{week}:{call_id}".encode()).hexdigest()


def weekly_sample(s: Session, calls_q: Select, week: Week, per_agent: int) -> list[Call]:
    """Up to ``per_agent`` evaluated calls of each agent started in ``week``, from the (scoped) calls query; ordered
    by agent, then start time."""
    q = calls_q.where(Call.started_at >= week.start, Call.started_at < week.end, Call.percent.is_not(None))
    rows = s.execute(q.with_only_columns(Call.id, Call.agent_id)).all()
    by_agent: dict[str, list[str]] = {}
    for call_id, agent in rows:
        by_agent.setdefault(agent or "", []).append(call_id)
    chosen = [c for ids in by_agent.values() for c in sorted(ids, key=lambda c: rank(week.label, c))[:per_agent]]
    if not chosen:
        return []
    calls = list(s.scalars(calls_q.where(Call.id.in_(chosen)).options(defer(Call.document), defer(Call.search_text))))
    return sorted(calls, key=lambda c: (c.agent_id or "", c.started_at, c.id))


def latest_week(s: Session, calls_q: Select, today: dt.date | None = None) -> Week:
    """The week of the latest call the query reaches (today's week when there is none): where a page opens."""
    from sqlalchemy import func

    last = s.scalar(calls_q.with_only_columns(func.max(Call.started_at)).order_by(None))
    return Week.of(last.date() if last else (today or dt.date.today()))
