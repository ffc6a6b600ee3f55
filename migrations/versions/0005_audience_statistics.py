"""Statistics on how many audience values a chunk has.

Without them PostgreSQL guesses that ``cardinality(countries) = 0`` (a document for everyone) holds
for ~0.5% of chunks, so "German chunks plus global ones" looks rare and the planner sorts a
sequential scan (20 ms at 4k chunks) instead of walking the HNSW index (3 ms).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE STATISTICS IF NOT EXISTS chunks_audience_cardinality "
        "ON (cardinality(countries)), (cardinality(entities)), (cardinality(employment_types)) FROM chunks"
    )
    op.execute("ANALYZE chunks")


def downgrade() -> None:
    op.execute("DROP STATISTICS IF EXISTS chunks_audience_cardinality")
