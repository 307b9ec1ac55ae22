"""``qa`` commands around the results store, the API and the job queue: import, user add, serve, db, enqueue,
worker, jobs. Registered on the main Typer app by ``qa.cli``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from qa.errors import QAError

DB_HELP = "Database URL: sqlite:///qa.db (default, one file) or postgresql://user@host/db."
DbOpt = Annotated[str, typer.Option("--db", envvar="CALLQA_DB", help=DB_HELP)]
DEFAULT_DB = "sqlite:///qa.db"


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _store(db: str):
    from qa.store import open_store

    try:
        return open_store(db)
    except QAError as exc:
        _fail(str(exc))


def import_results(
    results: Annotated[list[Path], typer.Argument(help="Results folders or call JSON files from 'qa process'.")],
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Load processed calls into the store. Idempotent: a call already there (same audio) is updated, not doubled."""
    from qa import jsonio
    from qa.store.calls import import_document

    store = _store(db)
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
                _, created = import_document(s, doc, audio)
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


def _safe(db: str) -> str:
    from sqlalchemy.engine import make_url

    from qa.store.db import normalize_url

    try:
        return make_url(normalize_url(db)).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "the database"


user_app = typer.Typer(help="API users: each gets a key (shown once) and a role.")


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name (unique).")],
    role: Annotated[str, typer.Option(help="admin, reviewer, supervisor, hr or agent.")],
    agent_id: Annotated[str | None, typer.Option(help="For role agent: the agent id on their calls.")] = None,
    team: Annotated[str | None, typer.Option(help="For a supervisor: limit them to this team.")] = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Create a user and print their API key (send it as 'Authorization: Bearer KEY')."""
    from qa.store.users import add_user

    store = _store(db)
    try:
        key = add_user(store, name, role, agent_id, team)
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
    max_upload_mb: Annotated[int, typer.Option(help="Largest upload accepted.")] = 200,
    workers: Annotated[int, typer.Option(help="HTTP worker processes (uvicorn).")] = 1,
) -> None:
    """Serve the API (OpenAPI at /openapi.json, interactive docs at /docs)."""
    import logging

    import uvicorn

    from api.main import Settings, create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "faster_whisper", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    store = _store(db)
    settings = Settings(data_dir=data_dir, max_upload_bytes=max_upload_mb * 2**20, worker=worker, model=model)
    if workers > 1:
        os.environ["CALLQA_DB"] = db
        os.environ["CALLQA_DATA_DIR"] = str(data_dir)
        os.environ["CALLQA_MAX_UPLOAD_MB"] = str(max_upload_mb)
        uvicorn.run("api.factory:app", host=host, port=port, workers=workers, log_level="warning", factory=True)
        return
    uvicorn.run(create_app(store, settings), host=host, port=port, log_level="info")


db_app = typer.Typer(help="Database schema (Alembic migrations).")


@db_app.command("upgrade")
def db_upgrade(db: DbOpt = DEFAULT_DB, revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the latest). Every command does this on its own as well."""
    from qa.store.db import make_engine, migrate

    migrate(make_engine(db), revision)
    typer.echo(f"{_safe(db)}: at {revision}")


@db_app.command("downgrade")
def db_downgrade(db: DbOpt = DEFAULT_DB, revision: Annotated[str, typer.Argument()] = "-1") -> None:
    """Undo migrations down to REVISION ("-1": one step, "base": everything; data in dropped tables is lost)."""
    from qa.store.db import make_engine, migrate

    migrate(make_engine(db), revision)
    typer.echo(f"{_safe(db)}: downgraded to {revision}")


def register(app: typer.Typer) -> None:
    app.command("import")(import_results)
    app.command()(serve)
    app.add_typer(user_app, name="user")
    app.add_typer(db_app, name="db")
