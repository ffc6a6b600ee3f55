"""Chat adapters' shared state: delivered event ids, answered threads, per-user allowances.

Kept in the database (not in a process's memory) so that several bot processes or replicas, and a
restarted bot, neither answer a platform's retry twice nor lose track of the threads they answered in.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_events",
        sa.Column("platform", sa.String(20), primary_key=True),
        sa.Column("event_id", sa.Text(), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_chat_events_seen_at", "chat_events", ["seen_at"])
    op.create_table(
        "chat_threads",
        sa.Column("platform", sa.String(20), primary_key=True),
        sa.Column("channel", sa.Text(), primary_key=True),
        sa.Column("thread", sa.Text(), primary_key=True),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_chat_threads_created_at", "chat_threads", ["created_at"])
    op.create_table(
        "chat_allowances",
        sa.Column("platform", sa.String(20), primary_key=True),
        sa.Column("user_id", sa.Text(), primary_key=True),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chat_allowances")
    op.drop_index("ix_chat_threads_created_at", table_name="chat_threads")
    op.drop_table("chat_threads")
    op.drop_index("ix_chat_events_seen_at", table_name="chat_events")
    op.drop_table("chat_events")
