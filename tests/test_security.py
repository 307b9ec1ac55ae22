"""Issue #12, replayed as requests: every finding of the security review against the API (in-process, and at the
ASGI level where the question is what the server reads), each of which failed before its fix."""

import asyncio
import datetime as dt
import io
import json
import logging
import sqlite3
import threading
import time

import pytest
from conftest import SAMPLES
from fastapi.testclient import TestClient
from storekit import load, variant

from api.main import Settings, create_app
from qa.store import open_store
from qa.store.models import AuditRow, Call, Dispute, Review, User
from qa.store.search import key as search_key
from qa.store.users import add_user

pytestmark = pytest.mark.slow
MAX_UPLOAD = 2 * 2**20


def h(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def sec(sample_docs, tmp_path):
    """Two teams, every role, a team-limited supervisor per team; A1 (east) has two calls, A2 (west) one."""
    store = open_store(f"sqlite:///{tmp_path / 'qa.db'}")
    pothole = variant(sample_docs["pothole_report"], 1, "A1", "east", "2026-11-02T09:00:00")
    pothole["emergency"] = {"flag": True, "category": "gas_leak", "cue": "smell gas", "turn": 1, "time": 3.0}
    status = variant(sample_docs["status_followup"], 2, "A1", "east", "2026-11-03T09:00:00")
    status["request_type"] = {
        **status["request_type"],
        "reason": "refers to an existing request: 'check on my request'",
    }
    west = variant(sample_docs["angry_caller"], 3, "A2", "west", "2026-11-04T09:00:00")
    docs = [pothole, status, west]
    ids = load(store, docs)
    audio = tmp_path / "data" / "uploads" / "pothole.flac"
    audio.parent.mkdir(parents=True)
    audio.write_bytes((SAMPLES / "pothole_report.flac").read_bytes())
    with store.session() as s:
        s.get(Call, ids[0]).audio_path = str(audio)
    keys = {
        r: add_user(store, f"u-{r}", r, agent_id="A1" if r == "agent" else None) for r in ("admin", "reviewer", "hr")
    }
    keys["agent"] = add_user(store, "u-agent", "agent", agent_id="A1", team="east")
    keys["agent2"] = add_user(store, "u-agent2", "agent", agent_id="A2", team="west")
    keys["supervisor"] = add_user(store, "u-sup-east", "supervisor", team="east")
    keys["sup_west"] = add_user(store, "u-sup-west", "supervisor", team="west")
    app = create_app(store, Settings(data_dir=tmp_path / "data", worker=False, max_upload_bytes=MAX_UPLOAD))
    client = TestClient(app)
    yield client, keys, ids, docs, store
    store.engine.dispose()


def release(client, keys, cid):
    r = client.post(f"/calls/{cid}/evaluation/release", headers=h(keys["reviewer"]))
    assert r.status_code == 200, r.text


def audit_rows(store, action=None):
    from sqlalchemy import select

    with store.session() as s:
        q = select(AuditRow).order_by(AuditRow.id)
        if action:
            q = q.where(AuditRow.action == action)
        return list(s.scalars(q))


# ------------------------------------------------------------------------------------------------------------ high


def test_h1_coaching_notes_stay_in_the_supervisors_team_and_edits_record_the_editor(sec):
    client, keys, ids, docs, store = sec
    note = client.post("/coaching", json={"agent_id": "A1", "note": "Ask before a hold"}, headers=h(keys["supervisor"]))
    assert note.status_code == 201
    nid = note.json()["id"]
    west = h(keys["sup_west"])
    assert client.get("/coaching", headers=west).json()["count"] == 0
    stolen = client.patch(f"/coaching/{nid}", json={"note": "rewritten by west"}, headers=west)
    missing = client.patch("/coaching/999999", json={"note": "x"}, headers=west)
    assert stolen.status_code == missing.status_code == 404
    assert (
        stolen.json()["detail"] == f"no coaching note {nid}" and missing.json()["detail"] == "no coaching note 999999"
    )
    assert client.post("/coaching", json={"agent_id": "A1", "note": "x"}, headers=west).json() == {
        "detail": "agent_id: no agent 'A1'"  # the same as an agent that does not exist
    }
    # an admin's edit keeps the author and names the editor; the audit keeps before and after
    edit = client.patch(f"/coaching/{nid}", json={"note": "Ask before every hold"}, headers=h(keys["admin"]))
    body = edit.json()
    with store.session() as s:
        from sqlalchemy import select

        sup_id = s.scalar(select(User.id).where(User.name == "u-sup-east"))
        admin_id = s.scalar(select(User.id).where(User.name == "u-admin"))
    assert body["author_id"] == sup_id and body["edited_by"] == admin_id and body["note"] == "Ask before every hold"
    row = audit_rows(store, "coaching.update")[-1]
    assert row.actor_name == "u-admin" and row.details["before"] == {"note": "Ask before a hold"}
    assert row.details["after"] == {"note": "Ask before every hold"} and row.team == "east"


def _asgi(app, method, path, headers, chunks):
    """Drive the ASGI app directly: how many body bytes did it read before answering?"""
    read = 0

    async def run():
        nonlocal read
        it = iter(chunks)

        async def receive():
            nonlocal read
            chunk = next(it, None)
            if chunk is None:
                return {"type": "http.request", "body": b"", "more_body": False}
            read += len(chunk)
            return {"type": "http.request", "body": chunk, "more_body": True}

        sent = []

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "state": {},
        }
        await app(scope, receive, send)
        return sent

    sent = asyncio.run(run())
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body or b"{}"), read


def _multipart(size: int, chunk: int = 1 << 20):
    yield b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
    for _ in range(size // chunk):
        yield b"\0" * chunk
    yield b"\r\n--XyZ--\r\n"


def test_h2_uploads_check_the_key_before_the_body_and_refuse_oversize_while_streaming(sec, tmp_path, monkeypatch):
    client, keys, ids, docs, store = sec
    import tempfile

    spool = tmp_path / "system-temp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))  # where anything spooled by a form parser would land
    uploads = tmp_path / "data" / "uploads"
    before = set(uploads.iterdir())
    app = client.app
    form = {"Content-Type": "multipart/form-data; boundary=XyZ"}
    # 1 GiB without a key: refused before one byte is read
    status, body, read = _asgi(app, "POST", "/calls", form, _multipart(1 << 30))
    assert (status, read) == (401, 0) and "missing API key" in body["detail"]
    # a key whose role may not upload: the same
    status, _, read = _asgi(app, "POST", "/calls", {**form, **h(keys["hr"])}, _multipart(1 << 30))
    assert (status, read) == (403, 0)
    # a declared Content-Length over the limit: refused before reading
    declared = {**form, **h(keys["reviewer"]), "Content-Length": str(1 << 30)}
    status, body, read = _asgi(app, "POST", "/calls", declared, _multipart(1 << 30))
    assert (status, read) == (413, 0) and "MiB" in body["detail"]
    # chunked (no length): counted as it streams, refused just past the limit
    status, body, read = _asgi(app, "POST", "/calls", {**form, **h(keys["reviewer"])}, _multipart(1 << 30))
    assert status == 413 and MAX_UPLOAD < read <= MAX_UPLOAD + 2 * (1 << 20)
    # JSON routes: a large body without a key is refused up front as well
    status, _, read = _asgi(app, "POST", "/coaching", {"Content-Length": str(1 << 30)}, iter([b"{" * (1 << 20)]))
    assert (status, read) == (413, 0)
    assert set(uploads.iterdir()) == before and list(spool.iterdir()) == []  # nothing kept, nothing spooled


def _snippets(doc) -> set[str]:
    """Transcript text in all the places it lives: turn text, evidence quotes, the cue, the reason, entity values."""
    out = {t["text"].strip().lower() for t in doc["turns"] if len(t["text"].split()) >= 4}
    for it in doc["evaluation"]["items"]:
        out |= {e["quote"].lower() for e in it["evidence"] if e.get("quote") and len(e["quote"].split()) >= 3}
    out |= {e["value"].lower() for e in doc["entities"] if len(e["value"]) >= 4}
    if doc["emergency"].get("cue"):
        out.add(doc["emergency"]["cue"].lower())
    if doc["request_type"].get("reason"):
        out.add("check on my request")
    return out


def test_h3_hr_sees_no_transcript_text_anywhere_and_every_role_gets_its_cut(sec):
    client, keys, ids, docs, store = sec
    for cid in ids:
        release(client, keys, cid)
    snippets = set().union(*(_snippets(d) for d in docs))
    assert any("gas" in x for x in snippets) and any("request" in x for x in snippets)
    hr = h(keys["hr"])
    pages = [client.get("/calls", headers=hr)]
    for cid in ids:
        pages += [client.get(f"/calls/{cid}", headers=hr), client.get(f"/calls/{cid}/evaluation", headers=hr)]
    pages += [client.get("/trends", params={"team": "east"}, headers=hr)]
    pages += [client.get("/exports/evaluations.csv", headers=hr)]
    for r in pages:
        assert r.status_code == 200, r.text
        text = r.content.decode("utf-8-sig").lower()
        leaked = [x for x in snippets if x in text]
        assert not leaked, (r.url, leaked[:3])
    detail = client.get(f"/calls/{ids[0]}", headers=hr).json()
    assert detail["turns"] is None and detail["entities"] is None and detail["emergency_detail"]["cue"] is None
    assert detail["emergency_detail"]["flag"] is True  # the facts stay: HR sees that there was an emergency
    quotes = [e["quote"] for it in detail["evaluation"]["items"] for e in it["evidence"]]
    assert quotes and all(q is None for q in quotes)
    assert client.get(f"/calls/{ids[1]}", headers=hr).json()["request_type_detail"]["reason"].startswith("a rule")

    # the cut for every role on every call-reading endpoint
    name = next(e["value"] for e in docs[0]["entities"] if e["type"] == "PERSON").lower()
    expect = {"admin": "raw", "reviewer": "raw", "supervisor": "redacted", "agent": "redacted", "hr": "none"}
    for role, cut in expect.items():
        call = client.get(f"/calls/{ids[0]}", headers=h(keys[role])).json()
        ev = client.get(f"/calls/{ids[0]}/evaluation", headers=h(keys[role])).json()
        blob = json.dumps([call, ev]).lower()
        quotes = [e["quote"] for it in ev["items"] for e in it["evidence"]]
        if cut == "raw":
            assert name in blob and call["emergency_detail"]["cue"] == "smell gas" and not call["redacted"]
        elif cut == "redacted":
            assert name not in blob and "[person]" in blob and call["redacted"] and call["turns"]
            assert any(q for q in quotes)
        else:
            assert name not in blob and call["turns"] is None and all(q is None for q in quotes)


# ---------------------------------------------------------------------------------------------------------- medium


def test_m4_a_locked_database_is_503_and_never_stalls_other_requests(sample_docs, tmp_path):
    db = tmp_path / "qa.db"
    store = open_store(f"sqlite:///{db}", busy_timeout_s=1.5)
    key = add_user(store, "rev", "reviewer")
    app = create_app(store, Settings(data_dir=tmp_path / "data", worker=False, max_upload_bytes=MAX_UPLOAD))
    audio = (SAMPLES / "pothole_report.flac").read_bytes()
    app.state.config_hash({})  # build the pipeline object now, not inside the timed part
    lock = sqlite3.connect(db, timeout=0.1)
    with TestClient(app) as client:
        lock.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            result = {}
            upload = threading.Thread(
                target=lambda: result.update(r=client.post("/calls", files={"file": ("c.flac", audio)}, headers=h(key)))
            )
            upload.start()
            time.sleep(0.3)  # the upload is now waiting for the lock (on the thread pool, not the event loop)
            t0 = time.perf_counter()
            me = client.get("/me", headers=h(key))
            waited = time.perf_counter() - t0
            upload.join(30)
            assert me.status_code == 200 and waited < 0.5, waited
            r = result["r"]
            assert r.status_code == 503 and r.headers["retry-after"] == "5" and "busy" in r.json()["detail"]
            coaching = client.post("/coaching", json={"agent_id": "x", "note": "y"}, headers=h(key))
            assert coaching.status_code in (403, 503)
        finally:
            lock.rollback()
        assert [p.name for p in (tmp_path / "data" / "uploads").iterdir()] == []  # nothing half-done
        assert client.get("/jobs", headers=h(key)).json()["counts"]["queued"] == 0
        ok = client.post("/calls", files={"file": ("c.flac", audio)}, headers=h(key))
        assert ok.status_code == 202, ok.text  # and it works once the lock is gone
    lock.close()
    store.engine.dispose()


def test_m4_many_writers_on_a_locked_database_never_stall_reads(tmp_path):
    """More writes than the thread pool has threads, all waiting for a lock another process holds: reads still answer
    at once (the API waits 2 s for a lock, not the store's 30 s, and at most ``max_writers`` writes run at a time;
    the rest are 503 with Retry-After at once)."""
    db = tmp_path / "qa.db"
    store = open_store(f"sqlite:///{db}")  # the store's default (long) busy timeout, as `qa serve` opens it
    admin = add_user(store, "adm", "admin")
    add_user(store, "target", "reviewer")
    app = create_app(store, Settings(data_dir=tmp_path / "data", worker=False))
    lock = sqlite3.connect(db, timeout=0.1)
    with TestClient(app) as client:
        assert client.get("/me", headers=h(admin)).status_code == 200
        lock.execute("BEGIN IMMEDIATE")
        results = []
        try:
            writers = [
                threading.Thread(target=lambda: results.append(client.post("/users/target/enable", headers=h(admin))))
                for _ in range(60)
            ]
            t0 = time.perf_counter()
            for w in writers:
                w.start()
            time.sleep(0.5)
            t1 = time.perf_counter()
            me = client.get("/me", headers=h(admin))
            waited = time.perf_counter() - t1
            for w in writers:
                w.join(60)
            took = time.perf_counter() - t0
        finally:
            lock.rollback()
        assert me.status_code == 200 and waited < 3, waited
        assert len(results) == 60 and {r.status_code for r in results} == {503}, {r.status_code for r in results}
        assert all(r.headers["retry-after"] == "5" for r in results)
        assert took < 15, took
        assert client.post("/users/target/enable", headers=h(admin)).status_code == 200  # the lock is gone
    lock.close()
    store.engine.dispose()


def test_m5_search_reads_the_redacted_text_for_roles_that_see_redacted_text(sec):
    client, keys, ids, docs, store = sec
    name = next(e["value"] for e in docs[0]["entities"] if e["type"] == "PERSON").lower()
    count = {r: client.get("/calls", params={"q": name}, headers=h(keys[r])).json()["count"] for r in keys if r != "hr"}
    assert count["admin"] == count["reviewer"] >= 1
    assert count["supervisor"] == count["agent"] == count["sup_west"] == 0  # a hidden name is never a hit
    assert client.get("/calls", params={"q": "springfield"}, headers=h(keys["supervisor"])).json()["count"] >= 1


def test_m5_migration_fills_the_redacted_search_column_and_releases_existing_evaluations(sample_docs, tmp_path):
    from sqlalchemy import text

    from qa.store.db import migrate

    url = f"sqlite:///{tmp_path / 'qa.db'}"
    store = open_store(url)
    (cid,) = load(store, [variant(sample_docs["pothole_report"], 9, "A1", "east", "2026-11-02T09:00:00")])
    uid = add_user(store, "r", "reviewer") and 1
    with store.session() as s:
        expected = s.get(Call, cid).search_redacted
        ev_id = s.scalar(text("SELECT id FROM evaluations"))
        s.add(Review(evaluation_id=ev_id, item_id="greeting", answer="no", comment="c", reviewer_id=uid))
        s.add(Dispute(evaluation_id=ev_id, item_id="closing", agent_user_id=uid, reason="r"))
    before = _counts(store)
    migrate(store.engine, "-6")  # back to 0001 (past 0007 ... 0002): the new columns are gone
    migrate(store.engine)
    with store.engine.connect() as c:
        red, released, skey = c.execute(text("SELECT search_redacted, released_at, search_key FROM calls")).one()
        state = c.execute(text("SELECT state FROM evaluations")).scalar()
    assert red == expected and "[person]" in red and released is not None
    assert skey == search_key(cid)  # filled again by the migration: searches still find the call
    assert state == "disputed"  # it had an open dispute: released before this revision, disputed now
    assert _counts(store) == before  # table rebuilds on SQLite lost no turn, review or dispute


def _counts(store):
    from sqlalchemy import func, select

    from qa.store.models import Base

    with store.session() as s:
        tables = [t for t in Base.metadata.sorted_tables if t.name != "audit_log"]  # the trail is new in 0002
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in tables}
    store.engine.dispose()


BAD_IDS = {
    "A1\x00": "control character (U+0000",
    "east\r\nX": "control character (U+000D",
    "\u202eeast": "invisible formatting character (U+202E",
    " east": "leading or trailing whitespace",
    "x" * 101: "longer than 100",
}


def test_m6_identifiers_with_control_characters_are_refused_everywhere(sec, tmp_path):
    client, keys, ids, docs, store = sec
    audio = (SAMPLES / "pothole_report.flac").read_bytes()
    rev, adm = h(keys["reviewer"]), h(keys["admin"])
    for bad, why in BAD_IDS.items():
        for field in ("agent_id", "team", "queue"):
            r = client.post("/calls", files={"file": ("c.flac", audio)}, data={field: bad}, headers=rev)
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == field and why in r.json()["detail"], (
                r.text
            )
        r = client.post("/coaching", json={"agent_id": bad, "note": "n"}, headers=adm)
        assert r.status_code == 422 and "agent_id" in r.json()["detail"]
        r = client.post("/users", json={"name": "n1", "role": "supervisor", "team": bad}, headers=adm)
        assert r.status_code == 422 and "team" in r.json()["detail"]
        for path in ("/calls", "/trends", "/exports/evaluations.csv"):
            r = client.get(path, params={"agent_id": bad}, headers=adm)
            assert r.status_code == 422 and "agent_id" in r.json()["detail"], (path, r.text)
    assert list((tmp_path / "data" / "uploads").glob("*.flac")) == [tmp_path / "data" / "uploads" / "pothole.flac"]
    # a value that got in before validation existed no longer breaks the XLSX export
    with store.session() as s:
        s.get(Call, ids[0]).queue = "streets\x07\x1b"
    x = client.get("/exports/evaluations.xlsx", headers=adm)
    assert x.status_code == 200 and x.content[:2] == b"PK"
    # the manifest and the CLI refuse the same values with a precise message
    from typer.testing import CliRunner

    from qa.cli import app as cli
    from qa.errors import ConfigError
    from qa.manifest import load_manifest

    man = tmp_path / "m.csv"
    man.write_text("path,agent_id,team\na.flac,A1\u202e,east\nb.flac,A2, west\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_manifest(man)
    assert "row 2, column 'agent_id'" in str(err.value) and "U+202E" in str(err.value)
    assert "row 3, column 'team'" in str(err.value) and "whitespace" in str(err.value)
    res = CliRunner().invoke(
        cli, ["user", "add", "x", "--role", "hr", "--team", "a\nb", "--db", f"sqlite:///{tmp_path}/c.db"]
    )
    assert res.exit_code == 2 and "--team: contains a control character (U+000A" in res.output


def test_m6_request_type_search_words_surrogates_and_non_characters_are_refused(sec):
    """request_type and q reached the SQL filter unchecked (NUL: a 500 on PostgreSQL); identifiers took lone
    surrogates and non-characters; an XLSX cell with U+FFFE/U+FFFF is not valid XML."""
    import openpyxl

    from qa.exports.reports import _cell_text
    from qa.identifiers import IdentifierError, check_identifier, check_text

    client, keys, ids, docs, store = sec
    adm = h(keys["admin"])
    for params, field in (
        ({"request_type": "a\x00b"}, "request_type"),
        ({"request_type": "pot\u202ehole"}, "request_type"),
        ({"q": "ab\x00"}, "q"),
        ({"q": "pot\x1bhole"}, "q"),
        ({"q": "ab\ufffe"}, "q"),
    ):
        r = client.get("/calls", params=params, headers=adm)
        assert r.status_code == 422 and field in r.json()["detail"], (params, r.text)
    assert client.get("/calls", params={"request_type": "pothole", "q": "my street"}, headers=adm).status_code == 200
    for bad in ("a\ud800", "a\ufffe", "a\uffff", "a\ufdd0", "a\U000e0000"):
        with pytest.raises(IdentifierError):
            check_identifier(bad, "team")
    for bad in ("note \ud800", "note \uffff"):
        with pytest.raises(IdentifierError):
            check_text(bad, "comment")
    assert _cell_text("a\ufffe\uffffb") == "a\ufffd\ufffdb"
    with store.session() as s:
        s.get(Call, ids[0]).queue = "streets\ufffe\uffff"  # got in before validation existed
    x = client.get("/exports/evaluations.xlsx", headers=adm)
    assert x.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(x.content))  # valid XML
    cells = [c.value for row in book.active.iter_rows() for c in row]
    assert "streets\ufffd\ufffd" in cells


def test_m6_dollar_signs_in_a_pdf_report_are_text_not_mathtext(sec):
    """``team=$\\undefinedmacro$`` was a 500: matplotlib parsed the report's title as mathtext. Labels in the table
    (request types) are data too."""
    client, keys, ids, docs, store = sec
    adm = h(keys["admin"])
    with store.session() as s:
        s.get(Call, ids[0]).request_type = "$\\frac{$"
    for params in ({"team": "$\\undefinedmacro$"}, {"team": "east"}, {"agent_id": "$x^$"}):
        r = client.get("/exports/report.pdf", params=params, headers=adm)
        assert r.status_code == 200 and r.content[:5] == b"%PDF-", (params, r.text[:200])


def test_m7_keys_expire_rotate_disable_record_last_use_and_bad_keys_are_throttled(sec):
    client, keys, ids, docs, store = sec
    from sqlalchemy import update

    from qa.store.users import rotate_key, set_active

    key = keys["reviewer"]
    assert client.get("/me", headers=h(key)).status_code == 200
    client.app.state.last_used.flush()
    users = {u["name"]: u for u in client.get("/users", headers=h(keys["admin"])).json()}
    assert users["u-reviewer"]["last_used_at"] is not None and users["u-hr"]["last_used_at"] is None
    with store.session() as s:
        s.execute(update(User).where(User.name == "u-reviewer").values(expires_at=dt.datetime(2020, 1, 1)))
    r = client.get("/me", headers=h(key))
    assert r.status_code == 401 and "expired on 2020-01-01" in r.json()["detail"]
    new, info = rotate_key(store, "u-reviewer", dt.timedelta(days=30))
    assert client.get("/me", headers=h(key)).status_code == 401 and client.get("/me", headers=h(new)).status_code == 200
    assert info.expires_at > dt.datetime.now() + dt.timedelta(days=29)
    set_active(store, "u-reviewer", False)
    assert client.get("/me", headers=h(new)).json()["detail"] == "unknown or disabled API key"
    # rotation over the API too: the old key stops at once, the new one is shown once
    rot = client.post("/users/u-hr/rotate", json={"expires_in_days": 7}, headers=h(keys["admin"]))
    assert rot.status_code == 200 and client.get("/me", headers=h(keys["hr"])).status_code == 401
    assert client.get("/me", headers=h(rot.json()["key"])).status_code == 200
    # ten bad keys from one address (four above: expired, rotated, disabled, rotated): then 429 with Retry-After,
    # whatever key it sends
    for i in range(6):
        assert client.get("/me", headers=h(f"guess-{i}")).status_code == 401
    r = client.get("/me", headers=h(keys["admin"]))
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60 and "too many bad API keys" in r.text


def test_m7_user_commands_list_disable_rotate(tmp_path):
    from typer.testing import CliRunner

    from qa.cli import app as cli

    run = CliRunner().invoke
    db = f"sqlite:///{tmp_path / 'qa.db'}"
    assert run(cli, ["user", "add", "rita", "--role", "reviewer", "--expires-in", "30d", "--db", db]).exit_code == 0
    assert run(cli, ["user", "add", "bob", "--role", "hr", "--expires-in", "soon", "--db", db]).exit_code == 2
    old = open_store(db)
    res = run(cli, ["user", "rotate", "rita", "--db", db])
    assert res.exit_code == 0 and res.output.strip().startswith("cqa_")
    assert run(cli, ["user", "disable", "rita", "--db", db]).exit_code == 0
    assert run(cli, ["user", "disable", "nobody", "--db", db]).exit_code == 2
    listing = run(cli, ["user", "list", "--db", db]).output
    assert "rita" in listing and "disabled" in listing
    actions = [r.action for r in audit_rows(old)]
    assert actions == ["user.create", "user.rotate_key", "user.disable"] and audit_rows(old)[0].actor_role == "cli"
    old.engine.dispose()


def test_m8_overrides_need_a_comment_keep_their_history_and_wait_for_open_disputes(sec):
    client, keys, ids, docs, store = sec
    cid, rev = ids[0], h(keys["reviewer"])
    item = client.get(f"/calls/{cid}/evaluation", headers=rev).json()["items"][0]["id"]
    url = f"/calls/{cid}/evaluation/items/{item}"
    for body in ({"answer": "no"}, {"answer": "no", "comment": ""}, {"answer": "no", "comment": "   "}):
        r = client.put(url, json=body, headers=rev)
        assert r.status_code == 422 and "comment" in r.json()["detail"]
    assert client.put(url, json={"answer": "no", "comment": "first"}, headers=rev).status_code == 200
    ev = client.put(url, json={"answer": "yes", "comment": "second look"}, headers=h(keys["admin"])).json()
    it = {i["id"]: i for i in ev["items"]}[item]
    assert [(o["answer"], o["comment"]) for o in it["overrides"]] == [("no", "first"), ("yes", "second look")]
    release(client, keys, cid)
    d = client.post(f"/calls/{cid}/disputes", json={"item_id": item, "reason": "r"}, headers=h(keys["agent"]))
    assert d.status_code == 201
    r = client.put(url, json={"answer": "no", "comment": "sneaky"}, headers=rev)
    assert r.status_code == 409 and f"open dispute ({d.json()['id']})" in r.json()["detail"]
    # calibration answers are appended: the latest wins, the history stays
    sid = client.post("/calibrations", json={"call_id": cid, "name": "c"}, headers=rev).json()["id"]
    client.put(f"/calibrations/{sid}/answers", json={"answers": {item: "yes"}}, headers=rev)
    res = client.put(f"/calibrations/{sid}/answers", json={"answers": {item: "no"}}, headers=rev).json()
    assert res["items"][item]["answers"]["u-reviewer"] == "no"
    assert [(x["item"], x["answer"]) for x in res["history"]] == [(item, "yes"), (item, "no")]
    # exports and audio downloads are recorded
    client.get("/exports/evaluations.csv", params={"team": "east"}, headers=h(keys["hr"]))
    client.get(f"/calls/{cid}/audio", headers={**rev, "Range": "bytes=0-9"})
    export = audit_rows(store, "export")[-1]
    audio = audit_rows(store, "call.audio")[-1]
    assert export.actor_name == "u-hr" and export.details["filters"]["team"] == "east" and export.details["rows"] == 2
    assert audio.object_id == cid and audio.details["range"] == "bytes=0-9"


# ------------------------------------------------------------------------------------------------------------- low


def test_low_dates_that_overflow_are_422(sec):
    client, keys, ids, docs, store = sec
    adm = h(keys["admin"])
    for path in ("/trends", "/exports/evaluations.csv", "/exports/evaluations.xlsx", "/exports/report.pdf"):
        for params in ({"end": "9999-12-31"}, {"start": "0001-01-01"}):
            r = client.get(path, params=params, headers=adm)
            assert r.status_code == 422 and "must be between" in r.json()["detail"], (path, params, r.text)
    r = client.get("/calls", params={"start": "0001-01-01T00:00:00+05:00"}, headers=adm)
    assert r.status_code == 422 and "start" in r.json()["detail"]
    r = client.get("/audit", params={"until": "9999-12-31T23:59:59-05:00"}, headers=adm)
    assert r.status_code == 422


def test_low_csv_formula_guard_covers_tab_cr_and_the_usual_starts(sec):
    client, keys, ids, docs, store = sec
    from qa.exports.reports import to_csv

    rows = list(
        __import__("csv").reader(
            io.StringIO(
                to_csv(["v"], [[x] for x in ("\t=1+1", "\r=2", "=3", "+x", "-y", "@z", "-4.5")]).decode("utf-8-sig")
            )
        )
    )
    assert [r[0] for r in rows[1:]] == ["'\t=1+1", "'\r=2", "'=3", "'+x", "'-y", "'@z", "-4.5"]
    with store.session() as s:
        s.get(Call, ids[0]).queue = "@SUM(1+1)"
    csv_text = client.get("/exports/evaluations.csv", headers=h(keys["hr"])).content.decode("utf-8-sig")
    assert "'@SUM(1+1)" in csv_text


def test_low_cross_team_answers_read_like_missing_ones(sec):
    client, keys, ids, docs, store = sec
    west = h(keys["sup_west"])
    east_call = ids[0]
    assert client.get(f"/calls/{east_call}", headers=west).json() == {"detail": f"no call '{east_call}'"}
    sid = client.post("/calibrations", json={"call_id": east_call, "name": "c"}, headers=h(keys["admin"])).json()["id"]
    assert client.get(f"/calibrations/{sid}", headers=west).json() == {"detail": f"no calibration session {sid}"}
    release(client, keys, east_call)
    item = client.get(f"/calls/{east_call}/evaluation", headers=h(keys["agent"])).json()["items"][0]["id"]
    did = client.post(
        f"/calls/{east_call}/disputes", json={"item_id": item, "reason": "r"}, headers=h(keys["agent"])
    ).json()["id"]
    r = client.post(f"/disputes/{did}/resolve", json={"status": "rejected", "reason": "x"}, headers=west)
    assert r.json() == {"detail": f"no dispute {did}"}
    for path in (f"/calls/{east_call}/evaluation", f"/calls/{east_call}/audio"):
        assert client.get(path, headers=west).json() == {"detail": f"no call '{east_call}'"}


def test_low_jobs_are_scoped_by_team_and_show_paths_to_admins_only(sec, tmp_path):
    client, keys, ids, docs, store = sec
    from qa.runner import queue

    secret = str(tmp_path / "srv" / "private")
    east, _ = queue.enqueue(store, f"{secret}/e.flac", "e" * 64, "cfg", {"team": "east"})
    west, _ = queue.enqueue(store, f"{secret}/w.flac", "f" * 64, "cfg", {"team": "west"})
    job = queue.claim(store, "w")
    queue.fail(store, job, "audio_decode", f"{secret}/e.flac: corrupt", permanent=True)
    sup = h(keys["supervisor"])
    assert client.get(f"/jobs/{west}", headers=sup).json() == {"detail": f"no job {west}"}
    mine = client.get(f"/jobs/{east}", headers=sup).json()
    assert mine["file"] == "e.flac" and mine["path"] is None and secret not in json.dumps(mine)
    overview = client.get("/jobs", headers=sup).json()
    assert overview["counts"]["failed"] == 1 and overview["counts"]["queued"] == 0  # west's job is not counted
    assert secret not in json.dumps(overview) and overview["failures"][0]["file"] == "e.flac"
    assert secret not in client.get("/jobs", headers=h(keys["reviewer"])).text
    assert client.get(f"/jobs/{east}", headers=h(keys["admin"])).json()["path"] == f"{secret}/e.flac"


def test_low_access_log_never_holds_the_query_string(sec, caplog):
    client, keys, ids, docs, store = sec
    with caplog.at_level(logging.INFO, logger="qa.api.access"):
        client.get("/calls", params={"q": "pothole secretword"}, headers=h(keys["admin"]))
    lines = [r.getMessage() for r in caplog.records if r.name == "qa.api.access"]
    assert any('"GET /calls"' in line and " 200 " in line for line in lines), lines
    assert not any("secretword" in line or "q=" in line for line in lines)


def test_low_every_response_has_nosniff_and_no_store(sec):
    client, keys, ids, docs, store = sec
    adm = h(keys["admin"])
    responses = [
        client.get("/calls", headers=adm),
        client.get(f"/calls/{ids[0]}", headers=adm),
        client.get(f"/calls/{ids[0]}/audio", headers=adm),
        client.get("/exports/evaluations.csv", headers=adm),
        client.get("/calls"),  # 401
        client.get("/calls/nope", headers=adm),  # 404
        client.get("/calls", params={"limit": 0}, headers=adm),  # 422
        client.get("/openapi.json"),
        client.get("/docs"),
    ]
    for r in responses:
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["cache-control"] == "no-store", r.url


def test_low_docs_work_offline(sec):
    client, keys, ids, docs, store = sec
    import re

    page = client.get("/docs")
    assert page.status_code == 200 and "cdn." not in page.text and "https://" not in page.text
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for a in assets:
        assert client.get(a).status_code == 200, a
    assert client.get("/redoc").status_code == 200 and "fonts.googleapis" not in client.get("/redoc").text


def test_low_the_sqlite_file_and_its_journal_are_owner_only(tmp_path):
    import os

    store = open_store(f"sqlite:///{tmp_path / 'qa.db'}")
    add_user(store, "x", "hr")  # some writes: -wal and -shm exist now
    for name in ("qa.db", "qa.db-wal", "qa.db-shm"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == 0o600, name
    store.engine.dispose()


def test_low_an_agent_cannot_re_dispute_an_item_forever_nor_after_the_window(sec):
    client, keys, ids, docs, store = sec
    cid, agent = ids[0], h(keys["agent"])
    release(client, keys, cid)
    item = client.get(f"/calls/{cid}/evaluation", headers=agent).json()["items"][0]["id"]
    d = client.post(f"/calls/{cid}/disputes", json={"item_id": item, "reason": "r"}, headers=agent).json()
    client.post(
        f"/disputes/{d['id']}/resolve", json={"status": "rejected", "reason": "no"}, headers=h(keys["supervisor"])
    )
    again = client.post(f"/calls/{cid}/disputes", json={"item_id": item, "reason": "r2"}, headers=agent)
    assert again.status_code == 409 and "limit is 1" in again.json()["detail"]
    other = client.get(f"/calls/{cid}/evaluation", headers=agent).json()["items"][1]["id"]
    from sqlalchemy import update

    from qa.store.models import EvaluationRow

    with store.session() as s:
        s.execute(update(EvaluationRow).values(dispute_until=dt.datetime(2020, 1, 1)))
    late = client.post(f"/calls/{cid}/disputes", json={"item_id": other, "reason": "late"}, headers=agent)
    assert late.status_code == 409 and "dispute window closed on 2020-01-01" in late.json()["detail"]
