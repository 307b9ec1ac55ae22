"""full-text search in transcripts: tsvector columns with GIN indexes (PostgreSQL), an FTS5 table (SQLite)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

PostgreSQL: ``search_tsv`` and ``search_redacted_tsv``, stored generated columns (``to_tsvector('english', ...)`` of
the two search texts), each with a GIN index. A generated column rather than an expression index: the planner then
estimates a word's selectivity from the column's statistics, where with an expression index on ``to_tsvector(...)``
it had none and chose the team index and a filter over every transcript of the team (the reverted attempt, history
of this file's first version). SQLite: ``calls_fts`` (FTS5, Porter stemmer) with a stable rowid per call
(qa/store/search.py), filled from the stored calls.
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _key(call_id: str) -> int:  # the same as qa.store.search.key (kept here: a migration must not change later)
    return int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big") >> 1


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for col, src in (("search_tsv", "search_text"), ("search_redacted_tsv", "search_redacted")):
            op.execute(
                f"ALTER TABLE calls ADD COLUMN {col} tsvector "
                f"GENERATED ALWAYS AS (to_tsvector('english', coalesce({src}, ''))) STORED"
            )
            op.execute(f"CREATE INDEX ix_calls_{col} ON calls USING gin ({col})")
        return
    op.execute(
        "CREATE VIRTUAL TABLE calls_fts USING fts5(call_id UNINDEXED, raw, redacted, tokenize='porter unicode61')"
    )
    rows = bind.execute(sa.text("SELECT id, search_text, search_redacted FROM calls")).fetchall()
    for cid, raw, red in rows:
        bind.execute(
            sa.text("INSERT INTO calls_fts (rowid, call_id, raw, redacted) VALUES (:k, :id, :raw, :red)"),
            {"k": _key(cid), "id": cid, "raw": raw or "", "red": red or ""},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for col in ("search_tsv", "search_redacted_tsv"):
            op.execute(f"DROP INDEX IF EXISTS ix_calls_{col}")
            op.execute(f"ALTER TABLE calls DROP COLUMN IF EXISTS {col}")
    else:
        op.execute("DROP TABLE IF EXISTS calls_fts")
