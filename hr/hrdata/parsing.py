"""Read an HR CSV export into typed rows, checking every row; no database involved.

The kind of file is recognised by its header row (extra columns are ignored). Every problem is
reported with its line number, so that a file is either imported whole or not at all.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from hr.hrdata.countries import COMMON_MISTAKES, ISO_COUNTRIES, default_locale
from hr.hrdata.models import STATUSES, UNITS


class FileKind(StrEnum):
    EMPLOYEES = "employees"
    HOLIDAYS = "holidays"
    BALANCES = "balances"
    REQUESTS = "requests"


REQUIRED_COLUMNS: dict[FileKind, tuple[str, ...]] = {
    FileKind.EMPLOYEES: (
        "email", "name", "slack_user_id", "teams_user_id", "country", "entity", "department", "manager_email",
        "employment_type", "hire_date",
    ),
    FileKind.BALANCES: ("email", "leave_type", "period", "entitled", "taken", "pending", "carried_over", "unit"),
    FileKind.REQUESTS: ("email", "leave_type", "start_date", "end_date", "amount", "status"),
    FileKind.HOLIDAYS: ("country", "date", "name"),
}  # fmt: skip
OPTIONAL_COLUMNS: dict[FileKind, tuple[str, ...]] = {
    FileKind.EMPLOYEES: ("locale",),
    FileKind.BALANCES: ("as_of",),
    FileKind.REQUESTS: ("unit", "as_of"),
    FileKind.HOLIDAYS: ("removed",),
}

EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CODE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
PERIOD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,19}$")
LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
MAX_AMOUNT = Decimal("99999999")
TRUE, FALSE = frozenset({"true", "yes", "y", "1", "removed"}), frozenset({"false", "no", "n", "0", ""})


@dataclass(frozen=True, slots=True)
class RowError:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class EmployeeInput:
    line: int
    email: str
    name: str
    slack_user_id: str | None
    teams_user_id: str | None
    country: str
    entity: str
    department: str
    manager_email: str | None
    employment_type: str
    hire_date: date | None
    locale: str


@dataclass(frozen=True, slots=True)
class BalanceInput:
    line: int
    email: str
    leave_type: str
    period: str
    entitled: Decimal
    taken: Decimal
    pending: Decimal
    carried_over: Decimal
    unit: str
    as_of: date


@dataclass(frozen=True, slots=True)
class RequestInput:
    line: int
    email: str
    leave_type: str
    start_date: date
    end_date: date
    amount: Decimal
    unit: str | None
    """None: the leave type's unit."""
    status: str
    as_of: date


@dataclass(frozen=True, slots=True)
class HolidayInput:
    line: int
    country: str
    day: date
    name: str
    removed: bool


Input = EmployeeInput | BalanceInput | RequestInput | HolidayInput
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ParsedFile:
    name: str
    """The file as the user named it, for messages."""
    source: str
    """What the imported rows record as their origin: ``csv:balances.csv``."""
    kind: FileKind | None
    rows: tuple[Input, ...]
    errors: tuple[RowError, ...]
    roster: frozenset[str] | None = None
    """An employees file that is the source's whole current staff: the work emails of everyone there
    (also those left out of ``rows`` for a data problem). People this source imported before who
    are not in it have left and are deactivated. ``None``: a partial file; nobody is deactivated."""


def accepted_headers() -> str:
    return "\n".join(
        "  " + ",".join(REQUIRED_COLUMNS[kind]) + (f"  (optional: {','.join(OPTIONAL_COLUMNS[kind])})")
        for kind in FileKind
    )


def detect_kind(header: Sequence[str]) -> FileKind | None:
    """The kind whose required columns the header holds (case and spaces ignored), or None."""
    present = {cell.strip().lower() for cell in header}
    matches = [kind for kind, columns in REQUIRED_COLUMNS.items() if set(columns) <= present]
    return matches[0] if len(matches) == 1 else None


class _Cells:
    """One CSV row: typed getters that collect a reason for every bad cell instead of raising."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.reasons: list[str] = []

    def text(self, column: str, *, required: bool = False, max_len: int = 200) -> str:
        value = " ".join((self.values.get(column) or "").split())
        if required and not value:
            self.reasons.append(f"{column} is empty")
        elif len(value) > max_len:
            self.reasons.append(f"{column} is longer than {max_len} characters")
        return value

    def check(self, column: str, parse: Callable[[str], T], *, default: T, required: bool = True) -> T:
        raw = self.text(column, required=required)
        if not raw:
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            self.reasons.append(f"{column} {exc}")
            return default


def _email(raw: str) -> str:
    if not EMAIL.match(raw):
        raise ValueError(f"{raw!r} is not an email address")
    return raw.lower()


def _country(raw: str) -> str:
    code = raw.upper()
    if code in COMMON_MISTAKES:
        raise ValueError(f"{raw!r} is not an ISO 3166 country code (use {COMMON_MISTAKES[code]})")
    if code not in ISO_COUNTRIES:
        raise ValueError(f"{raw!r} is not an ISO 3166 country code (two letters, e.g. US, DE, GB)")
    return code


def _date(raw: str) -> date:
    try:
        if ISO_DATE.match(raw):
            return date.fromisoformat(raw)
    except ValueError:
        pass
    raise ValueError(f"{raw!r} is not a date (YYYY-MM-DD)")


def _amount(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{raw!r} is not a number")
    if value < 0:
        raise ValueError(f"{raw!r} is negative")
    if value > MAX_AMOUNT or value != value.quantize(Decimal("0.01")):
        raise ValueError(f"{raw!r} has more than 2 decimals or is too large")
    return value


def _choice(options: Sequence[str]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.lower() not in options:
            raise ValueError(f"{raw!r} is not one of {', '.join(options)}")
        return raw.lower()

    return parse


def _code(raw: str) -> str:
    code = re.sub(r"[\s-]+", "_", raw.lower())
    if not CODE.match(code):
        raise ValueError(f"{raw!r} is not a code (letters, digits, underscores)")
    return code


def _pattern(regex: re.Pattern[str], what: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not regex.match(raw):
            raise ValueError(f"{raw!r} is not {what}")
        return raw

    return parse


def _flag(raw: str) -> bool:
    if raw.lower() in TRUE | FALSE:
        return raw.lower() in TRUE
    raise ValueError(f"{raw!r} is not true or false")


_USER_ID = re.compile(r"^\S{1,64}$")


def _employee(cells: _Cells, line: int, today: date) -> EmployeeInput:
    email = cells.check("email", _email, default="")
    manager = cells.check("manager_email", _email, default="", required=False)
    if manager and manager == email:
        cells.reasons.append("manager_email is the employee themself")
    country = cells.check("country", _country, default="")
    return EmployeeInput(
        line=line,
        email=email,
        name=cells.text("name", required=True),
        slack_user_id=cells.check("slack_user_id", _pattern(_USER_ID, "a user id"), default="", required=False) or None,
        teams_user_id=cells.check("teams_user_id", _pattern(_USER_ID, "a user id"), default="", required=False) or None,
        country=country,
        entity=cells.text("entity"),
        department=cells.text("department"),
        manager_email=manager or None,
        employment_type=cells.check("employment_type", _code, default="", required=False),
        hire_date=cells.check("hire_date", _date, default=None, required=False),
        locale=cells.check("locale", _pattern(LOCALE, "a locale like en-US"), default="", required=False)
        or default_locale(country),
    )


def _balance(cells: _Cells, line: int, today: date) -> BalanceInput:
    return BalanceInput(
        line=line,
        email=cells.check("email", _email, default=""),
        leave_type=cells.check("leave_type", _code, default=""),
        period=cells.check("period", _pattern(PERIOD, "a period like 2026"), default=""),
        entitled=cells.check("entitled", _amount, default=Decimal(0)),
        taken=cells.check("taken", _amount, default=Decimal(0)),
        pending=cells.check("pending", _amount, default=Decimal(0), required=False),
        carried_over=cells.check("carried_over", _amount, default=Decimal(0), required=False),
        unit=cells.check("unit", _choice(UNITS), default="days"),
        as_of=cells.check("as_of", _date, default=today, required=False),
    )


def _request(cells: _Cells, line: int, today: date) -> RequestInput:
    start = cells.check("start_date", _date, default=today)
    end = cells.check("end_date", _date, default=start)
    if end < start:
        cells.reasons.append(f"end_date {end} is before start_date {start}")
    return RequestInput(
        line=line,
        email=cells.check("email", _email, default=""),
        leave_type=cells.check("leave_type", _code, default=""),
        start_date=start,
        end_date=end,
        amount=cells.check("amount", _amount, default=Decimal(0)),
        unit=cells.check("unit", _choice(UNITS), default=None, required=False),
        status=cells.check("status", _choice(STATUSES), default=""),
        as_of=cells.check("as_of", _date, default=today, required=False),
    )


def _holiday(cells: _Cells, line: int, today: date) -> HolidayInput:
    removed = cells.check("removed", _flag, default=False, required=False)
    return HolidayInput(
        line=line,
        country=cells.check("country", _country, default=""),
        day=cells.check("date", _date, default=today),
        name=cells.text("name", required=not removed),
        removed=removed,
    )


_PARSERS: dict[FileKind, Callable[[_Cells, int, date], Input]] = {
    FileKind.EMPLOYEES: _employee,
    FileKind.BALANCES: _balance,
    FileKind.REQUESTS: _request,
    FileKind.HOLIDAYS: _holiday,
}


def _keys(row: Input) -> list[tuple[str, tuple[object, ...]]]:
    """What must be unique within one file, with a label for the message."""
    match row:
        case EmployeeInput():
            keys: list[tuple[str, tuple[object, ...]]] = [("email", (row.email,))]
            keys += [("slack_user_id", (row.slack_user_id,))] if row.slack_user_id else []
            keys += [("teams_user_id", (row.teams_user_id,))] if row.teams_user_id else []
            return keys
        case BalanceInput():
            return [("email, leave_type and period", (row.email, row.leave_type, row.period))]
        case RequestInput():
            return [("email, leave_type and dates", (row.email, row.leave_type, row.start_date, row.end_date))]
        case HolidayInput():
            return [("country and date", (row.country, row.day))]


def parse_csv(content: str, *, name: str, today: date) -> ParsedFile:
    """Parse the text of one CSV file named ``name``; ``today`` is the default ``as_of`` of its figures."""
    source = f"csv:{Path(name).name}"
    reader = csv.reader(io.StringIO(content.removeprefix("\ufeff")))
    header = next(reader, None)
    kind = detect_kind(header or [])
    if header is None or kind is None:
        reason = f"unrecognised header row; accepted headers (extra columns are ignored):\n{accepted_headers()}"
        return ParsedFile(name, source, None, (), (RowError(name, 1, reason),))
    columns = [cell.strip().lower() for cell in header]
    rows: list[Input] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, tuple[object, ...]], int] = {}
    line = reader.line_num
    for record in reader:
        line, start = reader.line_num, line + 1
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > len(columns):
            errors.append(RowError(name, start, f"{len(record)} cells but the header has {len(columns)}"))
            continue
        cells = _Cells(dict(zip(columns, record, strict=False)))
        row = _PARSERS[kind](cells, start, today)
        for key in [] if cells.reasons else _keys(row):
            first = seen.setdefault(key, start)
            if first != start:
                cells.reasons.append(f"duplicate {key[0]} (same as line {first})")
        if cells.reasons:
            errors.append(RowError(name, start, "; ".join(cells.reasons)))
        else:
            rows.append(row)
    return ParsedFile(name, source, kind, tuple(rows), tuple(errors))


def read_csv(path: Path, *, today: date) -> ParsedFile:
    """Parse one file; a file that cannot be read is one error at line 0."""
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        error = RowError(str(path), 0, f"cannot read the file: {exc}")
        return ParsedFile(str(path), f"csv:{path.name}", None, (), (error,))
    return parse_csv(content, name=str(path), today=today)
