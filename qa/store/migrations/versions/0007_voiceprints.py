"""agent voiceprints in the store, and reviewers' confirmations of who the agent is in a call

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

``voiceprints``: one row per enrolled agent (qa/store/voiceprints.py), biometric personal data, never served by the
API; ``voiceprint_sources``: the voice each call or clip added to a print (counted once; taken out again when a
reviewer corrects the call's roles or the call is erased). ``role_confirmations``: a reviewer's word on which
speaker of a call is the agent (``PUT /calls/{id}/roles``); a confirmed mono call can add to the agent's voiceprint
(``qa agents learn``). Downgrading drops all three (``qa db downgrade`` asks for --force when voiceprints or
confirmations would be lost).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voiceprints",
        sa.Column("agent_id", sa.String(100), primary_key=True),
        sa.Column("encoder", sa.String(50), nullable=False),
        sa.Column("encoder_version", sa.String(50), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("total", sa.LargeBinary(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("sources", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "voiceprint_sources",
        sa.Column(
            "agent_id", sa.String(100), sa.ForeignKey("voiceprints.agent_id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("source_id", sa.String(64), primary_key=True),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_voiceprint_sources_source", "voiceprint_sources", ["source_id"])
    op.create_table(
        "role_confirmations",
        sa.Column("call_id", sa.String(32), sa.ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("agent_speaker", sa.String(20), nullable=False),
        sa.Column("agrees", sa.Boolean(), nullable=False),
        sa.Column("config_hash", sa.String(32), nullable=False),
        sa.Column("confirmed_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("role_confirmations")
    op.drop_table("voiceprint_sources")
    op.drop_table("voiceprints")
