"""Import HR CSV exports: every row checked, then one idempotent upsert per file, or nothing at all.

Rows are checked twice: on their own (``hr.hrdata.parsing``) and against the database (the people
they name must exist, a Slack or Teams id must not belong to someone else). When any row of any
file is bad nothing is written and :class:`ImportRejected` lists every bad row. Otherwise each file
becomes ``INSERT ... ON CONFLICT DO UPDATE ... WHERE <something changed>``, so importing the same
file twice changes nothing and the summary tells inserted, updated and unchanged rows apart.
Services only flush: the caller commits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, Table, cast, column, func, literal_column, or_, select, update, values
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from hr.hrdata.models import Employee, LeaveBalance, LeaveRequest, LeaveType, PublicHoliday
from hr.hrdata.parsing import (
    BalanceInput,
    EmployeeInput,
    FileKind,
    HolidayInput,
    ParsedFile,
    RequestInput,
    RowError,
    read_csv,
)

log = logging.getLogger(__name__)

BATCH = 1000
IMPORT_ORDER = (FileKind.EMPLOYEES, FileKind.HOLIDAYS, FileKind.BALANCES, FileKind.REQUESTS)


@dataclass(frozen=True, slots=True)
class ImportSummary:
    file: str
    kind: FileKind
    inserted: int
    updated: int
    unchanged: int
    deactivated: int = 0  # people a complete roster no longer lists (``ParsedFile.roster``)

    @property
    def rows(self) -> int:
        return self.inserted + self.updated + self.unchanged


class ImportRejected(Exception):
    """Some rows are bad; nothing was written. ``errors`` holds every bad row, in file and line order."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


def import_files(paths: Iterable[Path], *, session: Session, today: date | None = None) -> list[ImportSummary]:
    """Import several files (employees first, whatever the order given), all of them or none."""
    parsed = [read_csv(path, today=today or date.today()) for path in paths]
    parsed.sort(key=lambda p: IMPORT_ORDER.index(p.kind) if p.kind else -1)
    summaries: list[ImportSummary] = []
    errors: list[RowError] = []
    savepoint = session.begin_nested()
    for one in parsed:
        try:
            summaries.append(_import(one, session=session))
        except ImportRejected as rejected:
            errors.extend(rejected.errors)
    if errors:
        savepoint.rollback()
        raise ImportRejected(errors)
    savepoint.commit()
    return summaries


def import_file(path: Path, *, session: Session, today: date | None = None) -> ImportSummary:
    return import_files([path], session=session, today=today)[0]


def import_parsed(parsed: ParsedFile, *, session: Session) -> ImportSummary:
    """Import one parsed file, or raise :class:`ImportRejected` having written nothing."""
    with session.begin_nested():
        return _import(parsed, session=session)


def _import(parsed: ParsedFile, *, session: Session) -> ImportSummary:
    if parsed.kind is None:
        raise ImportRejected(parsed.errors)
    session.flush()
    errors = sorted([*parsed.errors, *_check(parsed, session)], key=lambda error: error.line)
    if errors:
        raise ImportRejected(errors)
    left = 0
    match parsed.kind:
        case FileKind.EMPLOYEES:
            counts = _import_employees(parsed, [r for r in parsed.rows if isinstance(r, EmployeeInput)], session)
            left = _deactivate_leavers(parsed, session)
        case FileKind.HOLIDAYS:
            counts = _import_holidays(parsed, [r for r in parsed.rows if isinstance(r, HolidayInput)], session)
        case FileKind.BALANCES:
            counts = _import_balances(parsed, [r for r in parsed.rows if isinstance(r, BalanceInput)], session)
        case FileKind.REQUESTS:
            counts = _import_requests(parsed, [r for r in parsed.rows if isinstance(r, RequestInput)], session)
    summary = ImportSummary(parsed.name, parsed.kind, *counts, deactivated=left)
    log.info(
        "imported %s",
        parsed.source,
        extra={"kind": str(summary.kind), "inserted": summary.inserted, "updated": summary.updated},
    )
    return summary


def _upsert(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    keys: Sequence[str],
    keep_when_missing: Sequence[str] = (),
) -> tuple[set[int], set[int]]:
    """Insert or update ``rows`` by their natural ``keys``, touching only rows that differ. Columns
    in ``keep_when_missing`` keep their stored value when the row has none (a chat id linked on
    first contact survives an HR export that does not carry it).

    Returns the ids inserted and the ids updated; rows in neither were already up to date.
    """
    inserted: set[int] = set()
    updated: set[int] = set()
    for start in range(0, len(rows), BATCH):
        stmt = insert(table).values(rows[start : start + BATCH])
        changing = [name for name in rows[0] if name not in keys]
        incoming = {
            name: func.coalesce(stmt.excluded[name], table.c[name])
            if name in keep_when_missing
            else stmt.excluded[name]
            for name in changing
        }
        upsert = stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={**incoming, "updated_at": func.now()},
            where=or_(*(table.c[name].is_distinct_from(incoming[name]) for name in changing)),
        ).returning(table.c.id, literal_column("(xmax = 0)"))
        for row_id, is_new in session.execute(upsert):
            (inserted if is_new else updated).add(row_id)
    return inserted, updated


def _counts(total: int, inserted: set[int], updated: set[int]) -> tuple[int, int, int]:
    return len(inserted), len(updated), total - len(inserted) - len(updated)


def _ids_by_email(session: Session, emails: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(emails))
    rows = session.execute(select(Employee.email, Employee.id).where(Employee.email.in_(wanted)))
    return {email: employee_id for email, employee_id in rows}


def _check(parsed: ParsedFile, session: Session) -> list[RowError]:
    """What the rows get wrong about the database: people who are not there, ids someone else has."""
    employees = [row for row in parsed.rows if isinstance(row, EmployeeInput)]
    if employees:
        return _check_employees(parsed, employees, session)
    named = [(row.line, row.email) for row in parsed.rows if isinstance(row, BalanceInput | RequestInput)]
    ids = _ids_by_email(session, [email for _, email in named])
    return [
        RowError(parsed.name, line, f"unknown employee {email} (import the employees file first)")
        for line, email in named
        if email not in ids
    ]


def _check_employees(parsed: ParsedFile, rows: list[EmployeeInput], session: Session) -> list[RowError]:
    in_file = {row.email for row in rows}
    known = _ids_by_email(session, [row.manager_email for row in rows if row.manager_email])
    owners: dict[tuple[str, str], str] = {}
    for kind, attribute in (("slack_user_id", Employee.slack_user_id), ("teams_user_id", Employee.teams_user_id)):
        ids = [getattr(row, kind) for row in rows if getattr(row, kind)]
        for user_id, email in session.execute(select(attribute, Employee.email).where(attribute.in_(ids))):
            owners[(kind, user_id or "")] = email
    errors: list[RowError] = []
    for row in rows:
        reasons = []
        if row.manager_email and row.manager_email not in in_file and row.manager_email not in known:
            reasons.append(f"manager_email {row.manager_email} is neither in this file nor already imported")
        for kind in ("slack_user_id", "teams_user_id"):
            owner = owners.get((kind, getattr(row, kind) or ""))
            if owner and owner != row.email:
                reasons.append(f"{kind} {getattr(row, kind)} already belongs to {owner}")
        if reasons:
            errors.append(RowError(parsed.name, row.line, "; ".join(reasons)))
    return errors


def _import_employees(parsed: ParsedFile, rows: list[EmployeeInput], session: Session) -> tuple[int, int, int]:
    table = Employee.__table__
    assert isinstance(table, Table)
    records = [
        {
            "email": row.email,
            "name": row.name,
            "slack_user_id": row.slack_user_id,
            "teams_user_id": row.teams_user_id,
            "country": row.country,
            "entity": row.entity,
            "department": row.department,
            "employment_type": row.employment_type,
            "hire_date": row.hire_date,
            "locale": row.locale,
            "active": True,
            "source": parsed.source,
        }
        for row in rows
    ]
    keep = ("slack_user_id", "teams_user_id")
    inserted, updated = _upsert(session, table, records, ["email"], keep) if records else (set(), set())
    # Managers are linked once everyone is in, so a manager may come later in the file.
    ids = _ids_by_email(session, [row.email for row in rows] + [row.manager_email or "" for row in rows])
    links = [(ids[row.email], ids[row.manager_email] if row.manager_email else None) for row in rows]
    if links:
        wanted = values(column("id", Integer), column("manager_id", Integer), name="wanted").data(links)
        relinked = session.execute(
            update(table)
            .where(table.c.id == wanted.c.id, table.c.manager_id.is_distinct_from(cast(wanted.c.manager_id, Integer)))
            .values(manager_id=cast(wanted.c.manager_id, Integer), updated_at=func.now())
            .returning(table.c.id)
        ).scalars()
        updated |= set(relinked) - inserted
    return _counts(len(rows), inserted, updated)


def _deactivate_leavers(parsed: ParsedFile, session: Session) -> int:
    """With a complete roster: people this source imported who are no longer on it have left. They
    are deactivated, not deleted (answers given to them stay in the audit log): from now on their
    chat ids find nobody, and nobody sees them as a direct report. An empty roster is refused, so an
    HR system answering "nobody" by mistake cannot lock everyone out."""
    if parsed.roster is None:
        return 0
    if not parsed.roster:
        raise ImportRejected([RowError(parsed.name, 0, "the roster lists nobody; refusing to deactivate everyone")])
    table = Employee.__table__
    assert isinstance(table, Table)
    gone = session.execute(
        update(table)
        .where(
            table.c.source == parsed.source,
            table.c.active,
            table.c.email.not_in(sorted(parsed.roster)),
        )
        .values(active=False, updated_at=func.now())
        .returning(table.c.id)
    ).scalars()
    left = len(list(gone))
    if left:
        log.info("deactivated leavers", extra={"source": parsed.source, "count": left})
    return left


def _leave_type_ids(session: Session, units: dict[str, str]) -> dict[str, int]:
    """Ids of the leave types by code, creating the ones not seen before (named after their code)."""
    new = [{"code": code, "name": code.replace("_", " ").capitalize(), "unit": unit} for code, unit in units.items()]
    if new:
        session.execute(insert(LeaveType).values(new).on_conflict_do_nothing(index_elements=["code"]))
    rows = session.execute(select(LeaveType.code, LeaveType.id).where(LeaveType.code.in_(sorted(units))))
    return {code: type_id for code, type_id in rows}


def _import_balances(parsed: ParsedFile, rows: list[BalanceInput], session: Session) -> tuple[int, int, int]:
    people = _ids_by_email(session, [row.email for row in rows])
    types = _leave_type_ids(session, {row.leave_type: row.unit for row in reversed(rows)})
    records = [
        {
            "employee_id": people[row.email],
            "leave_type_id": types[row.leave_type],
            "period": row.period,
            "entitled": row.entitled,
            "taken": row.taken,
            "pending": row.pending,
            "carried_over": row.carried_over,
            "unit": row.unit,
            "as_of": row.as_of,
            "source": parsed.source,
        }
        for row in rows
    ]
    table = LeaveBalance.__table__
    assert isinstance(table, Table)
    keys = ["employee_id", "leave_type_id", "period"]
    inserted, updated = _upsert(session, table, records, keys) if records else (set(), set())
    return _counts(len(rows), inserted, updated)


def _import_requests(parsed: ParsedFile, rows: list[RequestInput], session: Session) -> tuple[int, int, int]:
    people = _ids_by_email(session, [row.email for row in rows])
    types = _leave_type_ids(session, {row.leave_type: row.unit or "days" for row in reversed(rows)})
    unit_rows = session.execute(select(LeaveType.id, LeaveType.unit).where(LeaveType.id.in_(types.values())))
    type_units = {type_id: unit for type_id, unit in unit_rows}
    records = [
        {
            "employee_id": people[row.email],
            "leave_type_id": types[row.leave_type],
            "start_date": row.start_date,
            "end_date": row.end_date,
            "amount": row.amount,
            "unit": row.unit or type_units[types[row.leave_type]],
            "status": row.status,
            "as_of": row.as_of,
            "source": parsed.source,
        }
        for row in rows
    ]
    table = LeaveRequest.__table__
    assert isinstance(table, Table)
    keys = ["employee_id", "leave_type_id", "start_date", "end_date"]
    inserted, updated = _upsert(session, table, records, keys) if records else (set(), set())
    return _counts(len(rows), inserted, updated)


def _import_holidays(parsed: ParsedFile, rows: list[HolidayInput], session: Session) -> tuple[int, int, int]:
    records = [
        {"country": row.country, "day": row.day, "name": row.name, "removed": row.removed, "source": parsed.source}
        for row in rows
    ]
    table = PublicHoliday.__table__
    assert isinstance(table, Table)
    inserted, updated = _upsert(session, table, records, ["country", "day"]) if records else (set(), set())
    return _counts(len(rows), inserted, updated)
