"""The evaluation lifecycle over HTTP: draft -> released -> acknowledged | disputed -> final, who may move it, what the
agent sees at each step, and what each state refuses (409 with the reason)."""

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from storekit import load, variant

from api.main import Settings, create_app
from qa.store.lifecycle import Policy
from qa.store.models import EvaluationRow
from qa.store.users import add_user

pytestmark = pytest.mark.slow


def h(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def flow(store, sample_docs, tmp_path):
    (cid,) = load(store, [variant(sample_docs["pothole_report"], 1, "A1", "east", "2026-11-02T09:00:00")])
    keys = {r: add_user(store, f"u-{r}", r) for r in ("admin", "reviewer", "supervisor")}
    keys["agent"] = add_user(store, "u-agent", "agent", agent_id="A1")
    policy = Policy(dispute_window=dt.timedelta(days=3), max_disputes_per_item=2)
    app = create_app(store, Settings(data_dir=tmp_path / "d", worker=False, lifecycle=policy))
    return TestClient(app), keys, cid


def test_lifecycle_states_and_what_the_agent_sees(flow, store):
    client, keys, cid = flow
    agent, rev, sup = h(keys["agent"]), h(keys["reviewer"]), h(keys["supervisor"])

    def state():
        return client.get(f"/calls/{cid}/evaluation", headers=rev).json()["lifecycle"]["state"]

    assert state() == "draft"
    listed = client.get("/calls", headers=agent).json()["data"][0]
    assert listed["percent"] is None and listed["passed"] is None and not listed["evaluation_released"]
    assert client.get("/calls", params={"passed": True}, headers=agent).json()["count"] == 0  # no peeking by filter
    assert client.get(f"/calls/{cid}", headers=agent).json()["evaluation"] is None
    assert client.post(f"/calls/{cid}/evaluation/acknowledge", headers=agent).status_code == 404
    assert client.post(f"/calls/{cid}/evaluation/finalize", headers=sup).json()["detail"].endswith("release it first")
    assert client.post(f"/calls/{cid}/evaluation/release", headers=agent).status_code == 403

    released = client.post(f"/calls/{cid}/evaluation/release", headers=sup).json()["lifecycle"]
    assert released["state"] == "released"
    window = dt.datetime.fromisoformat(released["dispute_until"]) - dt.datetime.fromisoformat(released["released_at"])
    assert window == dt.timedelta(days=3)
    assert client.get("/calls", headers=agent).json()["data"][0]["percent"] is not None
    assert client.post(f"/calls/{cid}/evaluation/release", headers=sup).status_code == 409

    # acknowledged: no disputes; a later override sends it back to released for a new answer from the agent
    assert (
        client.post(f"/calls/{cid}/evaluation/acknowledge", headers=agent).json()["lifecycle"]["state"]
        == "acknowledged"
    )
    r = client.post(f"/calls/{cid}/disputes", json={"item_id": "greeting", "reason": "r"}, headers=agent)
    assert r.status_code == 409 and "acknowledged" in r.json()["detail"]
    url = f"/calls/{cid}/evaluation/items/greeting"
    assert client.put(url, json={"answer": "no", "comment": "re-listened"}, headers=rev).status_code == 200
    assert state() == "released"

    # disputed: the item waits for the resolution, other items do not; two disputes per item here
    d = client.post(f"/calls/{cid}/disputes", json={"item_id": "greeting", "reason": "I did"}, headers=agent).json()
    assert state() == "disputed"
    assert client.put(url, json={"answer": "yes", "comment": "x"}, headers=rev).status_code == 409
    other = f"/calls/{cid}/evaluation/items/closing"
    assert client.put(other, json={"answer": "no", "comment": "x"}, headers=rev).status_code == 200
    assert client.post(f"/calls/{cid}/evaluation/finalize", headers=sup).json()["detail"].endswith("resolve them first")
    bad = client.post(f"/disputes/{d['id']}/resolve", json={"status": "accepted", "reason": "ok"}, headers=sup)
    assert bad.status_code == 422 and "answer" in bad.json()["detail"]
    ok = client.post(
        f"/disputes/{d['id']}/resolve", json={"status": "accepted", "reason": "ok", "answer": "yes"}, headers=sup
    )
    assert ok.status_code == 200 and state() == "released"
    item = {i["id"]: i for i in client.get(f"/calls/{cid}/evaluation", headers=agent).json()["items"]}["greeting"]
    assert (
        item["answer"] == "yes"
        and item["overrides"][-1]["dispute_id"] == d["id"]
        and item["disputes"][0]["status"] == "accepted"
    )
    d2 = client.post(f"/calls/{cid}/disputes", json={"item_id": "greeting", "reason": "again"}, headers=agent)
    assert d2.status_code == 201  # the limit is 2 here
    client.post(f"/disputes/{d2.json()['id']}/resolve", json={"status": "rejected", "reason": "no"}, headers=sup)
    third = client.post(f"/calls/{cid}/disputes", json={"item_id": "greeting", "reason": "3"}, headers=agent)
    assert third.status_code == 409 and "limit is 2" in third.json()["detail"]

    # final: by a supervisor, or when the window closes; nothing changes after that
    assert client.post(f"/calls/{cid}/evaluation/finalize", headers=sup).json()["lifecycle"]["state"] == "final"
    assert client.put(other, json={"answer": "yes", "comment": "x"}, headers=rev).status_code == 409
    assert (
        client.post(f"/calls/{cid}/disputes", json={"item_id": "closing", "reason": "r"}, headers=agent).status_code
        == 409
    )


def test_the_window_closing_makes_an_evaluation_final(flow, store):
    client, keys, cid = flow
    client.post(f"/calls/{cid}/evaluation/release", headers=h(keys["reviewer"]))
    with store.session() as s:
        s.execute(update(EvaluationRow).values(dispute_until=dt.datetime(2020, 1, 1)))
    ev = client.get(f"/calls/{cid}/evaluation", headers=h(keys["agent"])).json()
    assert ev["lifecycle"]["state"] == "final"
    r = client.put(
        f"/calls/{cid}/evaluation/items/greeting", json={"answer": "no", "comment": "x"}, headers=h(keys["admin"])
    )
    assert r.status_code == 409 and "final" in r.json()["detail"]


def test_a_reimport_never_rewrites_a_released_evaluation_nor_moves_the_call(flow, store, sample_docs):
    """Re-processing (worker, `qa import`, `qa process --db`) of a call whose evaluation left the draft state: the
    old evaluation stays as it was, the new one is a draft revision; agent and team stay; an audit row says so."""
    import copy

    from sqlalchemy import select

    from qa.store import audit
    from qa.store.calls import import_document
    from qa.store.models import Agent, AuditRow, Call

    client, keys, cid = flow
    sup = h(keys["supervisor"])
    assert client.post(f"/calls/{cid}/evaluation/release", headers=sup).status_code == 200
    assert client.post(f"/calls/{cid}/evaluation/finalize", headers=sup).status_code == 200
    with store.session() as s:
        (old,) = s.scalars(select(EvaluationRow)).all()
        old_id, old_data, old_percent = old.id, copy.deepcopy(old.data), s.get(Call, cid).percent

    doc = variant(sample_docs["pothole_report"], 1, "B9", "west", "2026-11-02T09:00:00")
    ev = doc["evaluation"]
    flipped = ev["items"][0]
    flipped["answer"] = "no" if flipped["answer"] == "yes" else "yes"
    ev["score"] = float(ev["score"]) + 1.0  # a different result with the same scorecard
    worker = audit.Actor(None, "worker:test", "worker")
    with store.session() as s:
        import_document(s, doc, actor=worker, action="call.reprocess")
    with store.session() as s:
        rows = s.scalars(select(EvaluationRow).order_by(EvaluationRow.id)).all()
        assert [(r.id, r.state, r.revision, r.current) for r in rows] == [
            (old_id, "final", 1, False),
            (rows[1].id, "draft", 2, True),
        ]
        assert rows[0].data == old_data and rows[1].data["score"] == ev["score"]
        call = s.get(Call, cid)
        assert (call.agent_id, call.team) == ("A1", "east")
        assert s.get(Agent, "A1").team == "east"
        assert s.get(Agent, "B9") is None
        row = s.scalars(select(AuditRow).where(AuditRow.action == "call.reprocess")).one()
        assert row.actor_name == "worker:test" and row.object_id == cid and row.team == "east"
        assert row.details["assignment"] == {
            "before": {"agent_id": "A1", "team": "east"},
            "metadata": {"agent_id": "B9", "team": "west"},
            "applied": False,
        }
        ch = row.details["evaluation"]
        assert ch["kept"] == {"id": old_id, "state": "final"} and ch["before"] == old_id and ch["after"] == rows[1].id
        assert old_percent is not None

    # the same document again: nothing changes, no new row
    with store.session() as s:
        import_document(s, doc, actor=worker, action="call.reprocess")
    with store.session() as s:
        assert len(s.scalars(select(EvaluationRow)).all()) == 2
        assert len(s.scalars(select(AuditRow).where(AuditRow.action == "call.reprocess")).all()) == 1

    # an explicit reassignment moves the call (and is recorded)
    with store.session() as s:
        import_document(s, doc, actor=worker, action="call.import", reassign=True)
    with store.session() as s:
        call = s.get(Call, cid)
        assert (call.agent_id, call.team) == ("B9", "west")
        row = s.scalars(select(AuditRow).where(AuditRow.action == "call.import")).one()
        assert row.details["assignment"]["applied"] is True
