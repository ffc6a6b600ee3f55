"""audit_log.generation: which LLM wrote an answer, its prompt and completion tokens, and whether it
fell back to the extractive answer. Nullable and outside the hash chain, so older rows verify unchanged.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("generation", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("audit_log", "generation")
