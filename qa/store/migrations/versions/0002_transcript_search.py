"""Full-text search in transcripts: a GIN index on the English text-search vector (PostgreSQL), an FTS5 table with
Porter stemming kept beside the calls (SQLite).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_calls_search_tsv ON calls USING gin (to_tsvector('english', search_text))")
    else:
        import sqlalchemy as sa

        from qa.store.search import fts_rowid

        op.execute("CREATE VIRTUAL TABLE calls_fts USING fts5(call_id UNINDEXED, text, tokenize='porter unicode61')")
        conn = op.get_bind()
        for call_id, search_text in conn.execute(sa.text("SELECT id, search_text FROM calls")).all():
            conn.execute(
                sa.text("INSERT INTO calls_fts (rowid, call_id, text) VALUES (:r, :id, :t)"),
                {"r": fts_rowid(call_id), "id": call_id, "t": search_text},
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_calls_search_tsv")
    else:
        op.execute("DROP TABLE IF EXISTS calls_fts")
