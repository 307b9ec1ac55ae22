"""The supervisor's console pages: the team dashboard and coaching notes.

As everywhere in the console, these pages call the API's own handlers (``reports.get_dashboard``,
``coaching.list_notes`` / ``create_note`` / ``update_note``) after ``require``, so the scope (a team supervisor sees
and writes only their team's agents), the validation and the audit rows are the API's.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import TypeAdapter, ValidationError

from api.console.charts import bar_chart, line_chart
from api.console.pages import _fail, _form_user, _team, _to_login, _week, may, page, signed_in
from api.deps import SessionDep, require
from api.routes import coaching, reports
from api.schemas import AgentId, CoachingIn, CoachingPatch
from qa.store.sampling import Week, latest_week

router = APIRouter(include_in_schema=False)
BACK = re.compile(r"^/(dashboard|ui/coaching|ui/calls/[A-Za-z0-9._-]{1,64})$")
_day = TypeAdapter(dt.date)
_agent = TypeAdapter(AgentId)


@router.get("/dashboard")
def dashboard(request: Request, s: SessionDep):
    """Score and pass rate per agent per week (charts with a table of the same numbers), worst items, calls per day
    and handle time, rising request types, and the team's coaching notes."""
    sess = signed_in(request)
    if sess is None:
        return _to_login()
    q = request.query_params
    try:
        user = require("dashboard:read")(sess.user)
        team = _team.validate_python((q.get("team") or "").strip() or None)
        asked = _week(request)
        week = asked.label if asked else None
        data = reports.get_dashboard(s, user, team=team, week=week, weeks=8)
        notes = coaching.list_notes(s, user, agent_id=None, status=None, limit=50, offset=0)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc, "/dashboard") from exc
    weeks = data["weeks"]
    agents = data["agents"]

    def series(field: str, scale: float) -> dict[str, list[float | None]]:
        out = {}
        for a, per_week in agents.items():
            values = [(per_week.get(w) or {}).get(field) for w in weeks]
            out[a] = [None if v is None else v * scale for v in values]
        return out

    short = [w.split("-")[1] for w in weeks]  # "W45"
    wk = Week.parse(data["week"])
    keep = {"team": team} if team else {}
    context = {
        "me": sess,
        "d": data,
        "team": team or "",
        "score_chart": line_chart(series("average_percent", 1.0), short),
        "pass_chart": line_chart(series("pass_rate", 100.0), short),
        "day_bars": bar_chart([(d["day"].strftime("%a %d"), d["calls"]) for d in data["days"]]),
        "prev_week": "/dashboard?" + urlencode({**keep, "week": wk.shift(-1).label}),
        "next_week": "/dashboard?" + urlencode({**keep, "week": wk.shift(1).label}),
        "notes": notes["data"],
        "can_coach": may(user, "coaching:write"),
        "today": dt.date.today(),
    }
    return page(request, "dashboard.html", context)


# ------------------------------------------------------------------------------------------------------ scores

SCORE_WEEKS = 12


@router.get("/ui/scores")
def agent_scores(request: Request, s: SessionDep):
    """An agent's own scores week by week (released evaluations only, exactly `GET /trends`), their weakest items,
    their lowest and highest calls and their coaching notes. Supervisors, admins and HR open any agent they may see
    with ``?agent=``."""
    sess = signed_in(request)
    if sess is None:
        return _to_login()
    q = request.query_params
    try:
        user = require("trends:read")(sess.user)
        asked = (q.get("agent") or "").strip()
        agent = user.agent_id if user.role == "agent" else _agent.validate_python(asked) if asked else None
        # default: the week of the agent's latest call this page can show (scored; released, for agents), as the
        # dashboard opens on its latest week
        calls = reports.scored_calls(user, agent) if agent else None
        week = _week(request) or (latest_week(s, calls) if calls is not None else Week.of(dt.date.today()))
        first = week.shift(-(SCORE_WEEKS - 1))
        data = None
        if agent:
            last_day = week.start.date() + dt.timedelta(days=6)
            data = reports.get_trends(
                s, user, agent_id=agent, team=None, period="week", start=first.start.date(), end=last_day
            )
        notes = None
        if agent and may(user, "coaching:read"):
            notes = coaching.list_notes(s, user, agent_id=agent, status=None, limit=20, offset=0)
    except Exception as exc:  # noqa: BLE001 - _fail re-raises what is not an HTTP, lifecycle or validation error
        raise _fail(exc, "/ui/scores") from exc
    labels = [first.shift(i).label for i in range(SCORE_WEEKS)]
    per_week = {b["period"]: b for b in (data or {}).get("buckets", [])}

    def values(field: str, scale: float) -> list[float | None]:
        return [None if (v := (per_week.get(w) or {}).get(field)) is None else v * scale for w in labels]

    short = [w.split("-")[1] for w in labels]
    keep = {"agent": agent} if agent and user.role != "agent" else {}
    context = {
        "me": sess,
        "agent": agent or "",
        "d": data,
        "weeks": labels,
        "per_week": per_week,
        "week": week.label,
        "chart": line_chart({"average score": values("average_percent", 1.0), "pass rate": values("pass_rate", 100.0)},
                            short),
        "prev_week": "/ui/scores?" + urlencode({**keep, "week": week.shift(-SCORE_WEEKS).label}),
        "next_week": "/ui/scores?" + urlencode({**keep, "week": week.shift(SCORE_WEEKS).label}),
        "notes": (notes or {}).get("data", []),
    }  # fmt: skip
    return page(request, "scores.html", context)


# ------------------------------------------------------------------------------------------------------ coaching


@router.get("/ui/coaching")
def coaching_list(request: Request, s: SessionDep):
    """Coaching notes the user may read: an agent their own, a team supervisor their team's."""
    sess = signed_in(request)
    if sess is None:
        return _to_login()
    status = request.query_params.get("status") or None
    try:
        user = require("coaching:read")(sess.user)
        if status not in (None, "open", "in_progress", "done"):
            raise HTTPException(422, "status: open, in_progress or done")
        notes = coaching.list_notes(s, user, agent_id=None, status=status, limit=200, offset=0)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc) from exc
    context = {"me": sess, "notes": notes["data"], "count": notes["count"], "status": status or "",
               "can_coach": may(user, "coaching:write")}  # fmt: skip
    return page(request, "coaching.html", context)


def _back(value: str) -> str:
    return value if BACK.match(value) else "/ui/coaching"


def _due(value: str) -> dt.date | None:
    if not value.strip():
        return None
    try:
        return _day.validate_python(value.strip())
    except ValidationError:
        raise HTTPException(422, "follow_up_due: a date (YYYY-MM-DD)") from None


@router.post("/ui/coaching")
def coaching_create(
    request: Request,
    s: SessionDep,
    agent_id: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    follow_up_due: Annotated[str, Form()] = "",
    call_id: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
):
    """A new note for an agent (optionally about a call): the API's create handler (scope, checks, audit row)."""
    user = _form_user(request, csrf).user
    back = _back(back)
    try:
        user = require("coaching:write")(user)
        body: dict[str, Any] = {"agent_id": agent_id.strip(), "note": note, "follow_up_due": _due(follow_up_due)}
        if call_id.strip():
            body["call_ids"] = [call_id.strip()]
        coaching.create_note(CoachingIn(**body), request, s, user)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc, back) from exc
    return RedirectResponse(back + "#coaching", status_code=303)


@router.post("/ui/coaching/{note_id}")
def coaching_update(
    note_id: int,
    request: Request,
    s: SessionDep,
    status: Annotated[str, Form()] = "",
    follow_up_due: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
):
    """Follow up a note (status, due date, text): the API's update handler."""
    user = _form_user(request, csrf).user
    back = _back(back)
    try:
        user = require("coaching:write")(user)
        if not 1 <= note_id <= 2**31 - 1:
            raise HTTPException(404, f"no coaching note {note_id}")
        body: dict[str, Any] = {"status": status or None, "follow_up_due": _due(follow_up_due)}
        if note.strip():
            body["note"] = note
        coaching.update_note(note_id, CoachingPatch(**body), request, s, user)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc, back) from exc
    return RedirectResponse(back + "#coaching", status_code=303)
