"""Trends for supervisors (and an agent's own), and HR exports: CSV, XLSX, and a PDF report with a trend chart.
Every export is in the audit trail (who, which filters, how many rows). Agents' trends count released evaluations
only. Dates outside 1900-2999 are a 422 (they would overflow date arithmetic)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.deps import AgentQuery, Day, SessionDep, TeamQuery, WeekQuery, actor_of, require, scoped_week
from api.permissions import Principal, released_only, scope_calls
from qa.exports.reports import to_csv, to_pdf, to_xlsx
from qa.store import audit
from qa.store.dashboard import team_dashboard
from qa.store.models import Call
from qa.store.reports import evaluated_calls, export_rows, light_calls, trends

router = APIRouter(tags=["reports"])
Period = Literal["week", "month"]


def _calls(user: Principal, agent_id: str | None, team: str | None, start: dt.date | None, end: dt.date | None):
    if user.role == "agent":
        if agent_id not in (None, user.agent_id):
            raise HTTPException(403, "an agent sees only their own trend")
        agent_id = user.agent_id
    q = scope_calls(select(Call).where(Call.percent.is_not(None)), user)
    if released_only(user):
        q = q.where(Call.released_at.is_not(None))
    if agent_id:
        q = q.where(Call.agent_id == agent_id)
    if team:
        q = q.where(Call.team == team)
    if start:
        q = q.where(Call.started_at >= dt.datetime.combine(start, dt.time()))
    if end:
        q = q.where(Call.started_at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))
    if start and end and end < start:
        raise HTTPException(422, "end: before start")
    return q.order_by(Call.started_at, Call.id), agent_id


def scored_calls(user: Principal, agent_id: str) -> Select:
    """The calls ``GET /trends`` reads for one agent: scored, in the user's scope, released ones for agents."""
    return _calls(user, agent_id, None, None, None)[0]


@router.get("/trends", summary="Average score, pass rate, per-item pass rates, worst items, sentiment, examples")
def get_trends(
    s: SessionDep,
    user: Annotated[Principal, Depends(require("trends:read"))],
    agent_id: AgentQuery = None,
    team: TeamQuery = None,
    period: Period = "week",
    start: Annotated[Day, Query(description="First day (inclusive).")] = None,
    end: Annotated[Day, Query(description="Last day (inclusive).")] = None,
):
    q, agent_id = _calls(user, agent_id, team, start, end)
    return {"agent_id": agent_id, "team": team, **trends(light_calls(s, q), period)}


@router.get("/trends/dashboard", summary="A team's agents per week, worst items, calls per day, rising request types")
def get_dashboard(
    s: SessionDep,
    user: Annotated[Principal, Depends(require("dashboard:read"))],
    team: TeamQuery = None,
    week: WeekQuery = None,
    weeks: Annotated[int, Query(ge=1, le=26, description="Weeks shown, ending with `week`.")] = 8,
):
    """Team-scoped for a supervisor with a team (another team's name finds nothing), every team for admins."""
    q, wk = scoped_week(s, user, team, week)
    return {"team": team or (user.team if user.limited_to_team else None), **team_dashboard(s, q, wk, weeks)}


def _audit_export(
    s: Session,
    request: Request,
    user: Principal,
    what: str,
    agent_id: str | None,
    team: str | None,
    start: dt.date | None,
    end: dt.date | None,
    rows: int,
) -> None:
    filters = {"agent_id": agent_id, "team": team, "start": start, "end": end}
    scope_team = team or (user.team if user.limited_to_team else None)
    audit.record(
        s,
        actor_of(user, request),
        "export",
        "export",
        what,
        {"filters": filters, "rows": rows},
        team=scope_team,
        agent_id=agent_id,
    )


def _filename(name: str) -> str:
    """A download name safe in any header and file system: ASCII letters, digits, dot, dash, underscore."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:120]


def _label(agent_id: str | None, team: str | None) -> str:
    return f"agent {agent_id}" if agent_id else f"team {team}" if team else "all agents"


def _span(start: dt.date | None, end: dt.date | None) -> str:
    return f"{start or 'beginning'} to {end or 'today'}"


@router.get(
    "/exports/evaluations.{fmt}",
    summary="Evaluations over a period as CSV or XLSX (no transcript text)",
    responses={
        200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}
    },
)
def export_evaluations(
    fmt: Literal["csv", "xlsx"],
    request: Request,
    s: SessionDep,
    user: Annotated[Principal, Depends(require("exports:read"))],
    agent_id: AgentQuery = None,
    team: TeamQuery = None,
    start: Annotated[Day, Query(description="First day (inclusive).")] = None,
    end: Annotated[Day, Query(description="Last day (inclusive).")] = None,
):
    q, agent_id = _calls(user, agent_id, team, start, end)
    header, rows = export_rows(evaluated_calls(s, q))
    _audit_export(s, request, user, f"evaluations.{fmt}", agent_id, team, start, end, len(rows))
    name = _filename(f"evaluations-{agent_id or team or 'all'}-{start or 'all'}-{end or 'now'}")
    if fmt == "csv":
        return Response(
            to_csv(header, rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(
        to_xlsx(header, rows),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


@router.get(
    "/exports/report.pdf",
    summary="A PDF evaluation report with a trend chart",
    responses={200: {"content": {"application/pdf": {}}}},
)
def export_report(
    s: SessionDep,
    user: Annotated[Principal, Depends(require("exports:read"))],
    request: Request,
    agent_id: AgentQuery = None,
    team: TeamQuery = None,
    period: Period = "week",
    start: Annotated[Day, Query(description="First day (inclusive).")] = None,
    end: Annotated[Day, Query(description="Last day (inclusive).")] = None,
):
    q, agent_id = _calls(user, agent_id, team, start, end)
    rows = evaluated_calls(s, q)
    header, table = export_rows(rows)
    _audit_export(s, request, user, "report.pdf", agent_id, team, start, end, len(table))
    pdf = to_pdf(
        f"QA evaluation report: {_label(agent_id, team)}",
        _span(start, end),
        trends([r.call for r in rows], period),
        header,
        table,
    )
    name = _filename(f"report-{agent_id or team or 'all'}")
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'}
    )
