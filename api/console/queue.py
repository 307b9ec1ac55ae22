"""The reviewer's queue: calls that need review, open disputes, and the week's random sample per agent (the API's
list, dispute list and review sample, with their scopes)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request

from api.console.pages import _fail, _to_login, _week, page, signed_in
from api.deps import SessionDep, require
from api.routes import calls, reviews
from qa.store.sampling import Week

router = APIRouter(include_in_schema=False)


def _week_and_n(request: Request) -> tuple[str | None, int | None]:
    """``week`` (ISO, "2026-W45") and ``n`` (calls per agent, 0-50) from the query string; 422 naming the field."""
    q = request.query_params
    asked = _week(request)
    week = asked.label if asked else None
    n = None
    if (q.get("n") or "").strip():
        try:
            n = int(q["n"])
            if not 0 <= n <= 50:
                raise ValueError
        except ValueError:
            raise HTTPException(422, "n: a whole number of calls per agent from 0 to 50") from None
    return week, n


@router.get("/queue")
def queue_page(request: Request, s: SessionDep):
    """A reviewer's queue: calls that need review, open disputes, and this week's random sample per agent (the
    API's list, dispute list and review sample, with their scopes)."""
    sess = signed_in(request)
    if sess is None:
        return _to_login()
    try:
        user = require("queue:read")(sess.user)
        week, n = _week_and_n(request)
        sample = reviews.review_sample(request, s, user, week=week, per_agent=n, team=None)
        review = calls.list_calls(s, user, needs_review=True, sort="-started_at", limit=100, offset=0)
        disputes = reviews.list_disputes(s, user, status="open", limit=100, offset=0)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc, "/queue") from exc
    wk = Week.parse(sample["week"])
    context = {
        "me": sess,
        "sample": sample,
        "review": review,
        "disputes": disputes,
        "prev_week": "/queue?" + urlencode({"week": wk.shift(-1).label, "n": sample["per_agent"]}),
        "next_week": "/queue?" + urlencode({"week": wk.shift(1).label, "n": sample["per_agent"]}),
        "week_start": wk.start.date(),
    }
    return page(request, "queue.html", context)
