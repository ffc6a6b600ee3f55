"""HR data: employees, leave types, balances, requests and public holiday overrides.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT = sa.Numeric(10, 2)


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "employees",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("slack_user_id", sa.String(64), nullable=True, unique=True),
        sa.Column("teams_user_id", sa.String(64), nullable=True, unique=True),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("entity", sa.Text, nullable=False, server_default=""),
        sa.Column("department", sa.Text, nullable=False, server_default=""),
        sa.Column("manager_id", sa.Integer, sa.ForeignKey("employees.id", ondelete="SET NULL"), nullable=True),
        sa.Column("employment_type", sa.String(50), nullable=False, server_default=""),
        sa.Column("hire_date", sa.Date, nullable=True),
        sa.Column("locale", sa.String(35), nullable=False, server_default="en-US"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        *_timestamps(),
        sa.CheckConstraint("email = lower(email)", name="ck_employees_email_lower"),
    )
    op.create_index("ix_employees_manager_id", "employees", ["manager_id"])
    op.create_table(
        "leave_types",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(50), nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("unit", sa.String(5), nullable=False, server_default="days"),
        sa.CheckConstraint("unit IN ('days', 'hours')", name="ck_leave_types_unit"),
    )
    op.create_table(
        "leave_balances",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("employee_id", sa.Integer, sa.ForeignKey("employees.id", ondelete="CASCADE"), nullable=False),
        sa.Column("leave_type_id", sa.Integer, sa.ForeignKey("leave_types.id", ondelete="CASCADE"), nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("entitled", AMOUNT, nullable=False, server_default="0"),
        sa.Column("taken", AMOUNT, nullable=False, server_default="0"),
        sa.Column("pending", AMOUNT, nullable=False, server_default="0"),
        sa.Column("carried_over", AMOUNT, nullable=False, server_default="0"),
        sa.Column("unit", sa.String(5), nullable=False, server_default="days"),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("source", sa.Text, nullable=False, server_default=""),
        *_timestamps(),
        sa.UniqueConstraint("employee_id", "leave_type_id", "period", name="uq_leave_balances_employee_type_period"),
        sa.CheckConstraint("unit IN ('days', 'hours')", name="ck_leave_balances_unit"),
    )
    op.create_table(
        "leave_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("employee_id", sa.Integer, sa.ForeignKey("employees.id", ondelete="CASCADE"), nullable=False),
        sa.Column("leave_type_id", sa.Integer, sa.ForeignKey("leave_types.id", ondelete="CASCADE"), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("unit", sa.String(5), nullable=False, server_default="days"),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("source", sa.Text, nullable=False, server_default=""),
        *_timestamps(),
        sa.UniqueConstraint(
            "employee_id", "leave_type_id", "start_date", "end_date", name="uq_leave_requests_natural_key"
        ),
        sa.CheckConstraint("end_date >= start_date", name="ck_leave_requests_dates"),
        sa.CheckConstraint("unit IN ('days', 'hours')", name="ck_leave_requests_unit"),
    )
    op.create_index("ix_leave_requests_employee_start", "leave_requests", ["employee_id", "start_date"])
    op.create_table(
        "public_holidays",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("source", sa.Text, nullable=False, server_default=""),
        *_timestamps(),
        sa.UniqueConstraint("country", "day", name="uq_public_holidays_country_day"),
    )


def downgrade() -> None:
    op.drop_table("public_holidays")
    op.drop_index("ix_leave_requests_employee_start", table_name="leave_requests")
    op.drop_table("leave_requests")
    op.drop_table("leave_balances")
    op.drop_table("leave_types")
    op.drop_index("ix_employees_manager_id", table_name="employees")
    op.drop_table("employees")
