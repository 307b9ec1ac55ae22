"""Engines and sessions. SQLite gets WAL, foreign keys and a busy timeout on every connection; PostgreSQL URLs use
psycopg 3. The schema is created and upgraded by Alembic (``migrate``), never by ``create_all``."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
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


BUSY_TIMEOUT_S = 30.0


def _create_private(path: Path) -> None:
    """Create the SQLite file owner-only (0600) before SQLite does; its -wal and -shm files get the same mode."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            log.warning("%s can be read by other users of this machine (chmod 600 it)", path.name)
        return
    os.close(fd)


def make_engine(url: str, busy_timeout_s: float = BUSY_TIMEOUT_S) -> Engine:
    """``busy_timeout_s``: how long a statement waits for another writer's lock (SQLite) or a row/advisory lock
    (PostgreSQL ``lock_timeout``) before it fails; the API turns that failure into 503 with Retry-After."""
    url = normalize_url(url)
    try:
        u = make_url(url)
    except ArgumentError:
        raise StoreError(f"--db: not a database URL: {url!r} (e.g. sqlite:///qa.db or postgresql://host/db)") from None
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
            path = Path(u.database).expanduser().resolve()
            if not path.parent.is_dir():
                raise StoreError(f"--db: folder {path.parent} does not exist")
            _create_private(path)
        engine = create_engine(url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False})
        busy_ms = int(busy_timeout_s * 1000)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "checkout")
        def _default_timeout(dbapi_conn, _record, _proxy):  # noqa: ANN001
            # a Store with a shorter timeout (the API's) sets its own per transaction; back to the default here
            dbapi_conn.execute(f"PRAGMA busy_timeout={busy_ms}")

        return engine
    if u.get_backend_name() == "postgresql":
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=20,
            # plans made for the values at hand: psycopg prepares a statement after 5 runs and PostgreSQL then may
            # keep a generic plan, which cannot tell a word most calls say from a rare one (a word search went from
            # 25 ms to 160 ms after its twentieth run at 100,000 calls, bench/search.py)
            connect_args={
                "options": f"-c lock_timeout={int(busy_timeout_s * 1000)} -c plan_cache_mode=force_custom_plan"
            },
        )
    raise StoreError(f"--db: unsupported database {u.get_backend_name()!r}; use sqlite:/// or postgresql://")


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def migrate(engine: Engine, revision: str = "head", downgrade: bool | None = None) -> None:
    """Upgrade (or with a revision like "-1"/"base", or ``downgrade=True``, downgrade) the schema on this engine."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            # SQLite migrations rebuild tables (copy, drop, rename): with foreign keys on, dropping the old table
            # would cascade-delete every row that points at it (turns, reviews, disputes). Off for the migration.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                if downgrade is None:
                    downgrade = revision != "head" and revision.startswith(("-", "base"))
                if not downgrade:
                    command.upgrade(cfg, revision)
                else:
                    command.downgrade(cfg, revision)
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


# What undoing a revision destroys, when the table it names holds rows: (revision, SQL counting them, what is lost).
DOWNGRADE_LOSSES = (
    ("0007", "SELECT COUNT(*) FROM voiceprints", "agent voiceprints (the voiceprints table is dropped)"),
    ("0007", "SELECT COUNT(*) FROM role_confirmations", "reviewers' role confirmations"),
    ("0004", "SELECT COUNT(*) FROM evaluations WHERE revision > 1", "evaluation revisions (with their reviews)"),
    ("0002", "SELECT COUNT(*) FROM audit_log", "rows of the audit trail (the audit_log table is dropped)"),
)


def downgrade_losses(engine: Engine, revision: str) -> list[str]:
    """What downgrading to ``revision`` ("-N", "base" or a revision id) would delete, in words; [] when nothing. Raises
    StoreError for a revision that is not below the current one."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(engine.url.render_as_string(hide_password=False)))
    chain = [r.revision for r in reversed(list(script.walk_revisions()))]  # base first (the history is linear)
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        if current is None:
            return []
        at = chain.index(current)
        if revision == "base":
            to = -1
        elif revision.startswith("-") and revision[1:].isdigit():
            to = at - int(revision[1:])
        elif revision in chain:
            to = chain.index(revision)
        else:
            raise StoreError(f"downgrade: unknown revision {revision!r} (use -1, base or one of {', '.join(chain)})")
        if to < -1 or to >= at:
            raise StoreError(f"downgrade: {revision!r} is not below the current revision {current}")
        undone = set(chain[to + 1 : at + 1])
        out = []
        for rev, sql, what in DOWNGRADE_LOSSES:
            if rev in undone:
                n = conn.exec_driver_sql(sql).scalar() or 0
                if n:
                    out.append(f"{n} {what} (revision {rev})")
        return out


def downgrade(engine: Engine, revision: str, force: bool = False) -> None:
    """Downgrade to ``revision``; refused (StoreError) when that would delete audit rows or evaluation revisions,
    unless ``force``."""
    losses = downgrade_losses(engine, revision)
    if losses and not force:
        raise StoreError(
            f"downgrade to {revision} would delete: {'; '.join(losses)}. Export what you need to keep (qa audit "
            "--format csv) and run again with --force"
        )
    migrate(engine, revision, downgrade=True)


@dataclass
class Store:
    engine: Engine
    sessions: sessionmaker[Session]
    busy_timeout_s: float | None = None  # None: the engine's (BUSY_TIMEOUT_S unless opened with another)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def with_busy_timeout(self, seconds: float) -> Store:
        """The same database (same engine and pool) whose transactions wait at most ``seconds`` for a lock. The API
        uses a short one, so a locked database is a quick 503 rather than a thread of the pool held for 30 s."""
        return replace(self, busy_timeout_s=seconds)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error."""
        with self.sessions.begin() as s:
            if self.busy_timeout_s is not None:
                ms = max(1, int(self.busy_timeout_s * 1000))
                if self.dialect == "sqlite":
                    s.connection().exec_driver_sql(f"PRAGMA busy_timeout={ms}")
                elif self.dialect == "postgresql":
                    s.connection().exec_driver_sql(f"SET LOCAL lock_timeout = {ms}")
            yield s

    def tables(self) -> list[str]:
        return inspect(self.engine).get_table_names()


def open_store(url: str = DEFAULT_URL, upgrade: bool = True, busy_timeout_s: float = BUSY_TIMEOUT_S) -> Store:
    engine = make_engine(url, busy_timeout_s)
    try:
        if upgrade:
            migrate(engine)
        else:
            with engine.connect():
                pass
    except OperationalError as exc:
        raise StoreError(f"--db: cannot use {engine.url.render_as_string()}: {exc.orig}") from None
    return Store(engine, sessionmaker(engine, expire_on_commit=False))
