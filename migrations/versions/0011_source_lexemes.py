"""Keyword statistics per source: how many of a source's current chunks hold each lexeme.

A search restricted to some sources (one company of a group, `hrbot eval --source`) weighs its
words by how rare they are in those sources, not in everything indexed: "plan" is common in a
benefits booklet and rare in an engineering handbook. Rebuilt with ``search_terms``
(``store.refresh_search_terms``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "source_lexemes",
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
        sa.Column("lexeme", sa.Text(), nullable=False),
        sa.Column("ndoc", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source_id", "lexeme"),
    )
    op.execute(
        "INSERT INTO source_lexemes (source_id, lexeme, ndoc) "
        "SELECT source_id, lexeme, count(*) FROM chunk_terms GROUP BY source_id, lexeme"
    )


def downgrade() -> None:
    op.drop_table("source_lexemes")
