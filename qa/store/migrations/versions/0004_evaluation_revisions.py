"""evaluation revisions: a re-import never rewrites an evaluation that left the draft state

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

A re-processed call whose evaluation (same scorecard) differs from a stored one that is released, acknowledged,
disputed or final gets a new draft revision; the old one is kept as it was. The unique key becomes
(call, scorecard hash, revision); existing evaluations are revision 1.

Downgrade keeps revision 1 of each (call, scorecard) and deletes later revisions with their reviews and disputes;
``qa db downgrade`` refuses that unless ``--force`` when there are any.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UQ_NAMING = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}
OLD_PG = "evaluations_call_id_scorecard_hash_key"
OLD_SQLITE = "uq_evaluations_call_id_scorecard_hash"
NEW = "uq_evaluations_call_hash_revision"


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("evaluations", naming_convention=None if pg else UQ_NAMING) as b:
        b.add_column(sa.Column("revision", sa.Integer(), server_default="1", nullable=False))
        b.drop_constraint(OLD_PG if pg else OLD_SQLITE, type_="unique")
        b.create_unique_constraint(NEW, ["call_id", "scorecard_hash", "revision"])


def downgrade() -> None:
    conn = op.get_bind()
    later = "SELECT id FROM evaluations WHERE revision > 1"
    for table in ("reviews", "disputes"):
        conn.execute(sa.text(f"DELETE FROM {table} WHERE evaluation_id IN ({later})"))
    conn.execute(sa.text("DELETE FROM evaluations WHERE revision > 1"))
    # the call's current evaluation may have been a later revision: its revision 1 becomes current again
    conn.execute(
        sa.text(
            "UPDATE evaluations SET current = :yes WHERE id IN (SELECT MAX(id) FROM evaluations GROUP BY call_id) "
            "AND call_id NOT IN (SELECT call_id FROM evaluations WHERE current = :yes)"
        ),
        {"yes": True},
    )
    pg = conn.dialect.name == "postgresql"
    with op.batch_alter_table("evaluations", naming_convention=None if pg else UQ_NAMING) as b:
        b.drop_constraint(NEW, type_="unique")
        b.create_unique_constraint(OLD_PG if pg else OLD_SQLITE, ["call_id", "scorecard_hash"])
        b.drop_column("revision")
