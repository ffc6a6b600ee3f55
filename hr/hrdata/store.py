"""Every lookup of personal HR data, as fixed parameterized queries bound to an employee id.

Nothing here takes free text that could select a person other than the one the caller already
holds: identity comes from the chat platform's user id, and a name or mention typed in a question
is only ever matched among the direct reports of the manager asking (:func:`find_direct_report`).
Results are frozen dataclasses, never ORM objects; every figure carries its source and as-of date.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import metadata
from typing import Any

import holidays
from sqlalchemy import Select, and_, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, aliased

from hr.hrdata.models import (
    OPEN_STATUSES,
    PLANNED_STATUSES,
    Employee,
    LeaveBalance,
    LeaveRequest,
    LeaveType,
    PublicHoliday,
)

HOLIDAYS_SOURCE = f"holidays package {metadata.version('holidays')}"


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    email: str
    name: str
    slack_user_id: str | None
    teams_user_id: str | None
    country: str
    entity: str
    department: str
    manager_id: int | None
    manager_name: str | None
    employment_type: str
    hire_date: date | None
    locale: str
    active: bool


@dataclass(frozen=True, slots=True)
class Balance:
    leave_type: str
    leave_type_name: str
    period: str
    entitled: Decimal
    taken: Decimal
    pending: Decimal
    carried_over: Decimal
    unit: str
    as_of: date
    source: str

    @property
    def remaining(self) -> Decimal:
        """Entitlement plus carry-over, less what was taken."""
        return self.entitled + self.carried_over - self.taken

    @property
    def available(self) -> Decimal:
        """What is left to request: the remainder less what is requested or booked but not yet taken."""
        return self.remaining - self.pending


@dataclass(frozen=True, slots=True)
class LeaveRecord:
    id: int
    leave_type: str
    leave_type_name: str
    start_date: date
    end_date: date
    amount: Decimal
    unit: str
    status: str
    as_of: date
    source: str


@dataclass(frozen=True, slots=True)
class Holiday:
    country: str
    day: date
    name: str
    source: str
    """``holidays package <version>``, or where the override came from (``csv:holidays.csv``)."""


_manager = aliased(Employee, name="manager")


def _people() -> Select[Employee, str]:
    return select(Employee, _manager.name).outerjoin(_manager, Employee.manager_id == _manager.id)


def _person(employee: Employee, manager_name: str | None) -> Person:
    return Person(
        id=employee.id,
        email=employee.email,
        name=employee.name,
        slack_user_id=employee.slack_user_id,
        teams_user_id=employee.teams_user_id,
        country=employee.country,
        entity=employee.entity,
        department=employee.department,
        manager_id=employee.manager_id,
        manager_name=manager_name,
        employment_type=employee.employment_type,
        hire_date=employee.hire_date,
        locale=employee.locale,
        active=employee.active,
    )


def _one(session: Session, condition: Any) -> Person | None:
    row = session.execute(_people().where(condition, Employee.active)).one_or_none()
    return _person(*row) if row else None


def employee_by_id(employee_id: int, *, session: Session) -> Person | None:
    """The active employee with this id."""
    return _one(session, Employee.id == employee_id)


# the columns of :class:`Person`, in its order (the per-event identity lookup skips the ORM)
_PERSON_SQL = (
    "SELECT e.id, e.email, e.name, e.slack_user_id, e.teams_user_id, e.country, e.entity, e.department, "
    "e.manager_id, m.name, e.employment_type, e.hire_date, e.locale, e.active "
    "FROM employees e LEFT JOIN employees m ON m.id = e.manager_id WHERE e.active AND "
)
_BY_SLACK_ID_SQL = _PERSON_SQL + "e.slack_user_id = %(id)s"


def employee_by_slack_id(slack_user_id: str, *, session: Session) -> Person | None:
    """The active employee a Slack user id belongs to. Asked once for every Slack event, so one
    fixed statement at the driver level (no ORM compiling or loading): a plain row into a Person."""
    row = session.connection().exec_driver_sql(_BY_SLACK_ID_SQL, {"id": slack_user_id}).first()
    return Person(*row) if row is not None else None


def employee_by_teams_id(teams_user_id: str, *, session: Session) -> Person | None:
    """The active employee a Teams (Entra ID object) id belongs to; ids compare case-insensitively."""
    return _one(session, func.lower(Employee.teams_user_id) == teams_user_id.lower())


def employee_by_email(email: str, *, session: Session) -> Person | None:
    return _one(session, Employee.email == email.strip().lower())


def list_employees(*, session: Session, include_inactive: bool = False) -> list[Person]:
    stmt = _people().order_by(Employee.name, Employee.id)
    if not include_inactive:
        stmt = stmt.where(Employee.active)
    return [_person(*row) for row in session.execute(stmt)]


def balances(employee_id: int, *, session: Session, period: str | None = None) -> list[Balance]:
    """The employee's balance per leave type in ``period``; with no period, each type's latest one."""
    stmt = (
        select(LeaveBalance, LeaveType.code, LeaveType.name)
        .join(LeaveType, LeaveType.id == LeaveBalance.leave_type_id)
        .where(LeaveBalance.employee_id == employee_id)
    )
    if period is None:
        stmt = stmt.distinct(LeaveBalance.leave_type_id).order_by(
            LeaveBalance.leave_type_id, LeaveBalance.period.desc()
        )
    else:
        stmt = stmt.where(LeaveBalance.period == period)
    found = [
        Balance(
            leave_type=code,
            leave_type_name=name,
            period=row.period,
            entitled=row.entitled,
            taken=row.taken,
            pending=row.pending,
            carried_over=row.carried_over,
            unit=row.unit,
            as_of=row.as_of,
            source=row.source,
        )
        for row, code, name in session.execute(stmt)
    ]
    return sorted(found, key=lambda balance: (balance.leave_type, balance.period))


def requests(
    employee_id: int,
    *,
    session: Session,
    statuses: Sequence[str] = OPEN_STATUSES + PLANNED_STATUSES,
    from_date: date | None = None,
) -> list[LeaveRecord]:
    """The employee's leave requests in ``statuses`` that end on or after ``from_date``, earliest first."""
    stmt = (
        select(LeaveRequest, LeaveType.code, LeaveType.name)
        .join(LeaveType, LeaveType.id == LeaveRequest.leave_type_id)
        .where(LeaveRequest.employee_id == employee_id, LeaveRequest.status.in_(list(statuses)))
        .order_by(LeaveRequest.start_date, LeaveRequest.id)
    )
    if from_date is not None:
        stmt = stmt.where(LeaveRequest.end_date >= from_date)
    return [
        LeaveRecord(
            id=row.id,
            leave_type=code,
            leave_type_name=name,
            start_date=row.start_date,
            end_date=row.end_date,
            amount=row.amount,
            unit=row.unit,
            status=row.status,
            as_of=row.as_of,
            source=row.source,
        )
        for row, code, name in session.execute(stmt)
    ]


def pending_requests(employee_id: int, *, session: Session) -> list[LeaveRecord]:
    """Requests still waiting for a decision, whatever their dates."""
    return requests(employee_id, session=session, statuses=OPEN_STATUSES)


def upcoming_requests(employee_id: int, *, today: date, session: Session) -> list[LeaveRecord]:
    """Requested or approved leave that has not ended yet."""
    return requests(employee_id, session=session, statuses=OPEN_STATUSES + PLANNED_STATUSES, from_date=today)


def direct_reports(manager_id: int, *, session: Session) -> list[Person]:
    stmt = _people().where(Employee.manager_id == manager_id, Employee.active).order_by(Employee.name, Employee.id)
    return [_person(*row) for row in session.execute(stmt)]


def is_direct_report(manager_id: int, employee_id: int, *, session: Session) -> bool:
    stmt = select(Employee.id).where(Employee.id == employee_id, Employee.manager_id == manager_id, Employee.active)
    return session.execute(stmt).first() is not None


_SLACK_MENTION = re.compile(r"^<@([A-Z0-9]+)(?:\|[^>]*)?>$")
_TEAMS_MENTION = re.compile(r"^<at>(.*)</at>$", re.IGNORECASE)


def clean_needle(needle: str) -> str:
    """A name, email, user id or mention as typed: ``<@U123|alice>`` -> ``U123``, ``@Alice's`` -> ``Alice``."""
    text = " ".join(needle.split())
    if match := _SLACK_MENTION.match(text):
        return match.group(1)
    if match := _TEAMS_MENTION.match(text):
        text = match.group(1)
    text = text.strip(" \"'`.,;:!?()[]")
    text = re.sub(r"['\u2019]s$", "", text)
    return text.removeprefix("@").strip()


def find_direct_report(manager_id: int, needle: str, *, session: Session) -> list[Person]:
    """The manager's active direct reports that ``needle`` names; nobody else can ever match.

    An email, a Slack or Teams user id (or mention), or the full name (any case) match exactly;
    failing those, a first name, a last name or an email's local part. Several results mean the
    needle is ambiguous; none, that it names no direct report of this manager.
    """
    wanted = clean_needle(needle)
    if not wanted:
        return []
    lowered = wanted.lower()
    name = func.lower(Employee.name)
    exact = or_(
        Employee.email == lowered,
        Employee.slack_user_id == wanted.upper(),
        func.lower(Employee.teams_user_id) == lowered,
        name == lowered,
    )
    partial = or_(
        func.split_part(name, " ", 1) == lowered,
        func.regexp_replace(name, r"^.*\s", "") == lowered,
        func.split_part(Employee.email, "@", 1) == lowered,
    )
    rank = case((exact, 0), else_=1)
    stmt = (
        _people()
        .add_columns(rank)
        .where(and_(Employee.manager_id == manager_id, Employee.active), or_(exact, partial))
        .order_by(rank, Employee.name, Employee.id)
    )
    rows = session.execute(stmt).all()
    best = rows[0][2] if rows else 0
    return [_person(employee, manager_name) for employee, manager_name, row_rank in rows if row_rank == best]


def next_public_holidays(country: str, *, from_date: date, session: Session, n: int = 5) -> list[Holiday]:
    """The next ``n`` public holidays in ``country`` on or after ``from_date``.

    The ``holidays`` package lists them; rows of ``public_holidays`` override it: a row adds a day
    (or renames one), a row marked ``removed`` takes a listed day away.
    """
    code = country.strip().upper()
    last_year = from_date.year + 1 + n // 10
    listed: Mapping[date, str]
    try:
        listed = holidays.country_holidays(code, years=range(from_date.year, last_year + 1))
    except NotImplementedError:
        listed = {}
    merged = {
        day: Holiday(code, day, name, HOLIDAYS_SOURCE) for day, name in sorted(listed.items()) if day >= from_date
    }
    overrides = session.execute(
        select(PublicHoliday).where(
            PublicHoliday.country == code,
            PublicHoliday.day >= from_date,
            PublicHoliday.day <= date(last_year, 12, 31),
        )
    ).scalars()
    for row in overrides:
        if row.removed:
            merged.pop(row.day, None)
        else:
            merged[row.day] = Holiday(code, row.day, row.name, row.source or "override")
    return [merged[day] for day in sorted(merged)][:n]


def set_holiday_override(
    country: str, day: date, *, session: Session, name: str = "", removed: bool = False, source: str = "override"
) -> None:
    """Add (or rename) a public holiday, or with ``removed`` take one away. Flushes; the caller commits."""
    values = {"country": country.upper(), "day": day, "name": name, "removed": removed, "source": source}
    stmt = insert(PublicHoliday).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["country", "day"],
        set_={"name": name, "removed": removed, "source": source, "updated_at": func.now()},
    )
    session.execute(stmt)
    session.flush()


def directory_names(*, session: Session) -> frozenset[str]:
    """Lower-cased first, last and full names of active employees: enough to notice that a question
    is about somebody (never to select them: only ``find_direct_report`` does that)."""
    names: set[str] = set()
    for (name,) in session.execute(select(Employee.name).where(Employee.active)):
        parts = str(name).lower().split()
        names.add(" ".join(parts))
        names.update(p for p in parts if len(p) >= 2)
    return frozenset(names)


def link_slack_user(employee_id: int, slack_user_id: str, *, session: Session) -> bool:
    """Record the Slack id of an employee matched by their Slack profile email, when HR has none
    on file (so later lookups go by id). Flushes only; ``False`` when nothing was changed."""
    result = session.execute(
        update(Employee)
        .where(Employee.id == employee_id, Employee.slack_user_id.is_(None))
        .values(slack_user_id=slack_user_id)
    )
    session.flush()
    return bool(getattr(result, "rowcount", 0))
