"""Full-text search in transcripts: every word typed, stemmed ("pothole" finds "potholes"), in any order.

Two texts per call: the transcript (``search_text``, for roles that read raw text) and the redacted one
(``search_redacted``, for roles that read redacted text: a hidden name is never a hit).

- PostgreSQL: two stored generated ``tsvector`` columns (``english`` configuration) with a GIN index each
  (migration 0005); the database keeps them in step with the text columns.
- SQLite: an FTS5 table ``calls_fts(call_id UNINDEXED, raw, redacted)`` with the Porter stemmer. Its rowid is a
  stable integer derived from the call id (:func:`key`, also ``calls.search_key``), so replacing or removing a
  call's row is a lookup, not a scan; :func:`index_call` / :func:`forget` keep it in step where the store writes or
  deletes a call's text. Two plans, chosen per query from how many calls hold the words (counted up to
  :data:`DRIVE_MAX` in the FTS index, a fraction of a millisecond): few hits drive the query (each hit's call found
  by ``search_key``); many hits are a set the list's own index walk is checked against (``search_key`` is in the
  list indexes: no call row is read to check it). SQLite's planner cannot tell the two apart, PostgreSQL's can (it
  has the tsvector column's statistics).

What a user types is words, never query syntax: each word is quoted (FTS5) or passed to ``plainto_tsquery``.
"""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import BigInteger, ColumnElement, func, literal_column, select, text
from sqlalchemy.orm import Session

from qa.store.models import Call

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_WORDS = 8


# made by migration 0005 in SQL, not by the models: left out of Alembic's model comparison (include_object)
SEARCH_OBJECTS = ("calls_fts", "search_tsv", "search_redacted_tsv", "ix_calls_search")


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001 - Alembic's hook signature
    """Alembic autogenerate: the search objects (the FTS5 tables, the tsvector columns and their indexes) are not
    in the models."""
    return not (name or "").startswith(SEARCH_OBJECTS)


def include_object_for(dialect: str):  # noqa: ANN201 - an Alembic hook
    """:func:`include_object`, and the models' objects made for one database only (``ddl_if``: the list's date
    indexes) left out on the other; Alembic's comparison does not read ``ddl_if`` by itself."""

    def include(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
        only = getattr(obj, "_ddl_if", None)
        return include_object(obj, name, type_, reflected, compare_to) and (only is None or only.dialect == dialect)

    return include


def words(q: str) -> list[str]:
    return _WORD.findall(q.lower())[:MAX_WORDS]


def key(call_id: str) -> int:
    """A stable positive 63-bit integer for a call id (the FTS5 rowid)."""
    return int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big") >> 1


# SQLite: up to this many FTS hits, the hits drive the query; more, the list's index walk checks against them
DRIVE_MAX = 2000


def matches(s: Session, q: str, redacted: bool) -> ColumnElement[bool]:
    """A condition on ``Call``: its transcript (``redacted``: its redacted transcript) holds every word of ``q``."""
    ws = words(q)
    if not ws:
        return Call.id.is_(None)  # nothing searchable: no match
    if s.get_bind().dialect.name == "postgresql":
        vector = literal_column("calls.search_redacted_tsv" if redacted else "calls.search_tsv")
        return vector.bool_op("@@")(func.plainto_tsquery("english", " ".join(ws)))
    column = "redacted" if redacted else "raw"
    fts = f"{column} : (" + " AND ".join(f'"{w}"' for w in ws) + ")"
    hits = select(literal_column("rowid")).select_from(text("calls_fts")).where(text("calls_fts MATCH :fts"))
    hits = hits.params(fts=fts)
    few = s.scalar(
        text("SELECT count(*) FROM (SELECT 1 FROM calls_fts WHERE calls_fts MATCH :fts LIMIT :n)"),
        {"fts": fts, "n": DRIVE_MAX},
    )
    if (few or 0) < DRIVE_MAX:
        return Call.search_key.in_(hits)  # the hits drive: each one's call by the search_key index
    # a unary + keeps SQLite from driving the query from the hits: the list's index is walked, each entry checked
    return literal_column("+calls.search_key", BigInteger).in_(hits)


def index_call(s: Session, call: Call) -> None:
    """SQLite: the call's row in the FTS table, replaced (PostgreSQL's generated columns follow by themselves)."""
    if s.get_bind().dialect.name != "sqlite":
        return
    k = key(call.id)
    s.execute(text("DELETE FROM calls_fts WHERE rowid = :k"), {"k": k})
    s.execute(
        text("INSERT INTO calls_fts (rowid, call_id, raw, redacted) VALUES (:k, :id, :raw, :red)"),
        {"k": k, "id": call.id, "raw": call.search_text or "", "red": call.search_redacted or ""},
    )


def forget(s: Session, call_id: str) -> None:
    if s.get_bind().dialect.name == "sqlite":
        s.execute(text("DELETE FROM calls_fts WHERE rowid = :k"), {"k": key(call_id)})
