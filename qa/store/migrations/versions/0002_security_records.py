"""security and records: audit trail, evaluation lifecycle, key lifecycle, retention marks, redacted search

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Existing evaluations become "released" (agents saw them before this revision, so nothing they could see disappears),
with a fresh dispute window of 14 days from the upgrade; one with an open dispute becomes "disputed". The redacted
search column is filled from the stored redacted turns, jobs get their team from their metadata, calibration answers
become append-only (the unique constraint goes; downgrade keeps the latest answer of each reviewer and item).
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

WINDOW = dt.timedelta(days=14)
UQ_NAMING = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("client", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("object_type", sa.String(length=50), nullable=False),
        sa.Column("object_id", sa.String(length=100), nullable=True),
        sa.Column("team", sa.String(length=100), nullable=True),
        sa.Column("agent_id", sa.String(length=100), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as b:
        b.create_index("ix_audit_at", ["at"], unique=False)
        b.create_index("ix_audit_action", ["action"], unique=False)
        b.create_index("ix_audit_team", ["team"], unique=False)
        b.create_index("ix_audit_object", ["object_type", "object_id"], unique=False)
        b.create_index("ix_audit_actor", ["actor_name"], unique=False)

    with op.batch_alter_table("users", schema=None) as b:
        b.add_column(sa.Column("key_created_at", sa.DateTime(), nullable=True))
        b.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        b.add_column(sa.Column("last_used_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE users SET key_created_at = created_at")

    with op.batch_alter_table("calls", schema=None) as b:
        b.add_column(sa.Column("search_redacted", sa.Text(), server_default="", nullable=False))
        b.add_column(sa.Column("released_at", sa.DateTime(), nullable=True))
        b.add_column(sa.Column("audio_removed_at", sa.DateTime(), nullable=True))
        b.add_column(sa.Column("transcript_removed_at", sa.DateTime(), nullable=True))
        b.add_column(sa.Column("erased_at", sa.DateTime(), nullable=True))

    with op.batch_alter_table("evaluations", schema=None) as b:
        b.add_column(sa.Column("state", sa.String(length=20), server_default="draft", nullable=False))
        b.add_column(sa.Column("released_at", sa.DateTime(), nullable=True))
        b.add_column(sa.Column("released_by", sa.Integer(), nullable=True))
        b.add_column(sa.Column("dispute_until", sa.DateTime(), nullable=True))
        b.add_column(sa.Column("acknowledged_at", sa.DateTime(), nullable=True))
        b.add_column(sa.Column("finalized_at", sa.DateTime(), nullable=True))
        b.add_column(sa.Column("finalized_by", sa.Integer(), nullable=True))
        b.create_foreign_key("fk_evaluations_released_by_users", "users", ["released_by"], ["id"])
        b.create_foreign_key("fk_evaluations_finalized_by_users", "users", ["finalized_by"], ["id"])

    with op.batch_alter_table("reviews", schema=None) as b:
        b.add_column(sa.Column("dispute_id", sa.Integer(), nullable=True))
        b.create_foreign_key("fk_reviews_dispute_id_disputes", "disputes", ["dispute_id"], ["id"])

    with op.batch_alter_table("coaching_notes", schema=None) as b:
        b.add_column(sa.Column("edited_by", sa.Integer(), nullable=True))
        b.create_foreign_key("fk_coaching_notes_edited_by_users", "users", ["edited_by"], ["id"])

    with op.batch_alter_table("jobs", schema=None) as b:
        b.add_column(sa.Column("team", sa.String(length=100), nullable=True))
        b.create_index("ix_jobs_team", ["team"], unique=False)

    _drop_calibration_unique()
    with op.batch_alter_table("calibration_answers", schema=None) as b:
        b.add_column(sa.Column("created_at", sa.DateTime(), nullable=True))
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE calibration_answers SET created_at = :t"), {"t": _now()})
    with op.batch_alter_table("calibration_answers", schema=None) as b:
        b.alter_column("created_at", existing_type=sa.DateTime(), nullable=False)

    _backfill(conn)


def _drop_calibration_unique() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("calibration_answers_session_id_reviewer_id_item_id_key", "calibration_answers", "unique")
        return
    with op.batch_alter_table("calibration_answers", naming_convention=UQ_NAMING) as b:
        b.drop_constraint("uq_calibration_answers_session_id_reviewer_id_item_id", type_="unique")


def _backfill(conn) -> None:
    now = _now()
    # redacted search text, from the stored redacted turns (in turn order)
    text: dict[str, list[str]] = {}
    for call_id, red in conn.execute(sa.text("SELECT call_id, redacted_text FROM turns ORDER BY call_id, idx")):
        text.setdefault(call_id, []).append(red or "")
    for call_id, parts in text.items():
        conn.execute(
            sa.text("UPDATE calls SET search_redacted = :t WHERE id = :id"),
            {"t": " ".join(parts).lower(), "id": call_id},
        )
    # evaluations agents could already see stay visible: released now, with a fresh dispute window
    conn.execute(
        sa.text("UPDATE evaluations SET state = 'released', released_at = :now, dispute_until = :until"),
        {"now": now, "until": now + WINDOW},
    )
    conn.execute(
        sa.text(
            "UPDATE evaluations SET state = 'disputed' WHERE id IN "
            "(SELECT evaluation_id FROM disputes WHERE status = 'open')"
        )
    )
    conn.execute(
        sa.text(
            "UPDATE calls SET released_at = :now WHERE id IN "
            "(SELECT call_id FROM evaluations WHERE evaluations.current = :yes)"
        ),
        {"now": now, "yes": True},
    )
    # jobs: the team from their metadata
    import json

    for job_id, meta in conn.execute(sa.text("SELECT id, meta FROM jobs")).all():
        if isinstance(meta, str):
            meta = json.loads(meta or "{}")
        team = (meta or {}).get("team")
        if team:
            conn.execute(sa.text("UPDATE jobs SET team = :t WHERE id = :id"), {"t": str(team)[:100], "id": job_id})


def downgrade() -> None:
    conn = op.get_bind()
    # keep the latest answer of each reviewer and item, so the unique constraint can come back
    conn.execute(
        sa.text(
            "DELETE FROM calibration_answers WHERE id NOT IN (SELECT MAX(id) FROM calibration_answers "
            "GROUP BY session_id, reviewer_id, item_id)"
        )
    )
    with op.batch_alter_table("calibration_answers", schema=None) as b:
        b.drop_column("created_at")
    if conn.dialect.name == "postgresql":
        op.create_unique_constraint(
            "calibration_answers_session_id_reviewer_id_item_id_key",
            "calibration_answers",
            ["session_id", "reviewer_id", "item_id"],
        )
    else:
        with op.batch_alter_table("calibration_answers", schema=None) as b:
            b.create_unique_constraint(
                "uq_calibration_answers_session_id_reviewer_id_item_id", ["session_id", "reviewer_id", "item_id"]
            )

    with op.batch_alter_table("jobs", schema=None) as b:
        b.drop_index("ix_jobs_team")
        b.drop_column("team")
    with op.batch_alter_table("coaching_notes", schema=None) as b:
        b.drop_constraint("fk_coaching_notes_edited_by_users", type_="foreignkey")
        b.drop_column("edited_by")
    with op.batch_alter_table("reviews", schema=None) as b:
        b.drop_constraint("fk_reviews_dispute_id_disputes", type_="foreignkey")
        b.drop_column("dispute_id")
    with op.batch_alter_table("evaluations", schema=None) as b:
        b.drop_constraint("fk_evaluations_finalized_by_users", type_="foreignkey")
        b.drop_constraint("fk_evaluations_released_by_users", type_="foreignkey")
        for col in ("finalized_by", "finalized_at", "acknowledged_at", "dispute_until", "released_by", "released_at"):
            b.drop_column(col)
        b.drop_column("state")
    with op.batch_alter_table("calls", schema=None) as b:
        for col in ("erased_at", "transcript_removed_at", "audio_removed_at", "released_at", "search_redacted"):
            b.drop_column(col)
    with op.batch_alter_table("users", schema=None) as b:
        for col in ("last_used_at", "expires_at", "key_created_at"):
            b.drop_column(col)
    with op.batch_alter_table("audit_log", schema=None) as b:
        for ix in ("ix_audit_actor", "ix_audit_object", "ix_audit_team", "ix_audit_action", "ix_audit_at"):
            b.drop_index(ix)
    op.drop_table("audit_log")
