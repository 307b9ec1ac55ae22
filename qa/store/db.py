"""Engines and sessions. SQLite gets WAL, foreign keys and a busy timeout on every connection; PostgreSQL URLs use
psycopg 3. The schema is created and upgraded by Alembic (``migrate``), never by ``create_all``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from qa.errors import ConfigError

log = logging.getLogger("qa.store")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_URL = "sqlite:///callqa.db"


class StoreError(ConfigError):
    """The database cannot be reached or used."""

    kind = "store"


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3; a bare path means a SQLite file."""
    if "://" not in url:
        return f"sqlite:///{url}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    try:
        u = make_url(url)
    except ArgumentError:
        raise StoreError(f"--db: not a database URL: {url!r} (e.g. sqlite:///qa.db or postgresql://host/db)") from None
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            parent = Path(u.database).expanduser().resolve().parent
            if not parent.is_dir():
                raise StoreError(f"--db: folder {parent} does not exist")
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if u.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise StoreError(f"--db: unsupported database {u.get_backend_name()!r}; use sqlite:/// or postgresql://")


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade (or with a revision like "-1"/"base", downgrade) the schema on this engine."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        if revision == "head" or not revision.startswith(("-", "base")):
            command.upgrade(cfg, revision)
        else:
            command.downgrade(cfg, revision)


@dataclass
class Store:
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error."""
        with self.sessions.begin() as s:
            yield s

    def tables(self) -> list[str]:
        return inspect(self.engine).get_table_names()


def open_store(url: str = DEFAULT_URL, upgrade: bool = True) -> Store:
    engine = make_engine(url)
    try:
        if upgrade:
            migrate(engine)
        else:
            with engine.connect():
                pass
    except OperationalError as exc:
        raise StoreError(f"--db: cannot use {engine.url.render_as_string()}: {exc.orig}") from None
    return Store(engine, sessionmaker(engine, expire_on_commit=False))
