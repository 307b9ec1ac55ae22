"""What the ``qa`` sub-command modules share: the database option, one way to fail with a message, opening the
store, and a database URL safe to print."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer

from qa.errors import QAError

DB_HELP = "Database URL: sqlite:///qa.db (default, one file) or postgresql://user@host/db."
DbOpt = Annotated[str, typer.Option("--db", envvar="CALLQA_DB", help=DB_HELP)]
DEFAULT_DB = "sqlite:///qa.db"


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def open_db(db: str):
    from qa.store import open_store

    try:
        return open_store(db)
    except QAError as exc:
        fail(str(exc))


def safe_url(db: str) -> str:
    from sqlalchemy.engine import make_url

    from qa.store.db import normalize_url

    try:
        return make_url(normalize_url(db)).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "the database"
