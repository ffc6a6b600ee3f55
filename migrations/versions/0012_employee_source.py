"""What imported each employee (``employees.source``), so a complete roster can deactivate leavers.

A BambooHR sync hands over everyone currently employed; people that source imported before who are
no longer on it have left and are deactivated (``active = false``): their chat ids find nobody from
then on. People imported before this revision get the BambooHR source their balances came from;
anyone else gets a source at their next import.

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
    # only BambooHR hands over whole rosters; a person with its balances was imported by it
    op.execute(
        "UPDATE employees e SET source = b.source FROM ("
        " SELECT DISTINCT ON (employee_id) employee_id, source FROM leave_balances"
        " WHERE source LIKE 'bamboohr:%' ORDER BY employee_id, updated_at DESC"
        ") b WHERE b.employee_id = e.id AND e.source = ''"
    )


def downgrade() -> None:
    op.drop_column("employees", "source")
