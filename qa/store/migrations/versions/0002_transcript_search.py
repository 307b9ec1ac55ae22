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
        op.execute("CREATE VIRTUAL TABLE calls_fts USING fts5(call_id UNINDEXED, text, tokenize='porter unicode61')")
        op.execute("INSERT INTO calls_fts (call_id, text) SELECT id, search_text FROM calls")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_calls_search_tsv")
    else:
        op.execute("DROP TABLE IF EXISTS calls_fts")
