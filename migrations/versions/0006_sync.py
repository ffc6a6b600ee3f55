"""Sources that sync on their own: connector state and schedule, and one record per sync run.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sources", sa.Column("interval_seconds", sa.Integer(), nullable=True))
    op.add_column("sources", sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.text("true")))
    op.add_column(
        "sources",
        sa.Column("state", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    op.add_column("sources", sa.Column("last_success_started_at", sa.DateTime(timezone=True), nullable=True))
    # Sources made by `hrbot ingest` before sources had connectors: they have no settings to sync from.
    op.execute("UPDATE sources SET kind = 'manual' WHERE kind = 'folder' AND settings = '{}'::jsonb")
    op.alter_column("sources", "kind", server_default=None)
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("counts", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("errors", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    op.create_index("ix_sync_runs_source_started", "sync_runs", ["source_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_sync_runs_source_started", table_name="sync_runs")
    op.drop_table("sync_runs")
    op.execute("UPDATE sources SET kind = 'folder' WHERE kind = 'manual'")
    for column in ("last_success_started_at", "state", "enabled", "interval_seconds"):
        op.drop_column("sources", column)
