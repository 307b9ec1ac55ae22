"""The review console in-process (TestClient) and in a real browser (Debian's Chromium driven by playwright): sign-in,
CSRF, cookie flags, what each role sees (the API's cut), the list's filters, overrides, disputes, seeking from
evidence. Transcript text is compared, never printed."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from conftest import SAMPLES
from fastapi.testclient import TestClient
from storekit import load, variant

from api.main import Settings, create_app
from qa.store import open_store
from qa.store.users import add_user

pytestmark = pytest.mark.slow  # the calls are the sample recordings processed for real (session fixture)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROLES = ("admin", "reviewer", "supervisor", "hr", "agent")


@pytest.fixture
def console(sample_docs, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'qa.db'}")
    docs = [
        variant(sample_docs["pothole_report"], 0, "A1", "east", "2026-10-26T09:00:00"),
        variant(sample_docs["angry_caller"], 1, "A1", "east", "2026-10-28T15:30:00"),
        variant(sample_docs["status_followup"], 2, "A2", "west", "2026-11-04T10:00:00"),
    ]
    ids = load(store, docs)
    audio = tmp_path / "pothole.flac"
    shutil.copy(SAMPLES / "pothole_report.flac", audio)
    from qa.store.models import Call

    with store.session() as s:
        s.get(Call, ids[0]).audio_path = str(audio)
    links = {"agent": {"agent_id": "A1"}, "supervisor": {"team": "east"}}
    keys = {r: add_user(store, f"u-{r}", r, **links.get(r, {})) for r in ROLES}
    keys["agent2"] = add_user(store, "u-agent2", "agent", agent_id="A2")
    app = create_app(store, Settings(data_dir=tmp_path / "data", worker=False))
    yield app, store, keys, ids, docs
    store.engine.dispose()


def csrf_of(text: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', text).group(1)


def sign_in(client: TestClient, key: str):
    client.cookies.clear()
    form = client.get("/login")
    return client.post("/login", data={"key": key, "csrf": csrf_of(form.text)}, follow_redirects=False)


def api_json(app, key: str, path: str):
    r = TestClient(app).get(path, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.status_code
    return r.json()


def audit_actions(store) -> list[str]:
    from sqlalchemy import select

    from qa.store.models import AuditRow

    with store.session() as s:
        return list(s.scalars(select(AuditRow.action).order_by(AuditRow.id)))


def page_words(text: str) -> str:
    """The transcript words of a call page, as one text (html entities decoded)."""
    return " ".join(html.unescape(w) for w in re.findall(r'<span class="w"[^>]*>([^<]*)</span>', text))


# ------------------------------------------------------------------------------------------------ sign-in, CSRF


def test_sign_in_needs_csrf_sets_a_strict_cookie_and_signs_out(console):
    app, store, keys, ids, docs = console
    c = TestClient(app)
    assert c.get("/", follow_redirects=False).headers["location"] == "/login"
    form = c.get("/login")
    assert form.status_code == 200 and 'name="key"' in form.text and "content-security-policy" in form.headers
    refused = c.post("/login", data={"key": keys["reviewer"]}, follow_redirects=False)  # no CSRF token
    assert refused.status_code == 403 and "qa_session" not in refused.headers.get("set-cookie", "")
    bad = c.post("/login", data={"key": "cqa_wrong", "csrf": csrf_of(refused.text)}, follow_redirects=False)
    assert bad.status_code == 401 and "qa_session" not in bad.headers.get("set-cookie", "")

    ok = sign_in(c, keys["reviewer"])
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    cookie = next(h for h in ok.headers.get_list("set-cookie") if h.startswith("qa_session="))
    flags = {p.strip().split("=")[0].lower(): p for p in cookie.split(";")}
    assert "httponly" in flags and flags["samesite"].lower().endswith("strict") and int(flags["max-age"][9:]) > 0
    assert keys["reviewer"] not in cookie and keys["reviewer"] not in ok.headers.get("location", "")
    home = c.get("/")
    assert home.status_code == 200 and "u-reviewer" in home.text and keys["reviewer"] not in home.text
    session = c.cookies.get("qa_session")

    assert c.post("/logout", data={}, follow_redirects=False).status_code == 403  # no CSRF: still signed in
    assert c.get("/").status_code == 200
    out = c.post("/logout", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    replay = TestClient(app)
    replay.cookies.set("qa_session", session)  # the old cookie no longer opens a page
    assert replay.get("/", follow_redirects=False).status_code == 303
    tampered = TestClient(app)
    tampered.cookies.set("qa_session", session[:-1] + ("0" if session[-1] != "0" else "1"))
    assert tampered.get("/", follow_redirects=False).status_code == 303
    assert audit_actions(store)[-2:] == ["console.signin", "console.signout"]
    secret = app.state.settings.data_dir / "console-secret"
    assert secret.stat().st_mode & 0o777 == 0o600 and not list(secret.parent.glob(".console-secret.*"))
    long = c.post("/login", data={"key": "x" * 5000, "csrf": csrf_of(c.get("/login").text)}, follow_redirects=False)
    assert long.status_code == 401 and "x" * 50 not in long.text


def test_a_rotated_or_disabled_key_ends_the_session(console):
    app, store, keys, ids, docs = console
    from qa.store.users import set_active

    c = TestClient(app)
    sign_in(c, keys["hr"])
    assert c.get("/").status_code == 200
    set_active(store, "u-hr", False)
    assert c.get("/", follow_redirects=False).status_code == 303


# ------------------------------------------------------------------------------------------------ role cuts


def test_each_role_sees_what_its_api_view_allows(console):
    app, store, keys, ids, docs = console
    c = TestClient(app)
    name = next(e["value"] for e in docs[0]["entities"] if e["type"] == "PERSON").lower()
    pages = {}
    for role in ROLES:
        assert sign_in(c, keys[role]).status_code == 303
        pages[role] = c.get(f"/ui/calls/{ids[0]}")
        assert pages[role].status_code == 200, role
        if role in ("admin", "reviewer", "supervisor", "agent"):  # the page's words are the API view's turn text
            view = api_json(app, keys[role], f"/calls/{ids[0]}")
            assert page_words(pages[role].text) == " ".join(t["text"] for t in view["turns"]), role
    assert name in page_words(pages["reviewer"].text).lower()
    for role in ("supervisor", "agent"):
        text = pages[role].text.lower()
        assert name not in text and "[person]" in text, role
    assert "Entities (" in pages["reviewer"].text and "Entities (" in pages["supervisor"].text
    hr = pages["hr"].text.lower()
    assert 'class="w"' not in hr and "<audio" not in hr and "springfield" not in hr and name not in hr
    assert "no-transcript" in hr and "greeting" in hr  # the evaluation's answers, without quotes
    assert 'id="timeline"' in pages["reviewer"].text and 'id="timeline"' not in hr and "talk share" in hr
    sign_in(c, keys["hr"])
    assert c.get(f"/ui/calls/{ids[0]}/audio").status_code == 403
    assert "Words" not in c.get("/").text  # no transcript search for HR
    searched = c.get("/", params={"q": "springfield"})
    assert searched.status_code == 422 and searched.text.count("does not read transcripts") == 1

    sign_in(c, keys["agent"])  # A1: own calls only; another agent's call is a 404 like a missing one
    listed = c.get("/").text
    assert ids[0] in listed and ids[1] in listed and ids[2] not in listed
    assert c.get(f"/ui/calls/{ids[2]}").status_code == 404
    assert c.get("/ui/calls/0000000000000000").status_code == 404
    assert "No released evaluation" in c.get(f"/ui/calls/{ids[0]}").text  # a draft is not shown to the agent
    sign_in(c, keys["supervisor"])  # team east: the west call is not there
    assert ids[2] not in c.get("/").text and c.get(f"/ui/calls/{ids[2]}").status_code == 404
    assert c.get(f"/ui/calls/{ids[2]}/audio").status_code == 404


def test_audio_through_the_session_supports_ranges_and_is_audited(console):
    app, store, keys, ids, docs = console
    c = TestClient(app)
    assert c.get(f"/ui/calls/{ids[0]}/audio").status_code == 401
    sign_in(c, keys["reviewer"])
    full = c.get(f"/ui/calls/{ids[0]}/audio")
    part = c.get(f"/ui/calls/{ids[0]}/audio", headers={"Range": "bytes=100-199"})
    assert full.status_code == 200 and part.status_code == 206 and part.content == full.content[100:200]
    assert c.get(f"/ui/calls/{ids[1]}/audio").status_code == 404  # no recording stored
    assert audit_actions(store).count("call.audio") == 2


# ------------------------------------------------------------------------------------------------ list filters


def test_exports_page_gives_the_apis_files_to_hr_and_nothing_to_agents(console):
    app, store, keys, ids, docs = console
    client = TestClient(app)
    sign_in(client, keys["hr"])
    assert client.get("/ui/exports").status_code == 200
    r = client.get("/ui/exports/evaluations.csv", params={"team": "east", "start": "2026-10-01", "end": "2026-12-31"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = r.content.decode("utf-8-sig").splitlines()
    assert rows[0].startswith("call_id,") and ",state," in rows[0] and len(rows) == 3  # the two east calls
    text = r.content.decode("utf-8-sig").lower()
    said = [t["text"].lower() for d in docs for t in d["turns"] if len(t["text"].split()) >= 4]
    assert said and not [t for t in said if t in text]  # no transcript text in HR's file
    x = client.get("/ui/exports/evaluations.xlsx", params={"team": "east"})
    assert x.status_code == 200 and x.content[:2] == b"PK"
    pdf = client.get("/ui/exports/evaluations.pdf", params={"team": "east", "period": "month"})
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"
    assert client.get("/ui/exports/evaluations.csv", params={"start": "not a day"}).status_code == 422
    assert client.get("/ui/exports/evaluations.doc").status_code == 404
    assert audit_actions(store).count("export") == 3  # every file is an audit row, as through the API
    sign_in(client, keys["agent"])
    assert client.get("/ui/exports").status_code == 403
    assert client.get("/ui/exports/evaluations.csv").status_code == 403


def test_call_list_filters_and_pages(console, monkeypatch):
    app, store, keys, ids, docs = console
    c = TestClient(app)
    sign_in(c, keys["admin"])

    def listed(**params) -> set[str]:
        r = c.get("/", params=params)
        assert r.status_code == 200
        return {i for i in ids if f"/ui/calls/{i}" in r.text}

    assert listed() == set(ids)
    assert listed(agent="A1") == set(ids[:2]) and listed(team="west") == {ids[2]}
    assert listed(**{"from": "2026-10-28", "to": "2026-11-04"}) == set(ids[1:])  # "to" includes that day
    assert listed(request_type=docs[0]["request_type"]["label"]) >= {ids[0]}
    text = {i: " ".join(t["text"] for t in d["turns"]).lower() for i, d in zip(ids, docs, strict=True)}
    said = {i for i in ids if "springfield" in text[i]}
    assert listed(q="Springfield") == said and listed(q="no-such-words-here") == set()
    failed, passed = listed(failed="yes"), listed(failed="no")
    assert failed | passed == set(ids) and not failed & passed
    assert listed(needs_review="yes") | listed(needs_review="no") == set(ids)
    assert listed(emergency="no") | listed(emergency="yes") == set(ids)
    assert listed(min_score="0", max_score="100") == set(ids)
    bad = c.get("/", params={"min_score": "200"})
    assert bad.status_code == 422 and "a percent from 0 to 100" in bad.text
    monkeypatch.setattr("api.console.pages.PAGE_SIZE", 2)
    first, second = c.get("/", params={"agent": ""}).text, c.get("/", params={"page": 2}).text
    assert "page 1 of 2" in first and 'href="/?agent=&amp;page=2"' not in first and "page=2" in first
    assert len({i for i in ids if i in first}) == 2 and len({i for i in ids if i in second}) == 1
    monkeypatch.setattr("api.routes.calls.COUNT_MORE", 0)  # a word search that stops counting: "N+", a next page
    words = c.get("/", params={"q": "thank"}).text
    assert "2+ calls · page 1" in words and "page=2" in words and "of 2" not in words


# ------------------------------------------------------------------------------------------------ forms


def test_override_needs_csrf_and_goes_through_the_api_handler(console):
    app, store, keys, ids, docs = console
    c = TestClient(app)
    sign_in(c, keys["reviewer"])
    page = c.get(f"/ui/calls/{ids[0]}").text
    item = next(it for it in docs[0]["evaluation"]["items"] if it["answer"] == "yes")["id"]
    url = f"/ui/calls/{ids[0]}/items/{item}/override"
    assert c.post(url, data={"answer": "no", "comment": "not heard"}, follow_redirects=False).status_code == 403
    forged = c.post(url, data={"answer": "no", "comment": "x", "csrf": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
    empty = c.post(url, data={"answer": "no", "comment": "", "csrf": csrf_of(page)}, follow_redirects=False)
    assert empty.status_code == 422 and "comment" in empty.text
    assert "evaluation.override" not in audit_actions(store)
    ok = c.post(url, data={"answer": "no", "comment": "not heard", "csrf": csrf_of(page)}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].endswith(f"#item-{item}")
    ev = api_json(app, keys["reviewer"], f"/calls/{ids[0]}/evaluation")
    it = {i["id"]: i for i in ev["items"]}[item]
    assert it["answer"] == "no" and it["automatic_answer"] == "yes" and it["override"]["comment"] == "not heard"
    assert audit_actions(store).count("evaluation.override") == 1
    assert "not heard" in c.get(f"/ui/calls/{ids[0]}").text
    data = {"answer": "no", "comment": "x", "csrf": csrf_of(page)}
    missing = c.post(f"/ui/calls/{ids[0]}/items/nope/override", data=data)
    assert missing.status_code == 404 and "not on scorecard" in missing.text

    for role in ("hr", "agent", "supervisor"):  # the API's table: only admins and reviewers override
        sign_in(c, keys[role])
        token = csrf_of(c.get("/").text)
        r = c.post(url, data={"answer": "yes", "comment": "x", "csrf": token}, follow_redirects=False)
        assert r.status_code == 403, role


def test_a_reviewer_confirms_the_agent_speaker_on_the_call_page(console):
    app, store, keys, ids, docs = console
    c = TestClient(app)
    sign_in(c, keys["reviewer"])
    page = c.get(f"/ui/calls/{ids[0]}").text
    assert 'id="roles-form"' in page and "Not confirmed yet" in page
    agent = next(r["speaker"] for r in docs[0]["speakers"]["roles"] if r["role"] == "agent")
    url = f"/ui/calls/{ids[0]}/roles"
    assert c.post(url, data={"agent_speaker": agent}, follow_redirects=False).status_code == 403  # no CSRF token
    bad = c.post(url, data={"agent_speaker": "spk7", "csrf": csrf_of(page)}, follow_redirects=False)
    assert bad.status_code == 422 and "no speaker" in bad.text
    assert "call.roles_confirm" not in audit_actions(store)
    ok = c.post(url, data={"agent_speaker": agent, "csrf": csrf_of(page)}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].endswith("#h-transcript")
    assert f"Confirmed: {agent} is the agent." in c.get(f"/ui/calls/{ids[0]}").text
    assert audit_actions(store).count("call.roles_confirm") == 1
    for role in ("hr", "agent"):  # no form, and the post is refused
        sign_in(c, keys[role])
        assert 'id="roles-form"' not in c.get(f"/ui/calls/{ids[0]}").text
        r = c.post(url, data={"agent_speaker": agent, "csrf": csrf_of(c.get("/").text)}, follow_redirects=False)
        assert r.status_code == 403, role


def test_agent_acknowledges_and_disputes_with_the_api_lifecycle(console):
    app, store, keys, ids, docs = console
    api = TestClient(app)
    for cid in ids[:2]:
        r = api.post(f"/calls/{cid}/evaluation/release", headers={"Authorization": f"Bearer {keys['reviewer']}"})
        assert r.status_code == 200
    c = TestClient(app)
    sign_in(c, keys["agent"])
    page = c.get(f"/ui/calls/{ids[0]}").text
    assert "Acknowledge this evaluation" in page and "File dispute" in page
    item = docs[0]["evaluation"]["items"][0]["id"]
    url = f"/ui/calls/{ids[0]}/items/{item}/dispute"
    assert c.post(url, data={"reason": "I did greet"}, follow_redirects=False).status_code == 403  # no CSRF
    r = c.post(url, data={"reason": "I did greet", "csrf": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 303
    disputes = api_json(app, keys["agent"], "/disputes")["data"]
    assert [(d["call_id"], d["item_id"], d["status"]) for d in disputes] == [(ids[0], item, "open")]
    again = c.post(url, data={"reason": "once more", "csrf": csrf_of(page)}, follow_redirects=False)
    assert again.status_code == 409  # the API's lifecycle: one dispute per item
    assert "dispute open" in c.get(f"/ui/calls/{ids[0]}").text

    page = c.get(f"/ui/calls/{ids[1]}").text
    r = c.post(f"/ui/calls/{ids[1]}/acknowledge", data={"csrf": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 303
    assert api_json(app, keys["agent"], f"/calls/{ids[1]}/evaluation")["lifecycle"]["state"] == "acknowledged"
    assert {"dispute.create", "evaluation.acknowledge"} <= set(audit_actions(store))
    sign_in(c, keys["agent2"])  # another agent: the call does not exist for them, nor its dispute
    token = csrf_of(c.get("/").text)
    assert c.post(url, data={"reason": "x", "csrf": token}, follow_redirects=False).status_code == 404
    assert "0 disputes" in c.get("/ui/disputes").text

    sign_in(c, keys["supervisor"])  # team east: resolves it from the call page, through the API's handler
    listed = c.get("/ui/disputes", params={"status": "open"}).text
    assert "1 dispute" in listed and f"/ui/calls/{ids[0]}#item-{item}" in listed and "I did greet" in listed
    page = c.get(f"/ui/calls/{ids[0]}").text
    dispute_id = disputes[0]["id"]
    assert f"Resolve dispute {dispute_id}" in page
    form = {"call_id": ids[0], "status": "accepted", "answer": "no", "reason": "heard it again"}
    url = f"/ui/disputes/{dispute_id}/resolve"
    assert c.post(url, data=form, follow_redirects=False).status_code == 403  # no CSRF
    r = c.post(url, data={**form, "csrf": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/ui/calls/{ids[0]}"
    assert api_json(app, keys["agent"], "/disputes")["data"][0]["status"] == "accepted"
    ev = api_json(app, keys["agent"], f"/calls/{ids[0]}/evaluation")
    assert {i["id"]: i["answer"] for i in ev["items"]}[item] == "no"
    assert c.post(url, data={**form, "csrf": csrf_of(page)}).status_code == 409  # already resolved
    assert "dispute.resolve" in audit_actions(store)
    sign_in(c, keys["reviewer"])  # reviewers may not resolve (the API's table)
    assert c.post(url, data={**form, "csrf": csrf_of(c.get("/").text)}).status_code == 403


# ------------------------------------------------------------------------------------------------ real browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(console):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium; .ci/run does it)")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (pip install .[test])")
    import uvicorn

    app = console[0]
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", console
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser_page(server, request):
    """A page in a fresh Chromium context, with a list that collects console errors and page errors. Tests marked
    ``bypass_csp`` get a context that lets playwright's own scripts (wait_for_function) past the pages' CSP; the
    others run under the CSP as served, so a violation shows up as a console error."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        bypass = request.node.get_closest_marker("bypass_csp") is not None
        context = browser.new_context(viewport={"width": 1360, "height": 900}, bypass_csp=bypass)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.set_default_timeout(15_000)
        yield page, server, problems
        context.close()
        browser.close()


def _shots(tmp_path: Path) -> Path:
    """Screenshots go to CALLQA_SCREENSHOTS when set (docs/screenshots for the README), else to the test's folder."""
    folder = Path(os.environ.get("CALLQA_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _browser_sign_in(page, base: str, key: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=key]", key)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


@pytest.mark.bypass_csp
def test_browser_reviewer_filters_seeks_from_evidence_and_overrides(browser_page, tmp_path):
    page, (base, (app, store, keys, ids, docs)), problems = browser_page
    shots = _shots(tmp_path)
    page.goto(base + "/login")
    page.screenshot(path=str(shots / "login.png"))
    _browser_sign_in(page, base, keys["reviewer"])
    assert keys["reviewer"] not in page.url
    page.fill("input[name=agent]", "A1")
    page.click(".filters button[type=submit]")
    page.wait_for_url(re.compile(r".*agent=A1.*"))
    assert page.text_content("#count").startswith("2 calls")
    page.screenshot(path=str(shots / "calls.png"), full_page=True)

    page.click(f"a[href='/ui/calls/{ids[0]}']")
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    evidence = page.locator(".evidence button.seek").filter(has_not_text="0:00")
    target = float(evidence.first.get_attribute("data-seek"))
    assert target > 1
    evidence.first.click()
    page.wait_for_function(f"Math.abs(document.getElementById('player').currentTime - {target}) < 0.6")
    page.evaluate("document.getElementById('player').pause()")
    word = page.locator(".transcript .w").nth(30)
    at = float(word.get_attribute("data-s"))
    word.click()
    page.wait_for_function(f"Math.abs(document.getElementById('player').currentTime - {at}) < 0.6")
    page.evaluate("document.getElementById('player').pause()")
    page.wait_for_selector(".transcript .w.now")  # the word under the playhead is highlighted
    page.screenshot(path=str(shots / "call.png"), full_page=True)

    item = next(it for it in docs[0]["evaluation"]["items"] if it["answer"] == "yes")["id"]
    box = page.locator(f"#item-{item}")
    box.locator("summary", has_text="Override").click()
    box.locator("select[name=answer]").select_option("no")
    box.locator("textarea[name=comment]").fill("greeting not heard")
    box.locator("button", has_text="Save override").click()
    page.wait_for_url(re.compile(rf".*/ui/calls/{ids[0]}#item-{item}$"))
    assert "greeting not heard" in page.locator(f"#item-{item}").inner_text()
    ev = api_json(app, keys["reviewer"], f"/calls/{ids[0]}/evaluation")
    assert {i["id"]: i["answer"] for i in ev["items"]}[item] == "no"
    page.click("text=Sign out")
    page.wait_for_url(base + "/login")
    assert problems == [], json.dumps(problems)


def test_browser_hr_and_agent_pages(browser_page, tmp_path):
    page, (base, (app, store, keys, ids, docs)), problems = browser_page
    _browser_sign_in(page, base, keys["hr"])
    page.goto(f"{base}/ui/calls/{ids[0]}")
    assert page.locator("audio").count() == 0 and page.locator(".transcript").count() == 0
    page.click("text=Sign out")
    TestClient(app).post(f"/calls/{ids[0]}/evaluation/release", headers={"Authorization": f"Bearer {keys['admin']}"})
    _browser_sign_in(page, base, keys["agent"])
    page.goto(f"{base}/ui/calls/{ids[0]}")
    item = docs[0]["evaluation"]["items"][0]["id"]
    box = page.locator(f"#item-{item}")
    box.locator("summary", has_text="Dispute").click()
    box.locator("textarea[name=reason]").fill("I did greet the caller")
    box.locator("button", has_text="File dispute").click()
    page.wait_for_selector(f"#item-{item} >> text=dispute open")
    page.goto(f"{base}/ui/calls/{ids[0]}")  # from the top, for the screenshot
    page.screenshot(path=str(_shots(tmp_path) / "agent-call.png"), full_page=True)
    page.click("text=Sign out")

    # the supervisor finds it in the dispute list and resolves it on the call page
    _browser_sign_in(page, base, keys["supervisor"])
    page.goto(f"{base}/ui/disputes?status=open")
    page.click(f"a[href='/ui/calls/{ids[0]}#item-{item}']")
    box = page.locator(f"#item-{item}")
    box.locator("summary", has_text="Resolve dispute").click()
    box.locator("select[name=status]").select_option("rejected")
    box.locator("textarea[name=reason]").fill("greeting not heard in the recording")
    box.locator("button", has_text="Resolve").click()
    page.wait_for_selector(f"#item-{item} >> text=rejected")
    assert [d["status"] for d in api_json(app, keys["admin"], "/disputes")["data"]] == ["rejected"]
    page.click("text=Sign out")

    # HR downloads a period's evaluations as CSV from the exports page
    _browser_sign_in(page, base, keys["hr"])
    page.goto(f"{base}/ui/exports")
    with page.expect_download() as got:
        page.click("button[formaction='/ui/exports/evaluations.csv']")
    rows = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text(encoding="utf-8-sig"))))
    assert rows and {r["call_id"] for r in rows} <= set(ids) and not any("turns" in k for k in rows[0])
    assert problems == [], json.dumps(problems)


# ------------------------------------------------------------------------------------------------ sorting, queue


def test_call_list_sorts_stably_by_date_score_and_length(console):
    app, store, keys, ids, docs = console
    c = TestClient(app)
    sign_in(c, keys["admin"])

    def order(sort: str) -> list[str]:
        r = c.get("/", params={"sort": sort})
        assert r.status_code == 200
        return re.findall(r'<td><a href="/ui/calls/([0-9a-f]+)">', r.text)

    for sort in ("started_at", "-started_at", "percent", "-percent", "duration_s", "-duration_s"):
        api = [row["id"] for row in api_json(app, keys["admin"], f"/calls?sort={sort}")["data"]]
        assert order(sort) == api and sorted(api) == sorted(ids), sort
        assert order(sort) == order(sort)  # stable
    assert order("started_at") == ids and order("-started_at") == ids[::-1]
    percents = {row["id"]: row["percent"] for row in api_json(app, keys["admin"], "/calls")["data"]}
    assert [percents[i] for i in order("percent")] == sorted(percents[i] for i in ids)
    page = c.get("/", params={"sort": "percent", "agent": "A1"}).text
    assert 'aria-sort="ascending"' in page and page.count("aria-sort=") == 1
    assert 'href="/?agent=A1&amp;sort=-percent"' in page  # the sorted column's link sorts the other way, filters kept
    assert 'name="sort" value="percent"' in page  # the filter form keeps the order
    bad = c.get("/", params={"sort": "agent_id"})
    assert bad.status_code == 422 and bad.text.count("sort: one of") == 1
    api_bad = TestClient(app).get("/calls?sort=agent_id", headers={"Authorization": f"Bearer {keys['admin']}"})
    assert api_bad.status_code == 422

    # an agent sorting by score: a draft's score sorts as empty, so the order says nothing about it
    TestClient(app).post(f"/calls/{ids[1]}/evaluation/release", headers={"Authorization": f"Bearer {keys['admin']}"})
    sign_in(c, keys["agent"])
    assert order("percent")[0] == ids[1] and order("-percent")[0] == ids[1]


def test_queue_needs_review_disputes_and_a_weekly_sample_that_reloads_the_same(console):
    app, store, keys, ids, docs = console
    c = TestClient(app)
    sign_in(c, keys["reviewer"])
    first = c.get("/queue")
    assert first.status_code == 200 and "week 2026-W45" in first.text  # the week of the latest call
    assert 'href="/queue"' in first.text

    def sampled(**params) -> list[str]:
        r = c.get("/queue", params=params)
        assert r.status_code == 200, r.text[:300]
        table = r.text.split('id="sample-table"')[1].split("</table>")[0]
        return re.findall(r'href="/ui/calls/([0-9a-f]+)"', table)

    assert sampled(week="2026-W44", n=2) == ids[:2]  # A1's two calls that week
    one = sampled(week="2026-W44", n=1)
    assert len(one) == 1 and one[0] in ids[:2] and all(sampled(week="2026-W44", n=1) == one for _ in range(3))
    assert sampled(week="2026-W44") == ids[:2]  # the server's default: 2 per agent
    assert sampled(week="2026-W45", n=5) == [ids[2]] and sampled(week="2026-W40") == []
    api = api_json(app, keys["reviewer"], "/review-sample?week=2026-W44&per_agent=1")
    assert [r["id"] for r in api["data"]] == one and api["week"] == "2026-W44"
    needs = {i for i in ids if api_json(app, keys["admin"], f"/calls/{i}")["needs_review"]}
    table = c.get("/queue").text.split('id="needs-review"')[1].split("</section>")[0]
    assert {i for i in ids if i in table} == needs
    for bad, word in (({"week": "2026-45"}, "week:"), ({"week": "2026-W60"}, "week:"), ({"n": "x"}, "n:")):
        r = c.get("/queue", params=bad)
        assert r.status_code == 422 and r.text.count(word) >= 1, bad
    sign_in(c, keys["supervisor"])  # team east: the west agent's calls are not drawn
    assert sampled(week="2026-W45") == [] and sampled(week="2026-W44", n=2) == ids[:2]
    for role in ("agent", "hr"):
        sign_in(c, keys[role])
        assert c.get("/queue").status_code == 403 and 'href="/queue"' not in c.get("/").text


# ------------------------------------------------------------------------------------------------ call page


def test_call_page_sentiment_curve_and_silences(console):
    app, store, keys, ids, docs = console
    from api.console.charts import silences

    turns = [{"start": 0.0, "end": 2.0}, {"start": 1.5, "end": 4.0}, {"start": 9.0, "end": 10.0}]
    assert silences(turns, 20.0, []) == [(4.0, 9.0), (10.0, 20.0)]
    assert silences(turns, 20.0, [(4.5, 8.5), (10.0, 19.0)]) == []  # a hold is no silence; 4.0-4.5 is too short
    assert silences([{"start": 2.0, "end": 3.0}], 3.0, []) == [(0.0, 2.0)]

    c = TestClient(app)
    sign_in(c, keys["reviewer"])
    page = c.get(f"/ui/calls/{ids[1]}").text  # the angry caller (no recording on this server: no player)
    assert "<audio" not in page and 'id="no-recording"' in page and 'class="seek"' not in page
    points = docs[1]["sentiment"]["turns"]
    assert 'id="sentiment-curve"' in page and 'role="img"' in page and 'aria-labelledby="curve-caption"' in page
    assert page.count('<circle class="dot') == len(points) and "caller: started" in page and "(by turn)" not in page
    lowest = min(p["score"] for p in points if p["role"] == "caller")
    assert f"lowest {lowest:+.2f} at " in page
    assert page.count('class="silence"') == len(re.findall(r"<title>silence ", page))
    sign_in(c, keys["hr"])  # HR: the same curve over the turn order, no turn times
    hr = c.get(f"/ui/calls/{ids[1]}").text
    assert 'id="sentiment-curve"' in hr and "(by turn)" in hr and "data-seek" not in hr and 'class="w"' not in hr


# ------------------------------------------------------------------------------------------------ dashboard, coaching


def test_dashboard_per_agent_weeks_days_and_rising_types_team_scoped(console):
    app, store, keys, ids, docs = console
    c = TestClient(app)
    sign_in(c, keys["admin"])
    r = c.get("/dashboard", params={"week": "2026-W45"})
    assert r.status_code == 200
    api = api_json(app, keys["admin"], "/trends/dashboard?week=2026-W45")
    assert api["weeks"][-2:] == ["2026-W44", "2026-W45"] and len(api["weeks"]) == 8
    a1 = api["agents"]["A1"]["2026-W44"]
    percents = [api_json(app, keys["admin"], f"/calls/{i}")["percent"] for i in ids[:2]]
    assert a1["calls"] == 2 and a1["average_percent"] == pytest.approx(sum(percents) / 2, abs=0.01)
    assert set(api["agents"]) == {"A1", "A2"} and "2026-W44" not in api["agents"]["A2"]
    assert [d["calls"] for d in api["days"]] == [0, 0, 1, 0, 0, 0, 0]  # Wednesday 4 November
    assert api["days"][2]["handle_s"] == pytest.approx(docs[2]["audio"]["duration_s"], abs=0.1)
    rising = {x["request_type"]: x for x in api["rising"]}
    new = docs[2]["request_type"]["label"]
    assert rising[new]["this_week"] == 1 and rising[new]["rising"] is True
    for chart in ("score-chart", "pass-chart", "days-chart"):
        assert f'<svg id="{chart}"' in r.text and f'aria-labelledby="{chart.replace("-chart", "")}' in r.text
    assert 'id="agent-table"' in r.text and f"{a1['average_percent']:.0f}%" in r.text  # the table fallback
    assert r.text.count("<circle") == 4  # one point per agent-week in each chart (a lone week has no line)
    assert "style=" not in r.text  # the CSP allows no inline style
    assert c.get("/dashboard", params={"week": "W45"}).status_code == 422
    assert c.get("/dashboard", params={"team": "bell\x07"}).status_code == 422
    assert c.get("/dashboard").status_code == 200  # the week of the latest call

    sign_in(c, keys["supervisor"])  # team east: A2 (west) is not on it, whatever the team asked for
    page = c.get("/dashboard", params={"week": "2026-W45"}).text
    assert 'href="/?agent=A1"' in page and 'href="/?agent=A2"' not in page and 'name="team"' not in page
    west = c.get("/dashboard", params={"week": "2026-W45", "team": "west"}).text
    assert "?agent=A" not in west and "No evaluated calls" in west
    own = api_json(app, keys["supervisor"], "/trends/dashboard?week=2026-W45")
    assert set(own["agents"]) == {"A1"} and own["team"] == "east" and sum(d["calls"] for d in own["days"]) == 0
    for role in ("agent", "hr", "reviewer"):
        sign_in(c, keys[role])
        assert c.get("/dashboard").status_code == 403, role
        assert 'href="/dashboard"' not in c.get("/").text


def test_an_agent_sees_their_own_released_scores_by_week_and_others_only_in_scope(console):
    """/ui/scores: the numbers of `GET /trends` for the agent (released evaluations only for agents), a chart with a
    table of the same numbers, the weakest items and example calls; an agent cannot open another agent's; a
    supervisor opens the agents of their team and finds nothing for another team's."""
    app, store, keys, ids, docs = console
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    c = TestClient(app)
    sign_in(c, keys["agent"])
    before = c.get("/ui/scores", params={"week": "2026-W45"})
    assert before.status_code == 200 and "My scores" in before.text and ">My scores</a>" in before.text
    assert "No evaluated calls in these weeks." in before.text  # nothing released yet: drafts do not count
    assert TestClient(app).post(f"/calls/{ids[0]}/evaluation/release", headers=admin).status_code == 200
    mine = c.get("/ui/scores", params={"week": "2026-W45", "agent": "A2"}).text  # the agent param is ignored
    api = api_json(app, keys["agent"], "/trends?period=week&start=2026-08-24&end=2026-11-08")
    (w44,) = [b for b in api["buckets"] if b["period"] == "2026-W44"]
    assert w44["calls"] == 1 and f"{w44['average_percent']:.0f}%" in mine and ids[0] in mine
    assert ids[1] not in mine and ids[2] not in mine  # A1's draft, A2's call
    assert '<svg id="scores-chart"' in mine and 'aria-labelledby="scores-chart-caption"' in mine
    assert "style=" not in mine
    assert c.get("/ui/scores", params={"week": "nonsense"}).status_code == 422

    sign_in(c, keys["supervisor"])  # team east
    east = c.get("/ui/scores", params={"week": "2026-W45", "agent": "A1"}).text
    assert ids[0] in east and ids[1] in east  # a supervisor sees drafts too
    west = c.get("/ui/scores", params={"week": "2026-W45", "agent": "A2"}).text
    assert ids[2] not in west and "No evaluated calls in these weeks." in west
    assert "Name an agent" in c.get("/ui/scores").text
    assert "12 weeks to 2026-W44" in c.get("/ui/scores", params={"agent": "A1"}).text  # opens on A1's latest call
    assert c.get("/ui/scores", params={"agent": "x" * 101}).status_code == 422  # as the API's agent_id


def test_coaching_notes_from_the_dashboard_and_a_call_page(console):
    app, store, keys, ids, docs = console
    c = TestClient(app)
    sign_in(c, keys["supervisor"])
    dash = c.get("/dashboard").text
    form = {"agent_id": "A1", "note": "Greet by name", "follow_up_due": "2026-12-01", "back": "/dashboard"}
    assert c.post("/ui/coaching", data=form, follow_redirects=False).status_code == 403  # no CSRF
    r = c.post("/ui/coaching", data={**form, "csrf": csrf_of(dash)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/dashboard#coaching"
    other = c.post("/ui/coaching", data={**form, "agent_id": "A2", "csrf": csrf_of(dash)})  # team west
    assert other.status_code == 422 and "no agent 'A2'" in html.unescape(other.text)
    bad = c.post("/ui/coaching", data={**form, "follow_up_due": "soon", "csrf": csrf_of(dash)})
    assert bad.status_code == 422 and "follow_up_due" in bad.text
    evil = c.post("/ui/coaching", data={**form, "back": "https://evil.example", "csrf": csrf_of(dash)},
                  follow_redirects=False)  # fmt: skip
    assert evil.headers["location"] == "/ui/coaching#coaching"
    page = c.get(f"/ui/calls/{ids[1]}").text
    assert "Coaching about this call" in page
    r = c.post("/ui/coaching", data={"agent_id": "A1", "call_id": ids[1], "note": "Calmer tone", "back":
               f"/ui/calls/{ids[1]}", "csrf": csrf_of(page)}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == f"/ui/calls/{ids[1]}#coaching"
    assert "Calmer tone" in c.get(f"/ui/calls/{ids[1]}").text and "Greet by name" in c.get("/dashboard").text
    notes = api_json(app, keys["supervisor"], "/coaching")["data"]
    assert [(n["agent_id"], n["call_ids"]) for n in notes] == [("A1", [ids[1]]), ("A1", []), ("A1", [])]
    first = notes[-1]["id"]
    r = c.post(f"/ui/coaching/{first}", data={"status": "done", "back": "/ui/coaching", "csrf": csrf_of(page)},
               follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and api_json(app, keys["supervisor"], "/coaching?status=done")["count"] == 1
    assert c.post(f"/ui/coaching/{first}", data={"status": "later", "csrf": csrf_of(page)}).status_code == 422
    assert c.post("/ui/coaching/999", data={"status": "done", "csrf": csrf_of(page)}).status_code == 404
    assert audit_actions(store).count("coaching.create") == 3 and audit_actions(store).count("coaching.update") == 1

    sign_in(c, keys["agent"])  # A1 reads their notes, writes none
    mine = c.get("/ui/coaching").text
    assert "Greet by name" in mine and "Calmer tone" in mine and "New coaching note" not in mine
    assert "Calmer tone" in c.get(f"/ui/calls/{ids[1]}").text
    token = csrf_of(mine)
    assert c.post("/ui/coaching", data={**form, "csrf": token}).status_code == 403
    assert c.post(f"/ui/coaching/{first}", data={"status": "open", "csrf": token}).status_code == 403
    sign_in(c, keys["agent2"])
    assert "0 notes" in c.get("/ui/coaching").text
    sign_in(c, keys["hr"])
    assert c.get("/ui/coaching").status_code == 403


# ------------------------------------------------------------------------------------------------ calibration


def test_calibration_blind_answers_then_agreement_and_kappa(console):
    app, store, keys, ids, docs = console
    keys["reviewer2"] = add_user(store, "u-reviewer2", "reviewer")
    c = TestClient(app)
    sign_in(c, keys["supervisor"])
    page = c.get(f"/ui/calls/{ids[1]}").text
    assert "Start a calibration session" in page
    assert c.post(f"/ui/calls/{ids[1]}/calibrate", data={"name": "angry"}).status_code == 403  # no CSRF
    r = c.post(f"/ui/calls/{ids[1]}/calibrate", data={"name": "angry", "csrf": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    sid = int(url.rsplit("/", 1)[1])
    assert "No answers yet" in c.get(url).text  # supervisors run sessions: results at any time
    assert c.post(f"/ui/calls/{ids[2]}/calibrate", data={"name": "x", "csrf": csrf_of(page)}).status_code == 404

    auto = {i["id"]: i["answer"] for i in docs[1]["evaluation"]["items"]}
    mine = {k: (v if v in ("yes", "no", "na") else "na") for k, v in auto.items()}
    theirs = dict(mine)
    flip = next(iter(theirs))
    theirs[flip] = "no" if theirs[flip] == "yes" else "yes"
    for who, answers in (("reviewer", mine), ("reviewer2", theirs)):
        sign_in(c, keys[who])
        blind = c.get(url)
        assert blind.status_code == 200 and 'id="blind"' in blind.text and 'id="items-table"' not in blind.text
        assert "automatic" not in blind.text.lower().replace("the automatic answers and", "")  # only the notice
        assert page_words(blind.text)  # the transcript to answer from
        assert TestClient(app).get(f"/calibrations/{sid}", headers={"Authorization": f"Bearer {keys[who]}"}
                                   ).status_code == 409  # fmt: skip
        token = csrf_of(blind.text)
        form = {f"a-{k}": v for k, v in answers.items()}
        assert c.post(f"{url}/answers", data=form, follow_redirects=False).status_code == 403  # no CSRF
        assert c.post(f"{url}/answers", data={**form, f"a-{flip}": "maybe", "csrf": token}).status_code == 422
        assert c.post(f"{url}/answers", data={"a-nope": "yes", "csrf": token}).status_code == 422
        assert c.post(f"{url}/answers", data={"csrf": token}).status_code == 422
        ok = c.post(f"{url}/answers", data={**form, "csrf": token}, follow_redirects=False)
        assert ok.status_code == 303 and ok.headers["location"] == url
        shown = c.get(url).text
        assert 'id="items-table"' in shown and 'id="blind"' not in shown
    res = api_json(app, keys["admin"], f"/calibrations/{sid}")
    n = len(mine)
    assert res["overall"]["percent_agreement"] == pytest.approx(100 * (n - 1) / n, abs=0.01)
    assert f"{res['overall']['percent_agreement']:.0f}%" in shown
    kappa = res["pairs"][0]["kappa"]
    assert (f"{kappa:.2f}" if kappa is not None else "–") in shown.split('id="pairs-table"')[1]
    assert "u-reviewer2" in shown.split('id="auto-table"')[1]
    listed = c.get("/ui/calibrations").text
    assert f'href="/ui/calibrations/{sid}"' in listed and "answered" in listed
    assert audit_actions(store).count("calibration.create") == 1
    assert audit_actions(store).count("calibration.answer") == 2

    sign_in(c, keys["supervisor"])  # managers read, never answer
    assert c.post(f"{url}/answers", data={f"a-{flip}": "yes", "csrf": csrf_of(c.get("/").text)}).status_code == 403
    assert c.get("/ui/calibrations/999").status_code == 404
    keys["west"] = add_user(store, "u-sup-west", "supervisor", team="west")
    sign_in(c, keys["west"])  # another team's session does not exist for them
    assert "0 sessions" in c.get("/ui/calibrations").text and c.get(url).status_code == 404
    for role in ("agent", "hr"):
        sign_in(c, keys[role])
        assert c.get("/ui/calibrations").status_code == 403 and c.get(url).status_code == 403


@pytest.mark.bypass_csp
def test_browser_sort_queue_curve_dashboard_coaching_and_calibration(browser_page, tmp_path):
    page, (base, (app, store, keys, ids, docs)), problems = browser_page
    shots = _shots(tmp_path)
    _browser_sign_in(page, base, keys["reviewer"])
    # sorting from the keyboard: the Score heading's link, then again for the other direction
    page.focus("#sort-percent")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*sort=percent$"))
    assert page.get_attribute("th[aria-sort]", "aria-sort") == "ascending"
    page.click("#sort-percent")
    page.wait_for_url(re.compile(r".*sort=-percent$"))
    assert page.get_attribute("th[aria-sort]", "aria-sort") == "descending"
    api = [r["id"] for r in api_json(app, keys["reviewer"], "/calls?sort=-percent")["data"]]
    shown = [a.get_attribute("href").rsplit("/", 1)[1] for a in page.locator("#calls tbody a").all()]
    assert shown == api

    page.click("nav >> text=Queue")
    page.wait_for_url(base + "/queue")
    page.fill("input[name=week]", "2026-W44")
    page.fill("input[name=n]", "1")
    page.click("#sample button[type=submit]")
    page.wait_for_url(re.compile(r".*week=2026-W44.*"))
    first = page.locator("#sample-table tbody a").all_inner_texts()
    page.reload()
    assert page.locator("#sample-table tbody a").all_inner_texts() == first and len(first) == 1
    page.screenshot(path=str(shots / "queue.png"), full_page=True)

    # the sentiment curve: a caller's point plays the call from that turn
    page.goto(f"{base}/ui/calls/{ids[0]}")
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    dot = page.locator("#sentiment-curve circle.dot.caller").last
    at = float(dot.get_attribute("data-seek"))
    dot.dispatch_event("click")
    page.wait_for_function(f"Math.abs(document.getElementById('player').currentTime - {at}) < 0.6")
    page.evaluate("document.getElementById('player').pause()")
    assert page.locator("#curve-caption").inner_text().startswith("Sentiment over the call")

    # calibration: started by the supervisor, answered blind by the reviewer
    page.click("text=Sign out")
    _browser_sign_in(page, base, keys["supervisor"])
    page.goto(f"{base}/ui/calls/{ids[1]}")
    page.locator("summary", has_text="Start a calibration session").click()
    page.click("#calibrate button[type=submit]")
    page.wait_for_url(re.compile(r".*/ui/calibrations/\d+$"))
    session_url = page.url

    more = [  # a few weeks of team east for the dashboard: A1 and A3
        variant(docs[(w + k) % 3], 100 + 10 * w + k, agent, "east", day)
        for w, day in enumerate(
            ["2026-10-05T09:00", "2026-10-13T10:00", "2026-10-21T11:00", "2026-11-02T14:00", "2026-11-03T09:30"]
        )
        for k, agent in enumerate(("A1", "A3"))
    ]
    admin = TestClient(app)
    for n, cid in enumerate(load(store, more)):  # reviewers found some items missed: scores that differ
        for item in ("greeting", "empathy", "closing")[: n % 3 + (n % 2)]:
            r = admin.put(f"/calls/{cid}/evaluation/items/{item}", json={"answer": "no", "comment": "missed"},
                          headers={"Authorization": f"Bearer {keys['admin']}"})  # fmt: skip
            assert r.status_code == 200, r.text
    page.goto(base + "/dashboard?week=2026-W45")
    assert page.locator("#score-chart").get_attribute("role") == "img"
    assert page.locator("#agent-table tbody tr").count() == 3  # A1, A3 and the team row (team east)
    assert page.locator("#score-chart polyline").count() >= 1
    page.locator("#coaching summary", has_text="New coaching note").click()
    page.fill("#new-note input[name=agent_id]", "A1")
    page.fill("#new-note textarea[name=note]", "Confirm the address back to the caller")
    page.fill("#new-note input[name=follow_up_due]", "2026-11-20")
    page.click("#new-note button[type=submit]")
    page.wait_for_url(re.compile(r".*/dashboard#coaching$"))
    note = page.locator(".coach-note").first
    assert "Confirm the address" in note.inner_text()
    note.locator("summary", has_text="Follow up").click()
    note.locator("select[name=status]").select_option("in_progress")
    note.locator("button", has_text="Save").click()
    page.wait_for_selector(".coach-note .status-in_progress")
    page.goto(base + "/dashboard?week=2026-W45")
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    page.click("text=Sign out")

    _browser_sign_in(page, base, keys["agent"])  # the agent reads the note
    page.click("nav >> text=Coaching")
    assert "Confirm the address" in page.locator("#notes").inner_text()
    assert page.locator("#new-note").count() == 0
    TestClient(app).post(f"/calls/{more[-2]['call_id']}/evaluation/release",
                         headers={"Authorization": f"Bearer {keys['admin']}"})  # fmt: skip
    page.click("nav >> text=My scores")  # their own released scores, with the note
    page.fill("input[name=week]", "2026-W45")
    page.click(".filters button[type=submit]")
    page.wait_for_url(re.compile(r".*/ui/scores\?week=2026-W45$"))
    assert page.locator("#scores-chart").get_attribute("role") == "img"
    assert "Confirm the address" in page.locator("#score-notes").inner_text()
    page.screenshot(path=str(shots / "scores.png"), full_page=True)
    page.click("text=Sign out")

    _browser_sign_in(page, base, keys["reviewer"])
    page.goto(session_url)
    assert page.locator("#blind").count() == 1 and page.locator("#items-table").count() == 0
    for fieldset in page.locator("#calibration-form fieldset").all():
        fieldset.locator("input[value=yes]").check()
    page.click("#calibration-form button[type=submit]")
    page.wait_for_selector("#items-table")
    assert page.locator("#reviewers").inner_text() == "1"
    page.screenshot(path=str(shots / "calibration.png"), full_page=True)
    assert problems == [], json.dumps(problems)


def test_the_llm_summary_shows_on_the_call_page_but_never_for_hr(console):
    """A summary stored with the call (the LLM stage, qa/llm) is on the call page for roles that read transcripts,
    exactly as the API gives it; HR's page has none."""
    app, store, keys, ids, docs = console
    from qa.store.models import Call

    text = "The caller reported a pothole; the agent logged it and gave request number 241903."
    with store.session() as s:
        call = s.get(Call, ids[0])
        summary = {"text": text, "reason": "a pothole", "actions": "logged it", "outcome": "request logged",
                   "request_number": "241903", "dropped": [], "model": "cc324af070c2ecbf", "prompt_version": "p5",
                   "transcript_sha256": "0" * 64, "truncated": False}  # fmt: skip
        call.document = {**call.document, "summary": summary}
    c = TestClient(app)
    for role in ("admin", "reviewer", "supervisor"):
        sign_in(c, keys[role])
        page = c.get(f"/ui/calls/{ids[0]}").text
        assert 'id="call-summary"' in page and html.escape(text) in page, role
        assert api_json(app, keys[role], f"/calls/{ids[0]}")["summary"]["text"] == text
    sign_in(c, keys["hr"])
    page = c.get(f"/ui/calls/{ids[0]}").text
    assert 'id="call-summary"' not in page and "241903" not in page
    assert api_json(app, keys["hr"], f"/calls/{ids[0]}")["summary"] is None
    sign_in(c, keys["reviewer"])
    assert 'id="call-summary"' not in c.get(f"/ui/calls/{ids[1]}").text  # no summary stored: no section
