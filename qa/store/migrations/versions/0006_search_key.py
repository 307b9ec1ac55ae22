"""the call's search key in the list indexes: searching a word most calls say stays fast (SQLite); the transcripts
the LLM answered about (its cached answers go with the call's text)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

``calls.search_key`` is the call's rowid in SQLite's FTS table (qa/store/search.py ``key``). It joins the list
indexes (agent, team, date, score), so a search for a word that most calls hold walks the index in the list's order
and checks each call against the FTS hits without reading the call's row (a row holds the call's whole JSON; before,
the hits were matched by call id, read from the FTS table: 1.3 s for a word every call says at 100,000 calls).
Filled here from the call ids; PostgreSQL carries the column too (one schema) but searches its tsvector columns.
PostgreSQL's date indexes become the list's default order (``started_at DESC NULLS LAST, id``): its backward scan
of an ascending index puts empty dates first, so the list sorted every match of a search instead of reading the
index (400 ms for a word most calls say at 100,000 calls).
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

STARTED = {  # name: columns, before (both databases) and after (SQLite)
    "ix_calls_agent_started": ["agent_id", "started_at"],
    "ix_calls_team_started": ["team", "started_at"],
    "ix_calls_started": ["started_at"],
}
NEWEST = {  # PostgreSQL after: the list's default order, newest first with empty dates last, then the call id
    "ix_calls_agent_newest": "agent_id, started_at DESC NULLS LAST, id",
    "ix_calls_team_newest": "team, started_at DESC NULLS LAST, id",
    "ix_calls_all_newest": "started_at DESC NULLS LAST, id",
}


def _key(call_id: str) -> int:  # the same as qa.store.search.key (kept here: a migration must not change later)
    return int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big") >> 1


def upgrade() -> None:
    op.add_column("calls", sa.Column("search_key", sa.BigInteger(), nullable=True))
    op.add_column("calls", sa.Column("llm_transcripts", sa.JSON(), nullable=True))
    bind = op.get_bind()
    ids = [r[0] for r in bind.execute(sa.text("SELECT id FROM calls"))]
    for i in range(0, len(ids), 1000):
        bind.execute(
            sa.text("UPDATE calls SET search_key = :k WHERE id = :id"),
            [{"k": _key(c), "id": c} for c in ids[i : i + 1000]],
        )
    pg = bind.dialect.name == "postgresql"
    for name, cols in STARTED.items():
        op.drop_index(name, table_name="calls")
        if not pg:
            op.create_index(name, "calls", [*cols, "search_key"])
    if pg:
        for name, cols in NEWEST.items():
            op.execute(f"CREATE INDEX {name} ON calls ({cols})")
    op.drop_index("ix_calls_percent", table_name="calls")
    op.create_index("ix_calls_percent", "calls", ["percent", "search_key"])
    op.create_index("ix_calls_skey", "calls", ["search_key"])


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for name in STARTED:
        if not pg:
            op.drop_index(name, table_name="calls")
    for name in NEWEST if pg else ():
        op.drop_index(name, table_name="calls")
    for name, cols in STARTED.items():
        op.create_index(name, "calls", cols)
    op.drop_index("ix_calls_skey", table_name="calls")
    op.drop_index("ix_calls_percent", table_name="calls")
    op.create_index("ix_calls_percent", "calls", ["percent"])
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("llm_transcripts")
        batch.drop_column("search_key")
