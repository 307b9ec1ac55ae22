"""The flow from a fresh clone, for real: `qa process --db`, `qa import` (idempotent), `qa user add`, then `qa serve`
as a separate process answering over HTTP on loopback."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import SAMPLES
from typer.testing import CliRunner

from qa.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()
QA = [sys.executable, "-m", "qa.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_process_into_db_user_add_and_serve(tmp_path):
    db = f"sqlite:///{tmp_path / 'qa.db'}"
    res = runner.invoke(
        app,
        [
            "process",
            str(SAMPLES / "pothole_report.flac"),
            str(SAMPLES / "angry_caller.flac"),
            "--out",
            str(tmp_path / "out"),
            "--db",
            db,
            "--model",
            "tiny.en",
            "--no-progress",
            "--manifest",
            str(SAMPLES / "manifest.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["import", str(tmp_path / "out"), "--db", db])
    assert res.exit_code == 0 and "0 new, 2 updated, 0 failed" in res.output  # idempotent: nothing doubled
    res = runner.invoke(app, ["user", "add", "rita", "--role", "reviewer", "--db", db])
    assert res.exit_code == 0
    key = res.output.strip().splitlines()[-1]
    assert key.startswith("cqa_")
    res = runner.invoke(app, ["user", "add", "rita", "--role", "reviewer", "--db", db])
    assert res.exit_code == 2 and "already exists" in res.output
    res = runner.invoke(app, ["user", "add", "x", "--role", "boss", "--db", db])
    assert res.exit_code == 2 and "not a role" in res.output
    raw = (tmp_path / "qa.db").read_bytes()
    assert key.encode() not in raw  # only the hash is stored

    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*QA, "serve", "--db", db, "--port", str(port), "--no-worker", "--data-dir", str(tmp_path / "data")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("qa serve did not start: " + proc.stdout.read1().decode(errors="replace"))
        hdr = {"Authorization": f"Bearer {key}"}
        calls = httpx.get(f"{base}/calls", headers=hdr).json()
        assert calls["count"] == 2
        agents = {c["agent_id"] for c in calls["data"]}
        assert agents and None not in agents  # from the manifest
        cid = calls["data"][0]["id"]
        detail = httpx.get(f"{base}/calls/{cid}", headers=hdr).json()
        assert detail["turns"] and detail["evaluation"]["items"]
        audio = httpx.get(f"{base}/calls/{cid}/audio", headers={**hdr, "Range": "bytes=0-9"})
        assert audio.status_code == 206 and audio.content == b"fLaC" + audio.content[4:] and len(audio.content) == 10
        assert httpx.get(f"{base}/calls", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert "paths" in json.loads(httpx.get(f"{base}/openapi.json").text)
        searched = httpx.get(f"{base}/calls", params={"q": "zebrafinch"}, headers=hdr)
        assert searched.status_code == 200 and searched.headers["cache-control"] == "no-store"
        # a 10 GB upload without a key: answered at once, before the server reads the body
        for extra, status in (("", 401), (f"Authorization: Bearer {key}\r\n", 413)):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(
                    (
                        "POST /calls HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                        f"{extra}Content-Length: 10000000000\r\n\r\n"
                    ).encode()
                )
                assert sock.recv(200).startswith(f"HTTP/1.1 {status}".encode())
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0].decode(errors="replace")
    for turn in detail["turns"]:  # no transcript text in the server's log
        assert len(turn["text"]) < 12 or turn["text"] not in out
    assert '"GET /calls" 200' in out and "zebrafinch" not in out  # the access log has paths, never query strings
    assert not list((tmp_path / "data" / "uploads").glob("*"))


def test_store_and_queue_commands_reject_bad_input(tmp_path):
    db = f"sqlite:///{tmp_path / 'qa.db'}"
    (tmp_path / "other.json").write_text('{"name": "not a call"}')
    (tmp_path / "broken.json").write_text("{oops")
    res = runner.invoke(app, ["import", str(tmp_path / "other.json"), str(tmp_path / "broken.json"), "--db", db])
    assert res.exit_code == 1 and "0 new, 0 updated, 2 failed" in res.output
    assert "other.json: not a call document" in res.output and "broken.json: not a call document" in res.output
    res = runner.invoke(app, ["import", str(tmp_path / "nowhere"), "--db", db])
    assert res.exit_code == 2 and "nowhere: no such file or folder" in res.output
    res = runner.invoke(app, ["import", str(tmp_path), "--db", "mysql://root@localhost/x"])
    assert res.exit_code == 2 and "unsupported database" in res.output
    res = runner.invoke(app, ["user", "add", "a", "--role", "agent", "--db", db])
    assert res.exit_code == 2 and "--agent-id" in res.output
    res = runner.invoke(app, ["worker", "--db", db, "--runner", "spark"])
    assert res.exit_code == 2 and "choose local or ray" in res.output
    res = runner.invoke(app, ["worker", "--db", db, "--runner", "ray", "--until-empty"])
    assert res.exit_code == 2 and "postgresql" in res.output
    res = runner.invoke(app, ["enqueue", str(tmp_path / "nowhere.wav"), "--db", db, "--model", "tiny.en"])
    assert res.exit_code == 1 and "nowhere.wav: cannot read" in res.output
    res = runner.invoke(app, ["jobs", "--db", db, "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["counts"]["queued"] == 0
