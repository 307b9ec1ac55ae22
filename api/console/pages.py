"""The review console's pages: sign-in, the call list, a call's page, and the forms on it.

Every page and form calls what the JSON API calls: ``require`` (the role table), ``visible_call`` (agents their own
calls, team supervisors their team's; 404 otherwise), ``call_view`` / ``text_access`` / ``released_only`` (what text a
role reads), and the API's own handlers for the list, the audio, overrides, acknowledgements and disputes (so the
same lifecycle checks and audit rows apply). Nothing here decides who may see or change what.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import TypeAdapter, ValidationError

from api.console.charts import sentiment_curve, timeline
from api.console.session import COOKIE, LOGIN_COOKIE, Session, check_csrf
from api.deps import (
    AgentQuery,
    CallId,
    Day,
    ItemId,
    Moment,
    SessionDep,
    StoreDep,
    TeamQuery,
    actor_of,
    client_address,
    require,
)
from api.deps import visible_call as _visible_call
from api.permissions import PERMISSIONS, Principal, released_only, text_access
from api.routes import calls, coaching, evaluations, reports, reviews
from api.schemas import DisputeIn, DisputeResolveIn, OverrideIn, RolesIn
from api.views import TextAccess, call_view
from qa.store import audit
from qa.store.lifecycle import LifecycleError
from qa.store.sampling import Week
from qa.store.users import AuthResult, authenticate

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
PAGE_SIZE = 25
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SORTS = get_args(calls.Sort)
SORTABLE = {"started_at": "-started_at", "percent": "percent", "duration_s": "-duration_s"}  # column: first click
FLAGS = {"failed": "passed", "needs_review": "needs_review", "emergency": "emergency", "negative": "caller_negative"}
_call_id, _item_id = TypeAdapter(CallId), TypeAdapter(ItemId)
_agent, _moment = TypeAdapter(AgentQuery), TypeAdapter(Moment)
_team, _day = TypeAdapter(TeamQuery), TypeAdapter(Day)


def _week(request: Request) -> Week | None:
    """The ``week`` query parameter (an ISO week, "2026-W45"), None when absent; one 422 naming what is wrong."""
    label = (request.query_params.get("week") or "").strip()
    if not label:
        return None
    try:
        return Week.parse(label)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


class ConsoleError(Exception):
    """An HTTP error on a console page: shown as a page (status kept), after the request's transaction rolled back."""

    def __init__(self, status: int, message: str, back: str = "/") -> None:
        super().__init__(message)
        self.status, self.message, self.back = status, message, back


def install(app) -> None:
    @app.exception_handler(ConsoleError)
    async def console_error(request: Request, exc: ConsoleError):
        me = signed_in(request)
        return page(request, "error.html", {"me": me, "message": exc.message, "back": exc.back}, exc.status)


# --------------------------------------------------------------------------------------------------------- helpers


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    return response


def signed_in(request: Request) -> Session | None:
    sess = request.app.state.console_sessions.read(request.app.state.store, request.cookies.get(COOKIE))
    if sess is not None:
        request.app.state.last_used.seen(sess.user.id)
    return sess


def may(user: Principal, permission: str) -> bool:
    return user.role in PERMISSIONS[permission]


templates.env.globals["may"] = may  # the navigation shows what the permission table allows


def _fail(exc: Exception, back: str = "/") -> ConsoleError:
    if isinstance(exc, HTTPException):
        return ConsoleError(exc.status_code, str(exc.detail), back)
    if isinstance(exc, LifecycleError):
        return ConsoleError(409, str(exc), back)
    if isinstance(exc, ValidationError):
        text = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
        return ConsoleError(422, text, back)
    raise exc


def _form_user(request: Request, csrf: str) -> Session:
    """The signed-in session of a form post with a matching CSRF token; otherwise 403 (nothing is done)."""
    sess = signed_in(request)
    if sess is None:
        raise ConsoleError(401, "your session has ended: sign in again", "/login")
    if not check_csrf(sess.csrf, csrf):
        raise ConsoleError(403, "the form's CSRF token is missing or wrong: reload the page and try again")
    return sess


def _to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


# --------------------------------------------------------------------------------------------------------- sign-in


@router.get("/login")
def login_form(request: Request):
    if signed_in(request) is not None:
        return RedirectResponse("/", status_code=303)
    return _login_page(request, None, 200)


def _login_page(request: Request, error: str | None, status: int) -> Response:
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", {"me": None, "csrf": token, "error": error}, status)
    request.app.state.console_sessions.set_cookie(response, request, LOGIN_COOKIE, token, 3600)
    return response


@router.post("/login")
def login(
    request: Request,
    store: StoreDep,
    key: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
):
    if not check_csrf(request.cookies.get(LOGIN_COOKIE), csrf):
        return _login_page(request, "The form expired or its CSRF token is wrong: please try again.", 403)
    throttle, client = request.app.state.key_throttle, client_address(request)
    wait = throttle.retry_after(client)
    if wait is not None:
        return _login_page(request, f"Too many bad keys from this address: try again in {wait} s.", 429)
    key = key.strip()
    result, user = authenticate(store, key) if 0 < len(key) <= 200 else (AuthResult.UNKNOWN, None)
    if result is not AuthResult.OK or user is None:
        throttle.failed(client)
        message = "This key has expired: ask an admin for a new one." if result is AuthResult.EXPIRED else None
        return _login_page(request, message or "Unknown or disabled key.", 401)
    sessions = request.app.state.console_sessions
    value, _ = sessions.issue(user)
    who = Principal(user.id, user.name, user.role, user.agent_id, user.team)
    with store.session() as s:
        audit.record(s, actor_of(who, request), "console.signin", "user", user.id, team=user.team)
    response = RedirectResponse("/", status_code=303)
    sessions.set_cookie(response, request, COOKIE, value, sessions.max_age)
    response.delete_cookie(LOGIN_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.post("/logout")
def logout(request: Request, store: StoreDep, csrf: Annotated[str, Form()] = ""):
    sess = _form_user(request, csrf)
    request.app.state.console_sessions.revoke(sess.nonce, sess.expires)
    with store.session() as s:
        audit.record(s, actor_of(sess.user, request), "console.signout", "user", sess.user.id, team=sess.user.team)
    response = _to_login()
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


# --------------------------------------------------------------------------------------------------------- calls


def _filters(request: Request, user: Principal) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """The list's query string -> (arguments for the API's list_calls, the form's values, problems)."""
    raw = {k: v.strip() for k, v in request.query_params.items() if v.strip()}
    args: dict[str, Any] = {}
    problems: list[str] = []

    def take(name: str, adapter: TypeAdapter, label: str):
        if name in raw:
            try:
                return adapter.validate_python(raw[name])
            except ValidationError as exc:
                problems.append(f"{label}: {exc.errors()[0]['msg']}")
        return None

    args["agent_id"] = take("agent", _agent, "agent")
    args["team"] = take("team", _agent, "team")
    args["start"] = take("from", _moment, "from")
    end = take("to", _moment, "to")
    if end is not None:
        import datetime as dt

        args["end"] = end + dt.timedelta(days=1) if "T" not in raw["to"] else end  # "to" a day: that whole day
    args["request_type"] = raw.get("request_type", "")[:100] or None
    for name in ("min_score", "max_score"):
        if name in raw:
            try:
                value = float(raw[name])
                if not 0 <= value <= 100:
                    raise ValueError
                args[name] = value
            except ValueError:
                problems.append(f"{name.replace('_', ' ')}: a percent from 0 to 100")
    for name, param in FLAGS.items():
        if raw.get(name) in ("yes", "no"):
            yes = raw[name] == "yes"
            args[param] = (not yes) if name == "failed" else yes
    if "q" in raw:
        if text_access(user) is TextAccess.NONE:
            problems.append("words: your role does not read transcripts")
        elif not 2 <= len(raw["q"]) <= 200:
            problems.append("words: 2 to 200 characters")
        else:
            args["q"] = raw["q"]
    if "sort" in raw:
        if raw["sort"] in SORTS:
            args["sort"] = raw["sort"]
        else:
            problems.append("sort: one of " + ", ".join(SORTS))
    try:
        page_no = max(1, min(int(raw.get("page", "1")), 100_000))
    except ValueError:
        page_no = 1
    args["limit"], args["offset"] = PAGE_SIZE, (page_no - 1) * PAGE_SIZE
    return {k: v for k, v in args.items() if v is not None}, raw, problems


@router.get("/")
def call_list(request: Request, s: SessionDep):
    sess = signed_in(request)
    if sess is None:
        return _to_login()
    user = sess.user
    args, form, problems = _filters(request, user)
    try:
        require("calls:list")(user)
        result = calls.list_calls(s, user, **args) if not problems else {"data": [], "count": 0}
    except Exception as exc:  # noqa: BLE001 - _fail re-raises what is not an HTTP, lifecycle or validation error
        raise _fail(exc) from exc
    page_no = args["offset"] // PAGE_SIZE + 1
    keep = {k: v for k, v in form.items() if k != "page"}

    def link(n: int) -> str:
        return "/?" + urlencode({**keep, "page": n})

    pages = max(1, -(-result["count"] // PAGE_SIZE))
    exact = result.get("count_exact", True)  # a word search counts a page's worth and 1,000 more, no further
    context = {
        "exact": exact,
        "sorting": _sort_links(keep, args.get("sort", "-started_at")),
        "me": sess,
        "rows": result["data"],
        "count": result["count"],
        "form": form,
        "problems": problems,
        "page": page_no,
        "pages": pages,
        "prev": link(page_no - 1) if page_no > 1 else None,
        "next": link(page_no + 1) if page_no < pages or not exact else None,
        "reads_text": text_access(user) is not TextAccess.NONE,
    }
    return page(request, "calls.html", context, 422 if problems else 200)  # the form again, the problems named


def _sort_links(keep: dict[str, str], current: str) -> dict[str, dict[str, str | None]]:
    """Per sortable column: the link that sorts by it (the other direction when it is the current order; paging
    starts again) and its ``aria-sort`` state."""
    out: dict[str, dict[str, str | None]] = {}
    for column, first in SORTABLE.items():
        state = None
        if current.lstrip("-") == column:
            state = "descending" if current.startswith("-") else "ascending"
            target = column if current.startswith("-") else "-" + column
        else:
            target = first
        nxt = "descending" if target.startswith("-") else "ascending"
        href = "/?" + urlencode({**{k: v for k, v in keep.items() if k != "sort"}, "sort": target})
        out[column] = {"href": href, "state": state, "next": nxt}
    return out


def _words(call, view: dict[str, Any], access: TextAccess) -> list[dict[str, Any]]:
    """Turns with word timings for click-to-seek. The words are taken from the stored transcript the role's view
    came from (raw turns, or the redacted turns) and only when they spell exactly the text the view gives this role;
    otherwise the turn is one span. Nothing beyond the view's text reaches the page."""
    doc = call.document or {}
    source = doc.get("turns") if access is TextAccess.RAW else doc.get("redacted")
    out = []
    for t in view["turns"] or []:
        words = None
        if source and t["index"] < len(source):
            stored = source[t["index"]].get("words") or []
            if stored and " ".join(w["word"] for w in stored) == t["text"]:
                words = [{"s": w["start"], "e": w["end"], "w": w["word"]} for w in stored]
        out.append({**t, "words": words or [{"s": t["start"], "e": t["end"], "w": t["text"]}]})
    return out


def hears(user: Principal, call) -> bool:
    """A player on the page: the role may hear recordings and this one is on the server (else no player that could
    only fail; the page says the recording is not available)."""
    return may(user, "calls:audio") and bool(call.audio_path) and Path(call.audio_path).is_file()


def _sections(ev: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not ev:
        return []
    order = [sec["id"] for sec in ev.get("sections") or []]
    groups: dict[str, list] = {sid: [] for sid in order}
    for it in ev["items"]:
        groups.setdefault(it.get("section") or "other", []).append(it)
    info = {sec["id"]: sec for sec in ev.get("sections") or []}
    return [{"id": sid, "info": info.get(sid, {}), "items": items} for sid, items in groups.items() if items]


@router.get("/ui/calls/{call_id}")
def call_page(call_id: str, request: Request, s: SessionDep):
    sess = signed_in(request)
    if sess is None:
        return _to_login()
    user = sess.user
    try:
        cid = _call_id.validate_python(call_id)
        require("calls:read")(user)
        call = _visible_call(s, cid, user)  # exactly calls.get_call: the same scope, the same cut
        access = text_access(user)
        view = call_view(s, call, access, released_only(user))
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc) from exc
    ev = view["evaluation"]
    notes = []
    if may(user, "coaching:read") and call.agent_id:  # the API's list and scope; those about this call
        listed = coaching.list_notes(s, user, agent_id=call.agent_id, status=None, limit=500, offset=0)["data"]
        notes = [n for n in listed if call.id in (n["call_ids"] or [])]
    context = {
        "notes": notes,
        "can_coach": may(user, "coaching:write") and bool(call.agent_id),
        "can_calibrate": may(user, "calibration:manage") and ev is not None,
        "me": sess,
        "call": view,
        "turns": _words(call, view, access) if view["turns"] is not None else None,
        "sections": _sections(ev),
        "timeline": timeline(view),
        "curve": sentiment_curve(view),
        "mood": {s["turn"]: s["label"] for s in (view.get("sentiment") or {}).get("turns") or []},
        "metrics": view.get("metrics") or {},
        "ev": ev,
        "state": (ev or {}).get("lifecycle", {}).get("state"),
        "audio": hears(user, call),
        "no_recording": may(user, "calls:audio") and not hears(user, call),
        "can_override": may(user, "evaluations:override"),
        "can_acknowledge": may(user, "evaluations:acknowledge"),
        "can_dispute": may(user, "disputes:create"),
        "can_resolve": may(user, "disputes:resolve"),
        "roles": _roles(s, call) if may(user, "calls:roles") and view["turns"] is not None else None,
    }
    return page(request, "call.html", context)


def _roles(s, call) -> dict[str, Any]:
    """The call's speakers with their automatic roles, and a reviewer's confirmation if there is one."""
    from qa.store.models import RoleConfirmation

    speakers = [(str(r["speaker"]), str(r["role"])) for r in (call.document.get("speakers") or {}).get("roles") or []]
    confirmed = s.get(RoleConfirmation, call.id)
    current = confirmed is not None and confirmed.config_hash == call.config_hash
    return {"speakers": speakers, "confirmed": confirmed.agent_speaker if current else None}


@router.get("/ui/calls/{call_id}/audio")
def call_audio(call_id: str, request: Request, s: SessionDep):
    """The API's audio handler (range requests, one audit row per request) behind the console's session."""
    sess = signed_in(request)
    if sess is None:
        return Response(status_code=401)
    try:
        user = require("calls:audio")(sess.user)
        return calls.get_audio(_call_id.validate_python(call_id), request, s, user)
    except (HTTPException, ValidationError) as exc:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return Response(status_code=status)


def _back(call_id: str, anchor: str = "") -> str:
    return f"/ui/calls/{call_id}" + (f"#{anchor}" if anchor else "")


@router.post("/ui/calls/{call_id}/items/{item_id}/override")
def override(
    call_id: str,
    item_id: str,
    request: Request,
    s: SessionDep,
    answer: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
):
    user = _form_user(request, csrf).user
    back = _back(call_id, f"item-{item_id}")
    try:
        user = require("evaluations:override")(user)
        cid, iid = _call_id.validate_python(call_id), _item_id.validate_python(item_id)
        evaluations.override_item(cid, iid, OverrideIn(answer=answer, comment=comment), request, s, user)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc, back) from exc
    return RedirectResponse(back, status_code=303)


@router.post("/ui/calls/{call_id}/roles")
def confirm_roles(
    call_id: str,
    request: Request,
    s: SessionDep,
    agent_speaker: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
):
    """Who the agent is, in a reviewer's words: the API's handler (checks, audit row) behind the session."""
    user = _form_user(request, csrf).user
    back = _back(call_id, "h-transcript")
    try:
        user = require("calls:roles")(user)
        calls.confirm_roles(_call_id.validate_python(call_id), RolesIn(agent_speaker=agent_speaker), request, s, user)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc, back) from exc
    return RedirectResponse(back, status_code=303)


@router.post("/ui/calls/{call_id}/acknowledge")
def acknowledge(call_id: str, request: Request, s: SessionDep, csrf: Annotated[str, Form()] = ""):
    user = _form_user(request, csrf).user
    try:
        user = require("evaluations:acknowledge")(user)
        evaluations.acknowledge(_call_id.validate_python(call_id), request, s, user)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc, _back(call_id)) from exc
    return RedirectResponse(_back(call_id), status_code=303)


@router.post("/ui/calls/{call_id}/items/{item_id}/dispute")
def dispute(
    call_id: str,
    item_id: str,
    request: Request,
    s: SessionDep,
    reason: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
):
    user = _form_user(request, csrf).user
    back = _back(call_id, f"item-{item_id}")
    try:
        user = require("disputes:create")(user)
        body = DisputeIn(item_id=item_id, reason=reason)
        reviews.create_dispute(_call_id.validate_python(call_id), body, request, s, user)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc, back) from exc
    return RedirectResponse(back, status_code=303)


@router.post("/ui/disputes/{dispute_id}/resolve")
def resolve(
    dispute_id: int,
    request: Request,
    s: SessionDep,
    call_id: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
    answer: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
):
    """Accept (with the item's new answer) or reject a dispute: the API's resolve handler."""
    user = _form_user(request, csrf).user
    back = _back(call_id) if _call_id_ok(call_id) else "/ui/disputes"
    try:
        user = require("disputes:resolve")(user)
        if not 1 <= dispute_id <= 2**31 - 1:
            raise HTTPException(404, f"no dispute {dispute_id}")
        body = DisputeResolveIn(status=status, reason=reason, answer=(answer or None) if status == "accepted" else None)
        reviews.resolve_dispute(dispute_id, body, request, s, user)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc, back) from exc
    return RedirectResponse(back, status_code=303)


def _call_id_ok(call_id: str) -> bool:
    try:
        _call_id.validate_python(call_id)
        return True
    except ValidationError:
        return False


@router.get("/ui/disputes")
def dispute_list(request: Request, s: SessionDep):
    """Disputes the user may read (an agent their own; a team supervisor their team's): the API's list."""
    sess = signed_in(request)
    if sess is None:
        return _to_login()
    status = request.query_params.get("status") or None
    try:
        user = require("disputes:read")(sess.user)
        if status not in (None, "open", "accepted", "rejected"):
            raise HTTPException(422, "status: open, accepted or rejected")
        result = reviews.list_disputes(s, user, status=status, limit=200, offset=0)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc) from exc
    context = {"me": sess, "rows": result["data"], "count": result["count"], "status": status or ""}
    return page(request, "disputes.html", context)


# ------------------------------------------------------------------------------------------------------ exports


def _export_args(request: Request) -> dict[str, Any]:
    """agent_id, team, start, end from the query string, validated as the API validates them (422 otherwise)."""
    q = request.query_params
    try:
        return {
            "agent_id": _agent.validate_python(q.get("agent_id") or None),
            "team": _team.validate_python(q.get("team") or None),
            "start": _day.validate_python(q.get("start") or None),
            "end": _day.validate_python(q.get("end") or None),
        }
    except ValidationError as exc:
        raise HTTPException(422, "; ".join(f"{e['loc'][-1] if e['loc'] else 'value'}: {e['msg']}" for e in
                                           exc.errors()) or "bad filter") from None  # fmt: skip


@router.get("/ui/exports")
def exports_page(request: Request):
    """A period's evaluations as files (HR, supervisors, admins): the API's exports, same scope and audit rows."""
    sess = signed_in(request)
    if sess is None:
        return _to_login()
    try:
        require("exports:read")(sess.user)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc) from exc
    return page(request, "exports.html", {"me": sess})


@router.get("/ui/exports/evaluations.{fmt}")
def export_file(fmt: str, request: Request, s: SessionDep):
    sess = signed_in(request)
    if sess is None:
        return _to_login()
    try:
        user = require("exports:read")(sess.user)
        if fmt not in ("csv", "xlsx", "pdf"):
            raise HTTPException(404, "export formats: csv, xlsx, pdf")
        args = _export_args(request)
        if fmt == "pdf":
            period = request.query_params.get("period") or "week"
            if period not in ("week", "month"):
                raise HTTPException(422, "period: week or month")
            return reports.export_report(s, user, request, period=period, **args)
        return reports.export_evaluations(fmt, request, s, user, **args)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc, "/ui/exports") from exc
