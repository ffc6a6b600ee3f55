"""What imported each employee (``employees.source``), so a complete roster can deactivate leavers.

A BambooHR sync hands over everyone currently employed; people that source imported before who are
no longer on it have left and are deactivated (``active = false``): their chat ids find nobody from
then on. People imported before this revision have no source yet; the next import of each sets it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("employees", sa.Column("source", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    op.drop_column("employees", "source")
