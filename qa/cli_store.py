"""``qa`` commands around the results store, the API and the job queue: import, user add, serve, db, enqueue,
worker, jobs. Registered on the main Typer app by ``qa.cli``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from qa.cli_common import DEFAULT_DB, DbOpt
from qa.cli_common import fail as _fail
from qa.cli_common import open_db as _store
from qa.cli_common import safe_url as _safe
from qa.errors import QAError


def import_results(
    results: Annotated[list[Path], typer.Argument(help="Results folders or call JSON files from 'qa process'.")],
    db: DbOpt = DEFAULT_DB,
    reassign: Annotated[
        bool,
        typer.Option(
            "--reassign",
            help="Let the documents' metadata move calls already stored (and their agents) to another agent or team.",
        ),
    ] = False,
) -> None:
    """Load processed calls into the store. Idempotent: a call already there (same audio) is updated, not doubled.
    A stored call keeps its agent and team unless --reassign; an evaluation no longer a draft is never rewritten (a
    changed one becomes a new draft revision); every change to a stored call is in the audit trail."""
    from qa import jsonio
    from qa.store.audit import Actor
    from qa.store.calls import import_document

    store = _store(db)
    actor = Actor.cli()
    files: list[Path] = []
    for r in results:
        if r.is_dir():
            files += sorted(p for p in r.rglob("*.json") if not p.name.endswith(".error.json"))
        elif r.is_file():
            files.append(r)
        else:
            _fail(f"{r}: no such file or folder")
    new = updated = 0
    problems = []
    for f in files:
        try:
            doc = jsonio.loads(f.read_bytes())
            audio = _audio_beside(f, doc)
            with store.session() as s:
                _, created = import_document(s, doc, audio, actor=actor, action="call.import", reassign=reassign)
            new += created
            updated += not created
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{f}: not a call document written by 'qa process' ({type(exc).__name__}: {exc})")
    for p in problems:
        typer.echo(f"error: {p}", err=True)
    typer.echo(f"{new} new, {updated} updated, {len(problems)} failed -> {_safe(db)}")
    raise typer.Exit(1 if problems else 0)


def _audio_beside(json_path: Path, doc: dict) -> str | None:
    """The recording the API may stream: the document's source, when it still exists (and is audio)."""
    from qa.audio.decode import AUDIO_EXTENSIONS

    src = Path(str(doc.get("source", "")))
    for candidate in (src, json_path.parent / src.name):
        if candidate.suffix.lower() in AUDIO_EXTENSIONS and candidate.is_file():
            return str(candidate.resolve())
    return None


user_app = typer.Typer(
    help="API users and their keys: each user has a role and one key (shown once, stored hashed). Keys can expire, "
    "be rotated (the old key stops at once) and be disabled; every change is in the audit trail."
)
ExpiresOpt = Annotated[
    str,
    typer.Option(
        "--expires-in",
        help="How long the key works: e.g. 90d, 12w, 36h, or never. After that requests get 401 until the key is "
        "rotated.",
    ),
]


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name (unique).")],
    role: Annotated[str, typer.Option(help="admin, reviewer, supervisor, hr or agent.")],
    agent_id: Annotated[str | None, typer.Option(help="For role agent: the agent id on their calls.")] = None,
    team: Annotated[str | None, typer.Option(help="For a supervisor: limit them to this team.")] = None,
    expires_in: ExpiresOpt = "90d",
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Create a user and print their API key once (send it as 'Authorization: Bearer KEY')."""
    from qa.store.users import add_user, parse_expiry

    store = _store(db)
    try:
        key = add_user(store, name, role, agent_id, team, parse_expiry(expires_in))
    except QAError as exc:
        _fail(str(exc))
    typer.echo(key)


@user_app.command("list")
def user_list(
    db: DbOpt = DEFAULT_DB,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Users with role, team, key status (active, disabled, expired), expiry and last use (UTC)."""
    import json

    from qa.store.users import list_users

    users = list_users(_store(db))
    if as_json:
        rows = [
            {
                "name": u.name,
                "role": u.role,
                "agent_id": u.agent_id,
                "team": u.team,
                "status": u.status,
                "expires_at": _t(u.expires_at),
                "last_used_at": _t(u.last_used_at),
                "key_created_at": _t(u.key_created_at),
            }
            for u in users
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'name':20s} {'role':10s} {'team/agent':16s} {'status':9s} {'expires':16s} last used")
    for u in users:
        who = u.team or u.agent_id or "-"
        typer.echo(
            f"{u.name[:20]:20s} {u.role:10s} {who[:16]:16s} {u.status:9s} {_t(u.expires_at) or 'never':16s} "
            f"{_t(u.last_used_at) or 'never'}"
        )


def _t(t) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%d %H:%M")


@user_app.command("disable")
def user_disable(name: Annotated[str, typer.Argument(help="User name.")], db: DbOpt = DEFAULT_DB) -> None:
    """Disable a user: their key stops working at once (enable brings it back)."""
    from qa.store.users import set_active

    try:
        set_active(_store(db), name, False)
    except QAError as exc:
        _fail(str(exc))
    typer.echo(f"{name}: disabled")


@user_app.command("enable")
def user_enable(name: Annotated[str, typer.Argument(help="User name.")], db: DbOpt = DEFAULT_DB) -> None:
    """Enable a disabled user again (their key works again unless it expired)."""
    from qa.store.users import set_active

    try:
        set_active(_store(db), name, True)
    except QAError as exc:
        _fail(str(exc))
    typer.echo(f"{name}: enabled")


@user_app.command("rotate")
def user_rotate(
    name: Annotated[str, typer.Argument(help="User name.")],
    expires_in: ExpiresOpt = "90d",
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Give a user a new key and print it once; the old key stops working at once."""
    from qa.store.users import parse_expiry, rotate_key

    try:
        key, _ = rotate_key(_store(db), name, parse_expiry(expires_in))
    except QAError as exc:
        _fail(str(exc))
    typer.echo(key)


def serve(
    db: DbOpt = DEFAULT_DB,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default: put TLS in front).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    data_dir: Annotated[Path, typer.Option(help="Where uploaded recordings are kept.")] = Path("callqa-data"),
    worker: Annotated[bool, typer.Option(help="Process uploads in a background worker in this process.")] = True,
    model: Annotated[str | None, typer.Option(help="ASR model for the background worker. [default: base]")] = None,
    max_upload_mb: Annotated[int, typer.Option(min=1, help="Largest upload accepted (checked as it streams).")] = 200,
    workers: Annotated[int, typer.Option(help="HTTP worker processes (uvicorn).")] = 1,
    dispute_window_days: Annotated[
        int, typer.Option(min=1, max=365, help="Days after release during which an agent may dispute an item.")
    ] = 14,
    max_disputes: Annotated[int, typer.Option(min=1, max=10, help="Disputes an agent may file per item.")] = 1,
    db_busy_timeout: Annotated[
        float,
        typer.Option(min=0.1, max=60, help="Seconds a request waits for a locked database before it is answered 503."),
    ] = 2.0,
    review_sample: Annotated[
        int, typer.Option(min=0, max=50, help="Calls per agent per week the review queue draws for manual evaluation.")
    ] = 2,
) -> None:
    """Serve the API (OpenAPI at /openapi.json, interactive docs at /docs, served from local files) and the review
    console (sign in at /login with the same key; the call list at /). The access log
    names method, path and status, never the query string (search words are transcript words)."""
    import datetime as dt
    import logging

    import uvicorn

    from api.main import Settings, create_app
    from qa.store.lifecycle import Policy

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "faster_whisper", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    store = _store(db)
    policy = Policy(dt.timedelta(days=dispute_window_days), max_disputes)
    settings = Settings(
        data_dir=data_dir,
        max_upload_bytes=max_upload_mb * 2**20,
        worker=worker,
        model=model,
        lifecycle=policy,
        db_busy_timeout_s=db_busy_timeout,
        review_sample=review_sample,
    )
    if workers > 1:
        os.environ["CALLQA_DB"] = db
        os.environ["CALLQA_DATA_DIR"] = str(data_dir)
        os.environ["CALLQA_MAX_UPLOAD_MB"] = str(max_upload_mb)
        os.environ["CALLQA_DISPUTE_WINDOW_DAYS"] = str(dispute_window_days)
        os.environ["CALLQA_DB_BUSY_TIMEOUT_S"] = str(db_busy_timeout)
        os.environ["CALLQA_MAX_DISPUTES"] = str(max_disputes)
        os.environ["CALLQA_REVIEW_SAMPLE"] = str(review_sample)
        uvicorn.run(
            "api.factory:app",
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            factory=True,
            access_log=False,
        )
        return
    # uvicorn's own access log prints the query string: ours (qa.api.access) prints the path only
    uvicorn.run(create_app(store, settings), host=host, port=port, log_level="info", access_log=False)


db_app = typer.Typer(help="Database schema (Alembic migrations).")


@db_app.command("upgrade")
def db_upgrade(db: DbOpt = DEFAULT_DB, revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the latest). Every command does this on its own as well."""
    from qa.store.db import make_engine, migrate

    migrate(make_engine(db), revision)
    typer.echo(f"{_safe(db)}: at {revision}")


@db_app.command("downgrade")
def db_downgrade(
    db: DbOpt = DEFAULT_DB,
    revision: Annotated[str, typer.Argument()] = "-1",
    force: Annotated[
        bool, typer.Option("--force", help="Downgrade even when that deletes audit rows or evaluation revisions.")
    ] = False,
) -> None:
    """Undo migrations down to REVISION ("-1": one step, "base": everything, or a revision id). Refused when it would
    delete the audit trail (revision 0002 drops it) or evaluation revisions (0004), unless --force."""
    from qa.store.db import downgrade, make_engine

    try:
        downgrade(make_engine(db), revision, force)
    except QAError as exc:
        _fail(str(exc))
    typer.echo(f"{_safe(db)}: downgraded to {revision}")


def register(app: typer.Typer) -> None:
    app.command("import")(import_results)
    app.command()(serve)
    app.add_typer(user_app, name="user")
    app.add_typer(db_app, name="db")
