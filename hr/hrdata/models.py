"""Tables of the HR data: who works here, what leave they have, and which days are holidays.

Balances and requests carry the date their figures were true on (``as_of``) and where they came
from (``source``), so every figure the bot quotes can say both.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from hr.models import Base

UNITS = ("days", "hours")
STATUSES = ("requested", "pending", "booked", "approved", "taken", "rejected", "cancelled")
OPEN_STATUSES = ("requested", "pending")
"""Waiting for a decision."""
PLANNED_STATUSES = ("booked", "approved")
"""Decided and still ahead (or under way)."""

AMOUNT = Numeric(10, 2)


class _Timestamps:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Employee(_Timestamps, Base):
    __tablename__ = "employees"
    __table_args__ = (CheckConstraint("email = lower(email)", name="ck_employees_email_lower"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True, doc="Lower-cased.")
    name: Mapped[str] = mapped_column(Text)
    slack_user_id: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    teams_user_id: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    country: Mapped[str] = mapped_column(String(2), doc="ISO 3166-1 alpha-2.")
    entity: Mapped[str] = mapped_column(Text, server_default="")
    department: Mapped[str] = mapped_column(Text, server_default="")
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("employees.id", ondelete="SET NULL"), nullable=True, index=True
    )
    employment_type: Mapped[str] = mapped_column(String(50), server_default="")
    hire_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    locale: Mapped[str] = mapped_column(String(35), server_default="en-US")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    source: Mapped[str] = mapped_column(
        Text, server_default="", doc="What imported the person last (``bamboohr:acme``, ``csv:employees.csv``)."
    )


class LeaveType(Base):
    __tablename__ = "leave_types"
    __table_args__ = (CheckConstraint("unit IN ('days', 'hours')", name="ck_leave_types_unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True, doc="vacation, sick, parental, ...")
    name: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(5), server_default="days")


class LeaveBalance(_Timestamps, Base):
    __tablename__ = "leave_balances"
    __table_args__ = (
        UniqueConstraint("employee_id", "leave_type_id", "period", name="uq_leave_balances_employee_type_period"),
        CheckConstraint("unit IN ('days', 'hours')", name="ck_leave_balances_unit"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id", ondelete="CASCADE"))
    leave_type_id: Mapped[int] = mapped_column(ForeignKey("leave_types.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(20), doc="'2026', '2026-04', '2025/26', ...")
    entitled: Mapped[Decimal] = mapped_column(AMOUNT, server_default="0")
    taken: Mapped[Decimal] = mapped_column(AMOUNT, server_default="0")
    pending: Mapped[Decimal] = mapped_column(AMOUNT, server_default="0", doc="Requested or booked, not yet taken.")
    carried_over: Mapped[Decimal] = mapped_column(AMOUNT, server_default="0")
    unit: Mapped[str] = mapped_column(String(5), server_default="days")
    as_of: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(Text, server_default="", doc="'csv:balances.csv', a connector name, ...")


class LeaveRequest(_Timestamps, Base):
    __tablename__ = "leave_requests"
    __table_args__ = (
        UniqueConstraint(
            "employee_id", "leave_type_id", "start_date", "end_date", name="uq_leave_requests_natural_key"
        ),
        CheckConstraint("end_date >= start_date", name="ck_leave_requests_dates"),
        CheckConstraint("unit IN ('days', 'hours')", name="ck_leave_requests_unit"),
        Index("ix_leave_requests_employee_start", "employee_id", "start_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id", ondelete="CASCADE"))
    leave_type_id: Mapped[int] = mapped_column(ForeignKey("leave_types.id", ondelete="CASCADE"))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    unit: Mapped[str] = mapped_column(String(5), server_default="days")
    status: Mapped[str] = mapped_column(String(20), doc="One of STATUSES.")
    as_of: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(Text, server_default="")


class PublicHoliday(_Timestamps, Base):
    """An override of the ``holidays`` package: a day it lacks (or renamed), or one it lists that is removed."""

    __tablename__ = "public_holidays"
    __table_args__ = (UniqueConstraint("country", "day", name="uq_public_holidays_country_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(Text, server_default="")
    removed: Mapped[bool] = mapped_column(Boolean, server_default="false", doc="True: not a holiday after all.")
    source: Mapped[str] = mapped_column(Text, server_default="")
