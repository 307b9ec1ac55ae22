"""The HTTP API in-process (TestClient) on SQLite and PostgreSQL: the permission matrix, the review, dispute,
coaching and export flow, uploads through the queue, range requests, and clear 4xx errors."""

import csv
import io
import json
import re
import shutil
import time

import pytest
from conftest import SAMPLES
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from storekit import load, variant

from api.main import ROUTERS, Settings, create_app
from api.permissions import PERMISSIONS
from qa.store.users import ROLES, add_user

pytestmark = pytest.mark.slow

DATES = ["2026-10-26T09:00:00", "2026-10-28T15:30:00", "2026-11-03T11:00:00", "2026-11-05T16:45:00"]


@pytest.fixture
def api(store, sample_docs, tmp_path):
    docs = []
    names = ["pothole_report", "angry_caller", "status_followup", "pothole_report"]
    for n, (name, when) in enumerate(zip(names, DATES, strict=True)):
        docs.append(variant(sample_docs[name], n, "A1", "east", when))
    docs.append(variant(sample_docs["angry_caller"], 10, "A2", "west", "2026-11-04T10:00:00"))
    audio = tmp_path / "pothole.flac"
    shutil.copy(SAMPLES / "pothole_report.flac", audio)
    ids = load(store, docs)
    from qa.store.models import Call

    with store.session() as s:
        s.get(Call, ids[0]).audio_path = str(audio)
    keys = {role: add_user(store, f"u-{role}", role, agent_id="A1" if role == "agent" else None) for role in ROLES}
    keys["reviewer2"] = add_user(store, "u-reviewer2", "reviewer")
    keys["agent2"] = add_user(store, "u-agent2", "agent", agent_id="A2")
    app = create_app(store, Settings(data_dir=tmp_path / "data", worker=False, max_upload_bytes=2 * 2**20))
    client = TestClient(app)
    return client, keys, ids, docs


def h(key):
    return {"Authorization": f"Bearer {key}"}


def _permission(route: APIRoute) -> str | None:
    stack = list(route.dependant.dependencies)
    while stack:
        d = stack.pop()
        perm = getattr(d.call, "permission", None)
        if perm:
            return perm
        stack += d.dependencies
    return None


def test_permission_matrix_every_role_every_endpoint(api):
    client, keys, ids, docs = api
    own = ids[0]  # agent A1's call
    # set-up objects the endpoints refer to
    cal = client.post("/calibrations", json={"call_id": own, "name": "weekly"}, headers=h(keys["admin"])).json()
    assert client.post(f"/calls/{own}/evaluation/release", headers=h(keys["reviewer"])).status_code == 200
    add_user(client.app.state.store, "u-victim", "hr")
    disp = client.post(
        f"/calls/{own}/disputes", json={"item_id": "greeting", "reason": "I did greet"}, headers=h(keys["agent"])
    )
    assert disp.status_code == 201, disp.text
    note = client.post("/coaching", json={"agent_id": "A1", "note": "Offer more help"}, headers=h(keys["admin"]))
    assert note.status_code == 201, note.text
    params = {
        "call_id": own,
        "item_id": "greeting",
        "session_id": cal["id"],
        "dispute_id": disp.json()["id"],
        "note_id": note.json()["id"],
        "job_id": 1,
        "fmt": "csv",
        "name": "u-victim",
    }
    bodies = {
        ("PUT", "/calls/{call_id}/evaluation/items/{item_id}"): {"answer": "yes", "comment": "ok"},
        ("POST", "/calibrations"): {"call_id": own, "name": "x"},
        ("PUT", "/calibrations/{session_id}/answers"): {"answers": {"greeting": "yes"}},
        ("POST", "/calls/{call_id}/disputes"): {"item_id": "closing", "reason": "r"},
        ("POST", "/disputes/{dispute_id}/resolve"): {"status": "rejected", "reason": "no"},
        ("POST", "/coaching"): {"agent_id": "A1", "note": "n"},
        ("PATCH", "/coaching/{note_id}"): {"status": "in_progress"},
        ("POST", "/users"): {"name": "new-user", "role": "hr"},
        ("POST", "/users/{name}/rotate"): {},
        ("PUT", "/calls/{call_id}/roles"): {"agent_speaker": "ch0"},
    }
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    checked = 0
    for route in routes:
        perm = _permission(route)
        assert perm in PERMISSIONS, f"{route.path} has no permission check"
        for method in route.methods:
            path = route.path.format(**params)
            body = bodies.get((method, route.path))
            if route.path == "/calls" and method == "POST":
                continue  # multipart: tested below
            r = client.request(method, path, json=body)
            assert r.status_code == 401, (method, path, r.status_code)
            for role in ROLES:
                if (method, route.path) == ("POST", "/users"):
                    body = {"name": f"new-{role}", "role": "hr"}
                r = client.request(method, path, json=body, headers=h(keys[role]))
                allowed = role in PERMISSIONS[perm]
                assert (r.status_code == 403) == (not allowed), (role, method, path, r.status_code, r.text[:200])
                assert r.status_code < 500, (role, method, path, r.text[:300])
                checked += 1
    up = {
        role: client.post("/calls", files={"file": ("x.txt", b"hello")}, headers=h(keys[role])).status_code
        for role in ROLES
    }
    assert {r for r, c in up.items() if c != 403} == set(PERMISSIONS["calls:upload"])
    assert checked >= 5 * 20


def test_a_reviewer_confirms_who_the_agent_is_checked_by_role_and_object_and_audited(api):
    from qa.store.models import AuditRow, RoleConfirmation

    client, keys, ids, docs = api
    store = client.app.state.store
    own, other = ids[0], ids[4]  # A1/east (stereo pothole_report), A2/west
    roles = {r["speaker"]: r["role"] for r in docs[0]["speakers"]["roles"]}
    agent = next(k for k, v in roles.items() if v == "agent")
    caller = next(k for k, v in roles.items() if v != "agent")
    assert client.put(f"/calls/{own}/roles", json={"agent_speaker": agent}, headers=h(keys["agent"])).status_code == 403
    assert client.put(f"/calls/{own}/roles", json={"agent_speaker": agent}, headers=h(keys["hr"])).status_code == 403
    bad = client.put(f"/calls/{own}/roles", json={"agent_speaker": "spk9"}, headers=h(keys["reviewer"]))
    assert bad.status_code == 422 and "no speaker 'spk9'" in bad.json()["detail"] and agent in bad.json()["detail"]
    for body in ({"agent_speaker": "x" * 21}, {"agent_speaker": agent, "extra": 1}, {}):
        assert client.put(f"/calls/{own}/roles", json=body, headers=h(keys["reviewer"])).status_code == 422
    nope = client.put("/calls/nope/roles", json={"agent_speaker": agent}, headers=h(keys["reviewer"]))
    assert nope.status_code == 404
    with store.session() as s:
        assert s.get(RoleConfirmation, own) is None  # nothing refused was recorded
    ok = client.put(f"/calls/{own}/roles", json={"agent_speaker": agent}, headers=h(keys["reviewer"]))
    assert ok.status_code == 200 and ok.json()["agrees"] is True and ok.json()["voiceprint"].startswith("ready")
    fix = client.put(f"/calls/{own}/roles", json={"agent_speaker": caller}, headers=h(keys["admin"]))
    assert fix.status_code == 200 and fix.json()["agrees"] is False  # a correction replaces the confirmation
    with store.session() as s:
        row = s.get(RoleConfirmation, own)
        assert row.agent_speaker == caller and not row.agrees
        trail = s.query(AuditRow).filter(AuditRow.action == "call.roles_confirm").order_by(AuditRow.id).all()
        assert [(r.object_id, r.details["agrees"], r.actor_role) for r in trail] == [
            (own, True, "reviewer"),
            (own, False, "admin"),
        ]
    # a supervisor limited to another team sees neither the call nor a hint that it exists; their own team's call works
    k = add_user(store, "u-sup-west", "supervisor", team="west")
    assert client.put(f"/calls/{own}/roles", json={"agent_speaker": agent}, headers=h(k)).status_code == 404
    theirs = next(r["speaker"] for r in docs[4]["speakers"]["roles"] if r["role"] == "agent")
    assert client.put(f"/calls/{other}/roles", json={"agent_speaker": theirs}, headers=h(k)).status_code == 200


def test_agents_see_only_their_own_calls_and_pii_is_redacted_by_role(api):
    client, keys, ids, docs = api
    mine = client.get("/calls", headers=h(keys["agent"])).json()
    assert mine["count"] == 4 and {c["agent_id"] for c in mine["data"]} == {"A1"}
    assert client.get(f"/calls/{ids[4]}", headers=h(keys["agent"])).status_code == 404  # A2's call: not visible
    assert client.get("/calls", headers=h(keys["admin"])).json()["count"] == 5
    raw = client.get(f"/calls/{ids[0]}", headers=h(keys["reviewer"])).json()
    red = client.get(f"/calls/{ids[0]}", headers=h(keys["supervisor"])).json()
    hr = client.get(f"/calls/{ids[0]}", headers=h(keys["hr"])).json()
    names = [e["value"] for e in docs[0]["entities"] if e["type"] == "PERSON"]
    assert names, "the sample names its agent"
    raw_text = json.dumps(raw["turns"]) + json.dumps(raw["evaluation"])
    red_text = json.dumps(red["turns"]) + json.dumps(red["evaluation"]) + json.dumps(red["entities"])
    assert names[0].lower() in raw_text.lower() and not raw["redacted"]
    assert names[0].lower() not in red_text.lower() and "[PERSON]" in red_text and red["redacted"]
    assert hr["turns"] is None and hr["entities"] is None and hr["evaluation"] is not None
    assert client.get(f"/calls/{ids[0]}/audio", headers=h(keys["hr"])).status_code == 403


def test_search_filters_and_pagination(api):
    client, keys, ids, docs = api
    adm = h(keys["admin"])

    def count(**params):
        r = client.get("/calls", params=params, headers=adm)
        assert r.status_code == 200, r.text
        return r.json()["count"]

    assert count(agent_id="A1") == 4 and count(team="west") == 1
    assert count(start="2026-11-01T00:00:00", end="2026-11-30T00:00:00") == 3
    assert count(request_type="pothole") == 2
    negative = sum(bool(((d.get("sentiment") or {}).get("caller") or {}).get("was_negative")) for d in docs)
    assert 0 < count(caller_negative=True) == negative < 5
    said = sum("springfield" in " ".join(t["text"] for t in d["turns"]).lower() for d in docs)
    assert count(q="springfield") == said >= 3 and count(q="no-such-words-here") == 0
    assert count(q="SpringField thank") == said
    assert count(min_score=0, max_score=100) == 5 and count(passed=True) + count(passed=False) == 5
    page = client.get("/calls", params={"limit": 2, "offset": 2}, headers=adm).json()
    assert page["count"] == 5 and len(page["data"]) == 2 and page["offset"] == 2
    bad = client.get("/calls", params={"limit": 0}, headers=adm)
    assert bad.status_code == 422 and "limit" in bad.json()["detail"]
    assert client.get("/calls", params={"q": "x"}, headers=h(keys["hr"])).status_code == 422  # too short
    assert client.get("/calls", params={"q": "springfield"}, headers=h(keys["hr"])).status_code == 403


def test_both_sqlite_search_plans_give_the_same_calls_and_a_word_search_counts_only_so_far(api, monkeypatch):
    """SQLite searches drive from the FTS hits when few calls hold the words, and check the list's index walk
    against them when many do (qa/store/search.py): the two plans must list the same calls in the same order, for
    raw and redacted text. A word search counts a page and COUNT_MORE beyond, then says the count is not exact."""
    from api.routes import calls as calls_route
    from qa.store import search

    client, keys, ids, docs = api
    queries = ["springfield", "thank", "SpringField thank", "pothole street", "no-such-words-here", "the"]

    def listed(role, **params):
        r = client.get("/calls", params=params, headers=h(keys[role]))
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["data"]], r.json()["count"]

    for role in ("admin", "supervisor", "agent"):  # raw text; redacted text (team scope); an agent's own calls
        for sort in ("-started_at", "percent"):
            monkeypatch.setattr(search, "DRIVE_MAX", 2000)
            driven = [listed(role, q=q, sort=sort) for q in queries]
            monkeypatch.setattr(search, "DRIVE_MAX", 1)
            walked = [listed(role, q=q, sort=sort) for q in queries]
            assert driven == walked, (role, sort)
            assert any(n for _, n in driven) and any(not n for _, n in driven)
    monkeypatch.setattr(calls_route, "COUNT_MORE", 1)
    said = listed("admin", q="thank")[1]
    assert said >= 3
    r = client.get("/calls", params={"q": "thank", "limit": 1}, headers=h(keys["admin"])).json()
    assert r["count"] == 2 and r["count_exact"] is False and len(r["data"]) == 1  # one page and one more, no further
    r = client.get("/calls", params={"q": "thank", "limit": 50}, headers=h(keys["admin"])).json()
    assert r["count"] == said and r["count_exact"] is True
    assert client.get("/calls", params={"limit": 1}, headers=h(keys["admin"])).json()["count_exact"] is True


def test_review_dispute_coaching_flow(api):
    client, keys, ids, docs = api
    cid = ids[0]
    before = client.get(f"/calls/{cid}/evaluation", headers=h(keys["reviewer"])).json()
    item = next(it for it in before["items"] if it["answer"] == "yes")
    r = client.put(
        f"/calls/{cid}/evaluation/items/{item['id']}",
        json={"answer": "no", "comment": "not heard"},
        headers=h(keys["reviewer"]),
    )
    assert r.status_code == 200, r.text
    after = r.json()
    it = {i["id"]: i for i in after["items"]}[item["id"]]
    assert it["automatic_answer"] == "yes" and it["answer"] == "no" and it["override"]["comment"] == "not heard"
    assert after["score"] < before["score"] and after["automatic"]["score"] == before["score"]
    listed = client.get("/calls", params={"agent_id": "A1"}, headers=h(keys["admin"])).json()["data"]
    assert {c["id"]: c["score"] for c in listed}[cid] == after["score"]
    bad = client.put(
        f"/calls/{cid}/evaluation/items/nope", json={"answer": "no", "comment": "x"}, headers=h(keys["reviewer"])
    )
    assert bad.status_code == 404 and "not on scorecard" in bad.json()["detail"]
    bad = client.put(
        f"/calls/{cid}/evaluation/items/{item['id']}",
        json={"answer": "maybe", "comment": "x"},
        headers=h(keys["reviewer"]),
    )
    assert bad.status_code == 422 and "answer" in bad.json()["detail"]

    # an agent cannot dispute a draft (they do not see it); released, they can; another agent cannot; a
    # supervisor resolves, accepting with the new answer
    early = client.post(
        f"/calls/{cid}/disputes", json={"item_id": item["id"], "reason": "too early"}, headers=h(keys["agent"])
    )
    assert early.status_code == 404 and "no released evaluation" in early.json()["detail"]
    assert client.get(f"/calls/{cid}/evaluation", headers=h(keys["agent"])).status_code == 404
    assert client.post(f"/calls/{cid}/evaluation/release", headers=h(keys["supervisor"])).status_code == 200
    d = client.post(
        f"/calls/{cid}/disputes", json={"item_id": item["id"], "reason": "I said it at 0:05"}, headers=h(keys["agent"])
    )
    assert d.status_code == 201 and d.json()["status"] == "open"
    assert (
        client.post(
            f"/calls/{cid}/disputes", json={"item_id": item["id"], "reason": "again"}, headers=h(keys["agent"])
        ).status_code
        == 409
    )
    assert (
        client.post(
            f"/calls/{cid}/disputes", json={"item_id": item["id"], "reason": "x"}, headers=h(keys["agent2"])
        ).status_code
        == 404
    )
    assert client.get("/disputes", headers=h(keys["agent2"])).json()["count"] == 0
    res = client.post(
        f"/disputes/{d.json()['id']}/resolve",
        json={"status": "accepted", "reason": "audio shows it", "answer": "yes"},
        headers=h(keys["supervisor"]),
    )
    assert res.status_code == 200 and res.json()["status"] == "accepted"
    ev = client.get(f"/calls/{cid}/evaluation", headers=h(keys["agent"])).json()
    got = {i["id"]: i for i in ev["items"]}[item["id"]]
    assert got["dispute"] == "accepted" and got["answer"] == "yes"  # the resolution changed the answer
    assert [o["answer"] for o in got["overrides"]] == ["no", "yes"] and got["overrides"][1]["dispute_id"] == d.json()[
        "id"
    ]
    again = client.post(
        f"/calls/{cid}/disputes", json={"item_id": item["id"], "reason": "once more"}, headers=h(keys["agent"])
    )
    assert again.status_code == 409 and "limit is 1" in again.json()["detail"]
    assert (
        client.post(
            f"/disputes/{d.json()['id']}/resolve",
            json={"status": "rejected", "reason": "x"},
            headers=h(keys["supervisor"]),
        ).status_code
        == 409
    )

    # coaching
    n = client.post(
        "/coaching",
        json={
            "agent_id": "A1",
            "note": "Ask before a hold",
            "call_ids": [cid],
            "item_ids": ["hold_etiquette"],
            "follow_up_due": "2026-12-01",
        },
        headers=h(keys["supervisor"]),
    )
    assert n.status_code == 201, n.text
    assert (
        client.post(
            "/coaching", json={"agent_id": "A1", "note": "x", "call_ids": [ids[4]]}, headers=h(keys["supervisor"])
        ).status_code
        == 422
    )  # A2's call
    p = client.patch(f"/coaching/{n.json()['id']}", json={"status": "done"}, headers=h(keys["supervisor"]))
    assert p.json()["status"] == "done"
    assert client.get("/coaching", headers=h(keys["agent"])).json()["count"] == 1
    assert client.get("/coaching", headers=h(keys["agent2"])).json()["count"] == 0


def test_calibration_agreement(api):
    client, keys, ids, docs = api
    s = client.post("/calibrations", json={"call_id": ids[1], "name": "angry caller"}, headers=h(keys["supervisor"]))
    assert s.status_code == 201
    sid = s.json()["id"]
    auto = {
        i["id"]: i["answer"]
        for i in client.get(f"/calls/{ids[1]}/evaluation", headers=h(keys["reviewer"])).json()["items"]
    }
    mine = {k: (v if v in ("yes", "no", "na") else "na") for k, v in auto.items()}
    theirs = dict(mine)
    flip = next(iter(theirs))
    theirs[flip] = "no" if theirs[flip] == "yes" else "yes"
    client.put(f"/calibrations/{sid}/answers", json={"answers": mine}, headers=h(keys["reviewer"]))
    r = client.put(f"/calibrations/{sid}/answers", json={"answers": theirs}, headers=h(keys["reviewer2"]))
    res = r.json()
    n = len(mine)
    assert res["overall"]["percent_agreement"] == pytest.approx(100 * (n - 1) / n, abs=0.01)
    assert res["items"][flip]["pair_agreement"] == 0.0
    assert res["reviewer_vs_automatic"]["u-reviewer"]["percent_agreement"] >= 90.0
    bad = client.put(f"/calibrations/{sid}/answers", json={"answers": {"nope": "yes"}}, headers=h(keys["reviewer"]))
    assert bad.status_code == 422 and "nope" in bad.json()["detail"]


def test_trends_and_exports(api):
    client, keys, ids, docs = api
    t = client.get("/trends", params={"agent_id": "A1", "period": "week"}, headers=h(keys["supervisor"])).json()
    assert [b["period"] for b in t["buckets"]] == ["2026-W44", "2026-W45"]
    assert sum(b["calls"] for b in t["buckets"]) == 4 and t["overall"]["calls"] == 4
    assert t["worst_items"] and set(t["buckets"][0]["item_pass_rates"]) and t["examples"]["lowest"]
    assert client.get("/trends", headers=h(keys["agent"])).json()["overall"] is None  # drafts: not the agent's yet
    for cid in ids[:4]:
        assert client.post(f"/calls/{cid}/evaluation/release", headers=h(keys["reviewer"])).status_code == 200
    own = client.get("/trends", headers=h(keys["agent"])).json()
    assert own["agent_id"] == "A1" and own["overall"]["calls"] == 4
    assert client.get("/trends", params={"agent_id": "A2"}, headers=h(keys["agent"])).status_code == 403
    month = client.get("/trends", params={"team": "east", "period": "month"}, headers=h(keys["hr"])).json()
    assert [b["period"] for b in month["buckets"]] == ["2026-10", "2026-11"]

    r = client.get(
        "/exports/evaluations.csv",
        params={"agent_id": "A1", "start": "2026-10-01", "end": "2026-11-30"},
        headers=h(keys["hr"]),
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["call_id", "started_at", "agent_id"] and len(rows) == 5 and "greeting" in rows[0]
    state = rows[0].index("state")  # HR can tell a draft from a released or final evaluation
    assert {r[state] for r in rows[1:]} <= {"draft", "released", "acknowledged", "disputed", "final"}
    assert "released" in {r[state] for r in rows[1:]}
    names = {e["value"].lower() for d in docs for e in d["entities"] if e["type"] == "PERSON"}
    words = set(re.findall(r"[a-z]+", r.content.decode().lower()))
    assert names and not names & words  # no personal data in exports
    x = client.get("/exports/evaluations.xlsx", params={"team": "east"}, headers=h(keys["hr"]))
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(x.content)).active
    assert ws.max_row == 5 and ws.cell(1, 1).value == "call_id"
    pdf = client.get("/exports/report.pdf", params={"agent_id": "A1"}, headers=h(keys["hr"]))
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-" and len(pdf.content) > 5000
    empty = client.get("/exports/report.pdf", params={"agent_id": "nobody"}, headers=h(keys["hr"]))
    assert empty.status_code == 200 and empty.content[:5] == b"%PDF-"
    assert (
        client.get(
            "/exports/evaluations.csv", params={"start": "2026-11-30", "end": "2026-11-01"}, headers=h(keys["hr"])
        ).status_code
        == 422
    )


def test_audio_range_requests(api):
    client, keys, ids, docs = api
    full = client.get(f"/calls/{ids[0]}/audio", headers=h(keys["reviewer"]))
    assert full.status_code == 200 and full.headers["accept-ranges"] == "bytes"
    part = client.get(f"/calls/{ids[0]}/audio", headers={**h(keys["reviewer"]), "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == full.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(full.content)}"
    assert client.get(f"/calls/{ids[1]}/audio", headers=h(keys["reviewer"])).status_code == 404  # none stored


def test_uploads_are_checked_and_queued(api, tiny_pipeline):
    client, keys, ids, docs = api
    rev = h(keys["reviewer"])
    bad = client.post("/calls", files={"file": ("notes.txt", b"hello")}, headers=rev)
    assert bad.status_code == 415 and ".txt" in bad.json()["detail"]
    bad = client.post("/calls", files={"file": ("call.wav", b"not audio at all" * 100)}, headers=rev)
    assert bad.status_code == 415 and "not a readable audio file" in bad.json()["detail"]
    bad = client.post("/calls", files={"file": ("call.wav", b"")}, headers=rev)
    assert bad.status_code == 422
    bad = client.post("/calls", files={"file": ("big.wav", b"\0" * (3 * 2**20))}, headers=rev)
    assert bad.status_code == 413 and "MiB" in bad.json()["detail"]
    bad = client.post("/calls", files={"file": ("c.flac", b"x")}, data={"direction": "sideways"}, headers=rev)
    assert bad.status_code == 422 and "direction" in bad.json()["detail"]
    audio = (SAMPLES / "streetlight_out.flac").read_bytes()
    meta = {"agent_id": "A3", "team": "north", "started_at": "2026-11-06T12:00:00Z", "channels": "agent-right"}
    up = client.post("/calls", files={"file": ("streetlight.flac", audio)}, data=meta, headers=rev)
    assert up.status_code == 202, up.text
    job = up.json()
    assert job["created"] and job["status"] == "queued"
    again = client.post("/calls", files={"file": ("copy.flac", audio)}, data=meta, headers=rev).json()
    assert again["job_id"] == job["job_id"] and not again["created"]  # the same recording is one job

    from qa.runner.worker import run_worker
    from qa.scoring.scorer import Scorer

    pipe = tiny_pipeline.with_scorer(Scorer.from_file())
    stats = run_worker(pipe, client.app.state.store, until_empty=True, poll_s=0.05)
    assert stats.done == 1 and stats.failed == 0
    st = client.get(f"/jobs/{job['job_id']}", headers=rev).json()
    assert st["status"] == "done" and st["call_id"]
    call = client.get(f"/calls/{st['call_id']}", headers=rev).json()
    assert call["agent_id"] == "A3" and call["request_type"] == "streetlight_out" and call["evaluation"]
    assert client.get(f"/calls/{st['call_id']}/audio", headers=rev).content == audio
    overview = client.get("/jobs", headers=rev).json()
    assert overview["counts"]["done"] == 1 and overview["counts"]["queued"] == 0
    assert client.get("/jobs/999", headers=rev).status_code == 404


def test_errors_are_json_without_traces(api):
    client, keys, ids, docs = api
    r = client.get("/calls/nope", headers=h(keys["admin"]))
    assert r.status_code == 404 and r.json() == {"detail": "no call 'nope'"}
    r = client.post("/coaching", content=b"{not json", headers={**h(keys["admin"]), "Content-Type": "application/json"})
    assert r.status_code == 422 and "Traceback" not in r.text
    r = client.get("/calls", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and "unknown" in r.json()["detail"]
    r = client.post("/users", json={"name": "u-admin", "role": "hr"}, headers=h(keys["admin"]))
    assert r.status_code == 409 and "already exists" in r.json()["detail"]
    assert client.get("/openapi.json").status_code == 200 and client.get("/docs").status_code == 200


def test_serve_background_worker_processes_uploads(store, tmp_path, tiny_pipeline):
    """`qa serve` runs a worker thread beside the API: an upload becomes a stored, scored call without anything else
    running."""
    key = add_user(store, "up", "reviewer")
    app = create_app(store, Settings(data_dir=tmp_path / "data", worker=True), pipeline=tiny_pipeline)
    with TestClient(app) as client:  # the context runs the app's lifespan: the worker thread starts and stops
        audio = (SAMPLES / "missed_trash.flac").read_bytes()
        job = client.post("/calls", files={"file": ("t.flac", audio)}, data={"agent_id": "A9"}, headers=h(key))
        assert job.status_code == 202, job.text
        for _ in range(600):
            st = client.get(f"/jobs/{job.json()['job_id']}", headers=h(key)).json()
            if st["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        assert st["status"] == "done", st
        call = client.get(f"/calls/{st['call_id']}", headers=h(key)).json()
        assert call["agent_id"] == "A9" and call["request_type"] == "missed_trash_collection" and call["evaluation"]
