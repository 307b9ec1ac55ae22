"""call language: the call's main language and every language spoken in it, for filtering (issue #18)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

Calls stored before this revision have no language (NULL); they get one when they are processed or imported again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as b:
        b.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        b.add_column(sa.Column("languages", sa.String(length=40), nullable=True))
        b.create_index("ix_calls_language", ["language"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as b:
        b.drop_index("ix_calls_language")
        b.drop_column("languages")
        b.drop_column("language")
