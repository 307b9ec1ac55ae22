"""The audit trail: every write through the API leaves a row (walked from the OpenAPI document, so a new route without
a row fails here), reads that matter (audio, exports) too; who may read it; the command line; the hash chain detects
an edited or deleted row; concurrent appends keep one chain (SQLite and PostgreSQL); no transcript text in it."""

import json
import threading

import pytest
from conftest import SAMPLES
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from storekit import load, variant
from typer.testing import CliRunner

from api.main import Settings, create_app
from qa.cli import app as cli
from qa.store import audit, open_store
from qa.store.audit import Actor
from qa.store.models import AuditRow, Call
from qa.store.users import add_user

pytestmark = pytest.mark.slow


def h(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def env(store, sample_docs, tmp_path):
    docs = [
        variant(sample_docs["pothole_report"], 1, "A1", "east", "2026-11-02T09:00:00"),
        variant(sample_docs["angry_caller"], 2, "A2", "west", "2026-11-03T09:00:00"),
    ]
    ids = load(store, docs)
    audio = tmp_path / "data" / "uploads" / "a.flac"
    audio.parent.mkdir(parents=True)
    audio.write_bytes((SAMPLES / "pothole_report.flac").read_bytes())
    with store.session() as s:
        s.get(Call, ids[0]).audio_path = str(audio)
    keys = {r: add_user(store, f"u-{r}", r) for r in ("admin", "reviewer", "hr")}
    keys["agent"] = add_user(store, "u-agent", "agent", agent_id="A1", team="east")
    keys["supervisor"] = add_user(store, "u-sup", "supervisor", team="east")
    add_user(store, "victim", "hr")
    app = create_app(store, Settings(data_dir=tmp_path / "data", worker=False, max_upload_bytes=4 * 2**20))
    return TestClient(app), keys, ids, docs


def count(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(AuditRow))


def last(store) -> AuditRow:
    with store.session() as s:
        return s.scalar(select(AuditRow).order_by(AuditRow.id.desc()).limit(1))


def test_every_write_route_leaves_an_audit_row(env, store):
    client, keys, ids, docs = env
    cid = ids[0]
    item = "greeting"
    state: dict = {}

    def upload():
        audio = (SAMPLES / "streetlight_out.flac").read_bytes()
        return client.post("/calls", files={"file": ("s.flac", audio)}, data={"team": "east"}, headers=h(keys["admin"]))

    # (method, path) -> (role, request maker, expected action); in the order they must run
    plan = [
        (("POST", "/calls"), ("admin", upload, "call.upload")),
        (
            ("PUT", "/calls/{call_id}/evaluation/items/{item_id}"),
            (
                "reviewer",
                lambda: client.put(
                    f"/calls/{cid}/evaluation/items/{item}",
                    json={"answer": "no", "comment": "c"},
                    headers=h(keys["reviewer"]),
                ),
                "evaluation.override",
            ),
        ),
        (
            ("POST", "/calls/{call_id}/evaluation/release"),
            (
                "reviewer",
                lambda: client.post(f"/calls/{cid}/evaluation/release", headers=h(keys["reviewer"])),
                "evaluation.release",
            ),
        ),
        (
            ("POST", "/calls/{call_id}/disputes"),
            (
                "agent",
                lambda: client.post(
                    f"/calls/{cid}/disputes", json={"item_id": "closing", "reason": "r"}, headers=h(keys["agent"])
                ),
                "dispute.create",
            ),
        ),
        (
            ("POST", "/disputes/{dispute_id}/resolve"),
            (
                "supervisor",
                lambda: client.post(
                    f"/disputes/{state['dispute']}/resolve",
                    json={"status": "accepted", "reason": "ok", "answer": "yes"},
                    headers=h(keys["supervisor"]),
                ),
                "dispute.resolve",
            ),
        ),
        (
            ("POST", "/calls/{call_id}/evaluation/acknowledge"),
            (
                "agent",
                lambda: client.post(f"/calls/{cid}/evaluation/acknowledge", headers=h(keys["agent"])),
                "evaluation.acknowledge",
            ),
        ),
        (
            ("POST", "/calls/{call_id}/evaluation/finalize"),
            (
                "supervisor",
                lambda: client.post(f"/calls/{cid}/evaluation/finalize", headers=h(keys["supervisor"])),
                "evaluation.finalize",
            ),
        ),
        (
            ("POST", "/calibrations"),
            (
                "reviewer",
                lambda: client.post("/calibrations", json={"call_id": cid, "name": "w"}, headers=h(keys["reviewer"])),
                "calibration.create",
            ),
        ),
        (
            ("PUT", "/calibrations/{session_id}/answers"),
            (
                "reviewer",
                lambda: client.put(
                    f"/calibrations/{state['session']}/answers",
                    json={"answers": {item: "yes"}},
                    headers=h(keys["reviewer"]),
                ),
                "calibration.answer",
            ),
        ),
        (
            ("PUT", "/calls/{call_id}/roles"),
            (
                "reviewer",
                lambda: client.put(f"/calls/{cid}/roles", json={"agent_speaker": "ch0"}, headers=h(keys["reviewer"])),
                "call.roles_confirm",
            ),
        ),
        (
            ("POST", "/coaching"),
            (
                "supervisor",
                lambda: client.post("/coaching", json={"agent_id": "A1", "note": "n"}, headers=h(keys["supervisor"])),
                "coaching.create",
            ),
        ),
        (
            ("PATCH", "/coaching/{note_id}"),
            (
                "supervisor",
                lambda: client.patch(
                    f"/coaching/{state['note']}", json={"status": "done"}, headers=h(keys["supervisor"])
                ),
                "coaching.update",
            ),
        ),
        (
            ("POST", "/users"),
            (
                "admin",
                lambda: client.post("/users", json={"name": "new", "role": "hr"}, headers=h(keys["admin"])),
                "user.create",
            ),
        ),
        (
            ("POST", "/users/{name}/disable"),
            ("admin", lambda: client.post("/users/victim/disable", headers=h(keys["admin"])), "user.disable"),
        ),
        (
            ("POST", "/users/{name}/enable"),
            ("admin", lambda: client.post("/users/victim/enable", headers=h(keys["admin"])), "user.enable"),
        ),
        (
            ("POST", "/users/{name}/rotate"),
            (
                "admin",
                lambda: client.post("/users/victim/rotate", json={}, headers=h(keys["admin"])),
                "user.rotate_key",
            ),
        ),
    ]
    schema = client.app.openapi()["paths"]
    writes = {(m.upper(), p) for p, ops in schema.items() for m in ops if m != "get"}
    assert writes == {k for k, _ in plan}, f"routes without an audit check: {writes ^ {k for k, _ in plan}}"
    for (method, path), (role, call, action) in plan:
        n = count(store)
        r = call()
        assert r.status_code < 300, (method, path, r.status_code, r.text[:300])
        row = last(store)
        assert count(store) == n + 1 and row.action == action, (method, path, row.action)
        assert row.actor_name == f"u-{role}" if role not in ("supervisor",) else row.actor_name == "u-sup"
        assert row.client == "testclient"
        body = r.json()
        if action == "dispute.create":
            state["dispute"] = body["id"]
        elif action == "calibration.create":
            state["session"] = body["id"]
        elif action == "coaching.create":
            state["note"] = body["id"]
    # reads that matter: audio downloads and exports
    for url, action in ((f"/calls/{cid}/audio", "call.audio"), ("/exports/report.pdf", "export")):
        n = count(store)
        assert client.get(url, headers=h(keys["admin"])).status_code == 200
        assert count(store) == n + 1 and last(store).action == action
    # a refused write leaves nothing
    n = count(store)
    assert client.post("/users/victim/disable", headers=h(keys["hr"])).status_code == 403
    assert (
        client.put(
            f"/calls/{cid}/evaluation/items/{item}",
            json={"answer": "no", "comment": "late"},
            headers=h(keys["reviewer"]),
        ).status_code
        == 409
    )
    assert count(store) == n
    # no transcript text in any row
    words = {t["text"].lower() for d in docs for t in d["turns"] if len(t["text"].split()) >= 4}
    with store.session() as s:
        dump = json.dumps([audit.as_dict(r) for r in s.scalars(select(AuditRow))], default=str).lower()
        assert not [w for w in words if w in dump]
        assert audit.verify(s).ok


def test_who_reads_the_audit_trail(env, store):
    client, keys, ids, docs = env
    for cid in ids:  # one row about an east call, one about a west call
        client.put(
            f"/calls/{cid}/evaluation/items/greeting",
            json={"answer": "no", "comment": "c"},
            headers=h(keys["reviewer"]),
        )
    everything = client.get("/audit", headers=h(keys["admin"])).json()
    assert everything["count"] == count(store) >= 8  # user creations too
    sup = client.get("/audit", headers=h(keys["supervisor"])).json()
    assert sup["count"] >= 1 and {r["team"] for r in sup["data"]} == {"east"}
    for role in ("hr", "agent", "reviewer"):
        assert client.get("/audit", headers=h(keys[role])).status_code == 403
    f = client.get("/audit", params={"action": "evaluation", "limit": 1}, headers=h(keys["admin"])).json()
    assert f["count"] == 2 and len(f["data"]) == 1 and f["data"][0]["action"] == "evaluation.override"
    f = client.get("/audit", params={"actor": "u-reviewer", "object_id": ids[1]}, headers=h(keys["admin"])).json()
    assert f["count"] == 1 and f["data"][0]["details"]["before"] in ("yes", "no", "na", None)


def test_cli_lists_exports_and_verifies_and_tampering_is_detected(store, store_url):
    actor = Actor(1, "alice", "admin", "10.0.0.1")
    with store.session() as s:
        for i in range(5):
            audit.record(
                s, actor, "evaluation.override", "call", f"c{i}", {"item": "greeting", "after": "no"}, team="east"
            )
    run = CliRunner().invoke
    res = run(cli, ["audit", "--db", store_url, "--format", "csv", "--action", "evaluation"])
    assert (
        res.exit_code == 0
        and res.output.splitlines()[0].startswith("id,at,actor_id")
        and len(res.output.splitlines()) == 6
    )
    res = run(cli, ["audit", "--db", store_url, "--actor", "alice", "--since", "2000-01-01"])
    assert res.exit_code == 0 and "5 row(s)" in res.output
    res = run(cli, ["audit", "verify", "--db", store_url])
    assert res.exit_code == 0 and "5 row(s), chain intact" in res.output
    head = res.output.split("head ")[1].strip()
    with store.engine.begin() as c:  # an edited row
        c.execute(
            text("UPDATE audit_log SET details = :d WHERE id = 3"),
            {"d": json.dumps({"item": "greeting", "after": "yes"})},
        )
    res = run(cli, ["audit", "verify", "--db", store_url])
    assert res.exit_code == 1 and "row 3: its content does not match its hash (edited)" in res.output
    with store.engine.begin() as c:  # a deleted row (after putting 3 back would not help: delete it outright)
        c.execute(text("DELETE FROM audit_log WHERE id = 3"))
    res = run(cli, ["audit", "verify", "--db", store_url])
    assert res.exit_code == 1 and "rows 3..3 are missing (deleted)" in res.output
    with store.engine.begin() as c:  # rows cut from the end leave a valid-looking chain: the head catches it
        c.execute(text("DELETE FROM audit_log WHERE id >= 3"))
    assert run(cli, ["audit", "verify", "--db", store_url]).exit_code == 0
    res = run(cli, ["audit", "verify", "--db", store_url, "--head", head])
    assert res.exit_code == 1 and "rows at the end of the trail were deleted" in res.output


def test_concurrent_appends_keep_one_chain(store):
    def work(k):
        for i in range(10):
            with store.session() as s:
                audit.record(s, Actor(k, f"w{k}", "admin"), "x.y", "thing", f"{k}-{i}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.session() as s:
        v = audit.verify(s)
    assert v.ok and v.rows == 60, v.problems


def test_retention_and_erasure_are_audited_from_the_cli(store, store_url, sample_docs, tmp_path):
    (cid,) = load(store, [variant(sample_docs["pothole_report"], 5, "A1", "east", "2020-01-01T09:00:00")])
    run = CliRunner().invoke
    res = run(cli, ["retention", "apply", "--db", store_url, "--transcripts-days", "30"])
    assert res.exit_code == 0 and "would remove" in res.output and count(store) == 0  # a dry run changes nothing
    res = run(cli, ["retention", "apply", "--db", store_url, "--transcripts-days", "30", "--execute"])
    assert res.exit_code == 0 and "transcripts of 1 call(s)" in res.output
    res = run(cli, ["erase", "--call", cid, "--reason", "records request 2026-17", "--db", store_url])
    assert res.exit_code == 0, res.output
    with store.session() as s:
        actions = [r.action for r in s.scalars(select(AuditRow).order_by(AuditRow.id))]
        erased = s.scalar(select(AuditRow).where(AuditRow.action == "call.erase"))
    assert actions == ["retention.apply", "retention.run", "call.erase"]
    assert erased.details["reason"] == "records request 2026-17" and erased.actor_role == "cli"
    assert run(cli, ["erase", "--call", "nope", "--reason", "x", "--db", store_url]).exit_code == 2


def test_the_trail_outlives_its_objects(store_url, tmp_path):
    """Appends of one process continue the chain of another (ids follow each other, no gaps)."""
    a = open_store(store_url)
    with a.session() as s:
        audit.record(s, Actor.cli(), "a", "t")
    a.engine.dispose()
    b = open_store(store_url)
    with b.session() as s:
        audit.record(s, Actor.cli(), "b", "t")
        assert [r.id for r in s.scalars(select(AuditRow).order_by(AuditRow.id))] == [1, 2] and audit.verify(s).ok
    b.engine.dispose()


def test_db_downgrade_refuses_to_drop_the_audit_trail_without_force(tmp_path):
    """Migration 0002's downgrade drops audit_log: `qa db downgrade` refuses while it holds rows, unless --force.
    (A revision id such as 0001 used to run an *upgrade*: a no-op.)"""
    from sqlalchemy import inspect

    url = f"sqlite:///{tmp_path / 'qa.db'}"
    store = open_store(url)
    add_user(store, "adm", "admin")  # leaves a user.add row
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditRow)) >= 1
    store.engine.dispose()
    runner = CliRunner()

    def tables():
        eng = open_store(url, upgrade=False).engine
        names = set(inspect(eng).get_table_names())
        eng.dispose()
        return names

    for target in ("base", "0001", "-6"):
        res = runner.invoke(cli, ["db", "downgrade", "--db", url, "--", target])
        assert res.exit_code == 2 and "audit" in res.output and "--force" in res.output, res.output
        assert "audit_log" in tables()
    for _ in range(5):  # 0007 -> 0006 (voiceprints) -> 0005 (search key) -> 0004 (search) -> 0003 -> 0002
        res = runner.invoke(cli, ["db", "downgrade", "--db", url])
        assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["db", "downgrade", "--db", url])
    assert res.exit_code == 2 and "audit" in res.output
    assert "audit_log" in tables()
    res = runner.invoke(cli, ["db", "downgrade", "0001", "--force", "--db", url])
    assert res.exit_code == 0, res.output
    assert "audit_log" not in tables()
    res = runner.invoke(cli, ["db", "downgrade", "0004", "--db", url])  # not below the current revision
    assert res.exit_code == 2 and "not below" in res.output
