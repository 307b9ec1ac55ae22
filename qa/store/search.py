"""Full-text search in transcripts: words, stemmed, all of them in the call (in any order, any speaker).

PostgreSQL: ``to_tsvector('english', search_text) @@ plainto_tsquery('english', q)``, served by a GIN index on the
same expression. SQLite: an FTS5 table (Porter stemmer) kept in step with the calls by :func:`index_call`. Words are
passed as quoted terms, so nothing a user types is read as query syntax.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, func, text
from sqlalchemy.orm import Session

from qa.store.models import Call

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_WORDS = 8


def words(q: str) -> list[str]:
    return _WORD.findall(q.lower())[:MAX_WORDS]


def matches(dialect: str, q: str) -> ColumnElement[bool]:
    """A condition on ``Call``: the transcript holds every word of ``q`` (stemmed)."""
    ws = words(q)
    if not ws:
        return Call.id.is_(None)  # nothing searchable: no match
    if dialect == "postgresql":
        return func.to_tsvector("english", Call.search_text).bool_op("@@")(
            func.plainto_tsquery("english", " ".join(ws))
        )
    fts_query = " ".join(f'"{w}"' for w in ws)
    return Call.id.in_(text("SELECT call_id FROM calls_fts WHERE calls_fts MATCH :fts").bindparams(fts=fts_query))


def index_call(s: Session, call_id: str, search_text: str) -> None:
    """Keep SQLite's FTS table in step with a call's transcript (PostgreSQL's index follows the column itself)."""
    if s.get_bind().dialect.name != "sqlite":
        return
    s.execute(text("DELETE FROM calls_fts WHERE call_id = :id"), {"id": call_id})
    s.execute(text("INSERT INTO calls_fts (call_id, text) VALUES (:id, :t)"), {"id": call_id, "t": search_text})
