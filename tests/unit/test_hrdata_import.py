"""Reading HR CSV exports: kinds by header, typed rows, and every bad row reported by line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from hr.hrdata.countries import default_locale
from hr.hrdata.parsing import (
    BalanceInput,
    EmployeeInput,
    FileKind,
    HolidayInput,
    RequestInput,
    detect_kind,
    parse_csv,
    read_csv,
)
from hr.hrdata.store import Balance, clean_needle

TODAY = date(2026, 5, 4)
PEOPLE = Path(__file__).resolve().parents[2] / "bot" / "demo" / "data" / "people"
EMPLOYEES = "email,name,slack_user_id,teams_user_id,country,entity,department,manager_email,employment_type,hire_date"
BALANCES = "email,leave_type,period,entitled,taken,pending,carried_over,unit"
REQUESTS = "email,leave_type,start_date,end_date,amount,status"


def parse(*lines: str):
    return parse_csv("\n".join(lines) + "\n", name="in.csv", today=TODAY)


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (EMPLOYEES, FileKind.EMPLOYEES),
        (EMPLOYEES + ",locale,notes", FileKind.EMPLOYEES),
        (" Email , Leave_Type,period,entitled,taken,pending,carried_over,unit,as_of", FileKind.BALANCES),
        (REQUESTS, FileKind.REQUESTS),
        ("status,amount,end_date,start_date,leave_type,email", FileKind.REQUESTS),
        ("country,date,name,removed", FileKind.HOLIDAYS),
        ("email,name", None),
        ("", None),
    ],
)
def test_kind_is_recognised_by_header(header: str, kind: FileKind | None) -> None:
    assert detect_kind(header.split(",")) == kind


def test_unknown_header_lists_the_accepted_ones() -> None:
    parsed = parse("mail,full name", "a@b.co,A B")
    assert parsed.kind is None and parsed.rows == ()
    [error] = parsed.errors
    assert error.line == 1
    assert BALANCES in error.reason and REQUESTS in error.reason and EMPLOYEES in error.reason


def test_demo_files_parse_cleanly() -> None:
    kinds = {}
    for path in sorted(PEOPLE.glob("*.csv")):
        parsed = read_csv(path, today=TODAY)
        assert parsed.errors == (), parsed.errors
        kinds[parsed.kind] = len(parsed.rows)
    assert kinds == {FileKind.EMPLOYEES: 22, FileKind.BALANCES: 30, FileKind.REQUESTS: 37}


def test_employee_row_is_normalised() -> None:
    parsed = parse(
        EMPLOYEES + ",locale,extra",
        " Anna.Becker@Example.COM ,Anna  Becker,U1,,de,Acme GmbH,People,boss@example.com,Full-Time,2021-04-01,,x",
        "boss@example.com,Boss,,,GB,Acme Ltd,Exec,,,,en-IE,",
    )
    assert parsed.errors == ()
    anna, boss = parsed.rows
    assert anna == EmployeeInput(
        line=2,
        email="anna.becker@example.com",
        name="Anna Becker",
        slack_user_id="U1",
        teams_user_id=None,
        country="DE",
        entity="Acme GmbH",
        department="People",
        manager_email="boss@example.com",
        employment_type="full_time",
        hire_date=date(2021, 4, 1),
        locale="de-DE",
    )
    assert isinstance(boss, EmployeeInput)
    assert boss.locale == "en-IE" and boss.hire_date is None and boss.manager_email is None


def test_balance_numbers_and_as_of() -> None:
    parsed = parse(
        BALANCES + ",as_of",
        "a@b.co,Vacation,2026,12.5,3,0.5,,hours,2026-04-30",
        "a@b.co,sick,2026,10,0,0,0,DAYS,",
    )
    assert parsed.errors == ()
    first, second = parsed.rows
    assert isinstance(first, BalanceInput) and isinstance(second, BalanceInput)
    assert (first.leave_type, first.entitled, first.pending, first.carried_over) == (
        "vacation",
        Decimal("12.5"),
        Decimal("0.5"),
        Decimal(0),
    )
    assert first.unit == "hours" and first.as_of == date(2026, 4, 30)
    assert second.unit == "days" and second.as_of == TODAY


def test_every_bad_row_is_reported_with_its_line() -> None:
    parsed = parse(
        REQUESTS,
        "a@b.co,vacation,2026-06-01,2026-06-05,5,approved",
        "",
        "not-an-email,vacation,2026-06-01,2026-06-05,5,approved",
        "a@b.co,vacation,2026-07-10,2026-07-01,5,approved",
        "a@b.co,vacation,2026-08-01,2026-08-01,-1,maybe",
        "a@b.co,vacation,06/01/2026,2026-08-01,abc,approved",
        "a@b.co,vacation,2026-06-01,2026-06-05,5,pending",
    )
    reasons = {error.line: error.reason for error in parsed.errors}
    assert sorted(reasons) == [4, 5, 6, 7, 8]
    assert "not an email" in reasons[4]
    assert "before start_date" in reasons[5]
    assert "negative" in reasons[6] and "'maybe' is not one of" in reasons[6]
    assert "not a date" in reasons[7] and "not a number" in reasons[7]
    assert "duplicate" in reasons[8] and "line 2" in reasons[8]
    assert [row.line for row in parsed.rows] == [2]
    assert str(parsed.errors[0]).startswith("in.csv:4: ")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("x@y.co,X,,,UK,E,D,,full_time,2020-01-01", "use GB"),
        ("x@y.co,X,,,ZZ,E,D,,full_time,2020-01-01", "not an ISO 3166"),
        ("x@y.co,,,,US,E,D,,full_time,2020-01-01", "name is empty"),
        ("x@y.co,X,,,US,E,D,x@y.co,full_time,2020-01-01", "themself"),
        ("x@y.co,X,,,US,E,D,,full_time,2020-02-30", "not a date"),
        ("x@y.co,X,U 1,,US,E,D,,full_time,2020-01-01", "not a user id"),
    ],
)
def test_bad_employee_rows(row: str, reason: str) -> None:
    [error] = parse(EMPLOYEES, row).errors
    assert error.line == 2 and reason in error.reason


def test_duplicate_slack_ids_in_one_file() -> None:
    parsed = parse(EMPLOYEES, "a@b.co,A,U1,,US,,,,,", "c@b.co,C,U1,,US,,,,,")
    [error] = parsed.errors
    assert error.line == 3 and "duplicate slack_user_id" in error.reason


def test_balance_rejects_bad_unit_and_too_many_decimals() -> None:
    parsed = parse(BALANCES, "a@b.co,vacation,2026,1.255,0,0,0,weeks")
    [error] = parsed.errors
    assert "more than 2 decimals" in error.reason and "'weeks' is not one of days, hours" in error.reason


def test_requests_default_unit_and_holiday_rows() -> None:
    [request] = parse(REQUESTS, "a@b.co,sick,2026-01-05,2026-01-05,1,Taken").rows
    assert isinstance(request, RequestInput) and request.unit is None and request.status == "taken"
    rows = parse("country,date,name,removed", "de,2026-10-31,Reformation Day,", "DE,2026-12-26,,yes").rows
    assert rows == (
        HolidayInput(line=2, country="DE", day=date(2026, 10, 31), name="Reformation Day", removed=False),
        HolidayInput(line=3, country="DE", day=date(2026, 12, 26), name="", removed=True),
    )


def test_default_locale() -> None:
    assert (default_locale("de"), default_locale("GB"), default_locale("US"), default_locale("??")) == (
        "de-DE",
        "en-GB",
        "en-US",
        "en-US",
    )


def test_balance_arithmetic() -> None:
    balance = Balance(
        "vacation", "Vacation", "2026", Decimal(20), Decimal("10.5"), Decimal(4), Decimal(5), "days", TODAY, "csv:x"
    )
    assert balance.remaining == Decimal("14.5")
    assert balance.available == Decimal("10.5")


@pytest.mark.parametrize(
    ("needle", "cleaned"),
    [
        ("<@U0ALICE01>", "U0ALICE01"),
        ("<@U0ALICE01|alice>", "U0ALICE01"),
        ("<at>Alice Nguyen</at>", "Alice Nguyen"),
        ("@alice", "alice"),
        ("Alice's", "Alice"),
        ("  alice   nguyen? ", "alice nguyen"),
    ],
)
def test_clean_needle(needle: str, cleaned: str) -> None:
    assert clean_needle(needle) == cleaned
