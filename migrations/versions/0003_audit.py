"""Audit log: hash-chained rows, the chain's head and (outside the chain) feedback.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("surface", sa.String(20), nullable=False),
        sa.Column("platform_user_id", sa.Text, nullable=True),
        sa.Column("employee_id", sa.Integer, nullable=True),  # no FK: the log outlives the people it names
        sa.Column("employee_email", sa.Text, nullable=True),
        sa.Column("channel", sa.Text, nullable=True),
        sa.Column("thread", sa.Text, nullable=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer_text", sa.Text, nullable=False),
        sa.Column("citations", postgresql.JSONB, nullable=False, server_default="[]"),
        sa.Column("lookups", postgresql.JSONB, nullable=False, server_default="[]"),
        sa.Column("latency_ms", sa.Integer, nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_log_created_at", "audit_log", ["created_at"])
    op.create_index("ix_audit_log_platform_user_id", "audit_log", ["platform_user_id"])
    op.create_index("ix_audit_log_employee_id", "audit_log", ["employee_id"])
    op.create_index("ix_audit_log_employee_email", "audit_log", ["employee_email"])
    op.create_index("ix_audit_log_row_hash", "audit_log", ["row_hash"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_head_single_row"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "row_hash": GENESIS_HASH}])
    op.create_table(
        "audit_feedback",
        sa.Column(
            "audit_id",
            sa.BigInteger,
            sa.ForeignKey("audit_log.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("value", sa.String(8), nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("value IN ('up', 'down')", name="ck_audit_feedback_value"),
    )


def downgrade() -> None:
    op.drop_table("audit_feedback")
    op.drop_table("audit_head")
    op.drop_table("audit_log")
