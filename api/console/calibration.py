"""Calibration in the console: start a session on a call, reviewers answer blind, then agreement per item, Cohen's
kappa per pair of reviewers and each reviewer against the automatic answers.

Through the API's handlers (``reviews.create_calibration``, ``score_calibration``, ``calibration_result``,
``list_calibrations``): the same scope (a session on a call the user may not see is "no calibration session"), the
same blindness (``answers_blind``: a reviewer's result is a 409 until they answer) and the same audit rows. While
blind, the page shows the call's recording and transcript as the role's view cuts them, and the items to answer:
never the automatic answers, the overrides or anyone else's answers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.console.pages import _call_id, _fail, _form_user, _to_login, _words, hears, may, page, signed_in
from api.deps import SessionDep, require
from api.permissions import released_only, text_access
from api.routes import reviews
from api.routes.evaluations import evaluation_of
from api.schemas import CalibrationIn, CalibrationScoresIn
from api.views import call_view

router = APIRouter(include_in_schema=False)
ANSWERS = ("yes", "no", "na")


def _sid(session_id: int) -> int:
    if not 1 <= session_id <= 2**31 - 1:
        raise HTTPException(404, f"no calibration session {session_id}")
    return session_id


@router.get("/ui/calibrations")
def calibration_list(request: Request, s: SessionDep):
    sess = signed_in(request)
    if sess is None:
        return _to_login()
    try:
        user = require("calibration:read")(sess.user)
        listed = reviews.list_calibrations(s, user, call_id=None, limit=200, offset=0)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc) from exc
    context = {"me": sess, "rows": listed["data"], "count": listed["count"], "scores": may(user, "calibration:score")}
    return page(request, "calibrations.html", context)


@router.post("/ui/calls/{call_id}/calibrate")
def calibration_start(
    call_id: str, request: Request, s: SessionDep, name: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = ""
):
    user = _form_user(request, csrf).user
    back = f"/ui/calls/{call_id}" if _ok(call_id) else "/ui/calibrations"
    try:
        user = require("calibration:manage")(user)
        made = reviews.create_calibration(
            CalibrationIn(call_id=_call_id.validate_python(call_id), name=name), request, s, user
        )
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc, back) from exc
    return RedirectResponse(f"/ui/calibrations/{made['id']}", status_code=303)


def _ok(call_id: str) -> bool:
    try:
        _call_id.validate_python(call_id)
        return True
    except ValidationError:
        return False


@router.get("/ui/calibrations/{session_id}")
def calibration_page(session_id: int, request: Request, s: SessionDep):
    """Blind (the items to answer, the call to listen to) until this reviewer has answered; then the agreement."""
    sess = signed_in(request)
    if sess is None:
        return _to_login()
    user = sess.user
    try:
        require("calibration:read")(user)
        sid = _sid(session_id)
        cs, call = reviews.session_call(s, sid, user)
        ev = evaluation_of(s, call)
        try:
            result = reviews.calibration_result(sid, s, user)
        except HTTPException as exc:
            if exc.status_code != 409:
                raise
            result = None
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc, "/ui/calibrations") from exc
    items = [{"id": it["id"], "section": it.get("section") or ""} for it in ev.data["items"]]
    mine = {}
    if result is not None:
        mine = {i: v["answers"].get(user.name) for i, v in result["items"].items()}
    context = {
        "me": sess,
        "cs": cs,
        "call": call,
        "items": items,
        "result": result,
        "mine": mine,
        "scores": may(user, "calibration:score"),
        "audio": hears(user, call),
        "no_recording": may(user, "calls:audio") and not hears(user, call),
        "turns": None,
    }
    if result is None:  # blind: the call as the role reads it, without its evaluation
        access = text_access(user)
        view = call_view(s, call, access, released_only(user))
        context["turns"] = _words(call, view, access) if view["turns"] is not None else None
    return page(request, "calibration.html", context)


@router.post("/ui/calibrations/{session_id}/answers")
async def calibration_answer(session_id: int, request: Request, s: SessionDep):
    """The reviewer's answers, one field ``a-ITEM`` per item: the API's handler (appended, audited)."""
    form = await request.form()
    answers = {str(k)[2:]: str(v) for k, v in form.multi_items() if str(k).startswith("a-") and str(v)}
    return await run_in_threadpool(_answer, session_id, request, s, str(form.get("csrf") or ""), answers)


def _answer(session_id: int, request: Request, s, csrf: str, answers: dict[str, str]) -> RedirectResponse:
    user = _form_user(request, csrf).user
    back = f"/ui/calibrations/{session_id}"
    try:
        user = require("calibration:score")(user)
        sid = _sid(session_id)
        if not answers:
            raise HTTPException(422, "answers: answer at least one item (yes, no or na)")
        reviews.score_calibration(sid, CalibrationScoresIn(answers=answers), request, s, user)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc, back) from exc
    return RedirectResponse(back, status_code=303)
