"""HR data on a real PostgreSQL: CSV import (all or nothing, idempotent), fixed lookups, holidays, CLI."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from bot.cli import people_commands
from bot.cli.main import app
from hr.hrdata import store
from hr.hrdata.importer import ImportRejected, import_file, import_files
from hr.hrdata.models import Employee, LeaveBalance, LeaveRequest, LeaveType

PEOPLE = Path(__file__).resolve().parents[2] / "bot" / "demo" / "data" / "people"
DEMO = [PEOPLE / "requests.csv", PEOPLE / "balances.csv", PEOPLE / "employees.csv"]  # employees go first anyway
TODAY = date(2026, 5, 4)
EMPLOYEES = "email,name,slack_user_id,teams_user_id,country,entity,department,manager_email,employment_type,hire_date"
BALANCES = "email,leave_type,period,entitled,taken,pending,carried_over,unit"


def _import(sessions: sessionmaker[Session], *paths: Path, today: date = TODAY) -> list[tuple[str, int, int, int]]:
    with sessions.begin() as session:
        summaries = import_files(paths, session=session, today=today)
    return [(str(s.kind), s.inserted, s.updated, s.unchanged) for s in summaries]


def _counts(sessions: sessionmaker[Session]) -> tuple[int, ...]:
    with sessions() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Employee, LeaveType, LeaveBalance, LeaveRequest)
        )


@pytest.fixture
def demo(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    _import(sessions, *DEMO)
    return sessions


def _person(session: Session, email: str) -> store.Person:
    person = store.employee_by_email(email, session=session)
    assert person is not None
    return person


def test_demo_import_then_reimport_changes_nothing(sessions: sessionmaker[Session]) -> None:
    first = _import(sessions, *DEMO)
    assert first == [("employees", 22, 0, 0), ("balances", 30, 0, 0), ("requests", 37, 0, 0)]
    assert _counts(sessions) == (22, 3, 30, 37)
    with sessions() as session:
        before = session.execute(select(Employee.email, Employee.manager_id, Employee.updated_at)).all()
    again = _import(sessions, *DEMO)
    assert again == [("employees", 0, 0, 22), ("balances", 0, 0, 30), ("requests", 0, 0, 37)]
    with sessions() as session:
        assert sorted(
            session.execute(select(Employee.email, Employee.manager_id, Employee.updated_at)).all()
        ) == sorted(before)
        alice = _person(session, "Alice.Nguyen@brightwave.example")
        assert alice.manager_name == "Daniel Brooks" and alice.country == "US" and alice.locale == "en-US"
        assert _person(session, "katharina.vogel@brightwave.example").locale == "de-DE"
        assert _person(session, "maya.chen@brightwave.example").manager_id is None


def test_changed_rows_are_updated_in_place(demo: sessionmaker[Session], tmp_path: Path) -> None:
    changed = tmp_path / "balances.csv"
    lines = (PEOPLE / "balances.csv").read_text().splitlines()
    alice = next(i for i, line in enumerate(lines) if line.startswith("alice.nguyen@brightwave.example,vacation"))
    lines[alice] = "alice.nguyen@brightwave.example,vacation,2026,20,12,2,5,days"
    changed.write_text("\n".join(lines) + "\n")
    assert _import(demo, changed) == [("balances", 0, 1, 29)]
    with demo() as session:
        [vacation] = [
            b
            for b in store.balances(_person(session, "alice.nguyen@brightwave.example").id, session=session)
            if b.leave_type == "vacation"
        ]
    assert (vacation.taken, vacation.pending, vacation.remaining, vacation.available) == (12, 2, 13, 11)


def test_a_file_with_bad_rows_changes_nothing_and_reports_every_one(
    demo: sessionmaker[Session], tmp_path: Path
) -> None:
    bad = tmp_path / "balances.csv"
    bad.write_text(
        "\n".join(
            [
                BALANCES,
                "alice.nguyen@brightwave.example,vacation,2026,25,0,0,0,days",  # good, must not be applied
                "nobody@brightwave.example,vacation,2026,20,0,0,0,days",
                "alice.nguyen@brightwave.example,sick,2026,ten,0,0,0,days",
            ]
        )
        + "\n"
    )
    before = _counts(demo)
    with demo.begin() as session, pytest.raises(ImportRejected) as rejected:
        import_file(bad, session=session, today=TODAY)  # the session commits: the importer wrote nothing
    assert [(e.line, e.file) for e in rejected.value.errors] == [(3, str(bad)), (4, str(bad))]
    assert "unknown employee nobody@brightwave.example" in rejected.value.errors[0].reason
    assert "'ten' is not a number" in rejected.value.errors[1].reason
    assert _counts(demo) == before
    with demo() as session:
        entitled = session.scalar(
            select(LeaveBalance.entitled)
            .join(Employee, Employee.id == LeaveBalance.employee_id)
            .join(LeaveType, LeaveType.id == LeaveBalance.leave_type_id)
            .where(Employee.email == "alice.nguyen@brightwave.example", LeaveType.code == "vacation")
        )
    assert entitled == Decimal(20)


def test_one_bad_file_rolls_back_the_good_ones(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    bad = tmp_path / "requests.csv"
    bad.write_text("email,leave_type,start_date,end_date,amount,status\nx@y.example,vacation,2026-01-01,,1,approved\n")
    with sessions.begin() as session, pytest.raises(ImportRejected) as rejected:
        import_files([PEOPLE / "employees.csv", bad], session=session)
    assert [(e.line, "end_date is empty" in e.reason) for e in rejected.value.errors] == [(2, True)]
    assert _counts(sessions) == (0, 0, 0, 0)


def test_managers_may_come_later_and_must_exist(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        f"{EMPLOYEES}\n"
        "ann@acme.example,Ann Lee,U1,,US,Acme,Eng,bob@acme.example,full_time,2024-01-02\n"
        "bob@acme.example,Bob Stone,U2,,US,Acme,Eng,,full_time,2020-01-02\n"
    )
    assert _import(sessions, people) == [("employees", 2, 0, 0)]
    with sessions() as session:
        bob = _person(session, "bob@acme.example")
        assert [p.email for p in store.direct_reports(bob.id, session=session)] == ["ann@acme.example"]

    orphan = tmp_path / "orphan.csv"
    orphan.write_text(
        f"{EMPLOYEES}\n"
        "cy@acme.example,Cy,U3,,US,Acme,Eng,ghost@acme.example,full_time,\n"
        "dee@acme.example,Dee,U1,,US,Acme,Eng,,full_time,\n"
    )
    with pytest.raises(ImportRejected) as rejected, sessions.begin() as session:
        import_file(orphan, session=session)
    reasons = {e.line: e.reason for e in rejected.value.errors}
    assert "ghost@acme.example is neither in this file" in reasons[2]
    assert "U1 already belongs to ann@acme.example" in reasons[3]

    moved = tmp_path / "moved.csv"
    moved.write_text(f"{EMPLOYEES}\nann@acme.example,Ann Lee,U1,,US,Acme,Eng,,full_time,2024-01-02\n")
    assert _import(sessions, moved) == [("employees", 0, 1, 0)]  # only her manager changed
    with sessions() as session:
        assert store.direct_reports(bob.id, session=session) == []


def test_identity_lookups_and_balances(demo: sessionmaker[Session]) -> None:
    with demo() as session:
        alice = store.employee_by_slack_id("U0ALICE01", session=session)
        assert alice is not None and alice.email == "alice.nguyen@brightwave.example"
        by_teams = store.employee_by_teams_id(
            alice.teams_user_id.upper() if alice.teams_user_id else "", session=session
        )
        assert by_teams == alice
        assert store.employee_by_slack_id("alice", session=session) is None
        assert store.employee_by_slack_id("U0alice01", session=session) is None

        balances = {b.leave_type: b for b in store.balances(alice.id, period="2026", session=session)}
        vacation = balances["vacation"]
        assert (vacation.entitled, vacation.carried_over, vacation.taken, vacation.pending) == (20, 5, 10, 4)
        assert (vacation.remaining, vacation.available, vacation.unit) == (15, 11, "days")
        assert (vacation.as_of, vacation.source, vacation.leave_type_name) == (TODAY, "csv:balances.csv", "Vacation")
        assert store.balances(alice.id, period="2025", session=session) == []
        assert store.balances(alice.id, session=session) == sorted(balances.values(), key=lambda b: b.leave_type)

        upcoming = store.upcoming_requests(alice.id, today=TODAY, session=session)
        assert [(r.start_date, r.status) for r in upcoming] == [
            (date(2026, 8, 17), "approved"),
            (date(2026, 12, 28), "pending"),
        ]
        assert [r.amount for r in store.pending_requests(alice.id, session=session)] == [Decimal(4)]
        assert store.upcoming_requests(alice.id, today=date(2027, 1, 1), session=session) == []


def test_find_direct_report_sees_only_direct_reports(demo: sessionmaker[Session]) -> None:
    with demo() as session:
        daniel = _person(session, "daniel.brooks@brightwave.example")
        katharina = _person(session, "katharina.vogel@brightwave.example")
        maya = _person(session, "maya.chen@brightwave.example")

        def names(manager: store.Person, needle: str) -> list[str]:
            return [p.name for p in store.find_direct_report(manager.id, needle, session=session)]

        for needle in (
            "Alice",
            "alice nguyen",
            "NGUYEN",
            "<@U0ALICE01>",
            "alice.nguyen@brightwave.example",
            "@alice's",
            "E52FEC14-2D75-4A6A-8584-0F4CE50EE168",  # her Teams user id
        ):
            assert names(daniel, needle) == ["Alice Nguyen"], needle
        assert names(daniel, "Anna Becker") == []  # Katharina's report
        assert names(daniel, "Daniel") == []  # himself
        assert names(daniel, "Maya Chen") == []  # his manager
        assert names(daniel, "") == []
        assert names(daniel, "%") == [] and names(daniel, "' OR 1=1 --") == []
        assert names(katharina, "anna") == ["Anna Becker"]
        assert names(maya, "Alice") == []  # a report of a report is not a direct report
        assert names(maya, "daniel") == ["Daniel Brooks"]
        assert store.is_direct_report(
            daniel.id, _person(session, "alice.nguyen@brightwave.example").id, session=session
        )
        assert not store.is_direct_report(
            maya.id, _person(session, "alice.nguyen@brightwave.example").id, session=session
        )
        reports = store.direct_reports(katharina.id, session=session)
        assert [p.name for p in reports] == [
            "Anna Becker",
            "Felix Braun",
            "Jonas Weber",
            "Lukas Schmidt",
            "Sophie Hoffmann",
        ]


def test_find_direct_report_prefers_exact_matches_and_shows_ambiguity(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        f"{EMPLOYEES}\n"
        "boss@acme.example,Boss,,,US,,,,,\n"
        "sam.lee@acme.example,Sam Lee,,,US,,,boss@acme.example,,\n"
        "sam.ito@acme.example,Sam Ito,,,US,,,boss@acme.example,,\n"
        "lee.sam@acme.example,Lee,,,US,,,boss@acme.example,,\n"
    )
    _import(sessions, people)
    with sessions() as session:
        boss = _person(session, "boss@acme.example")
        assert sorted(p.name for p in store.find_direct_report(boss.id, "sam", session=session)) == [
            "Sam Ito",
            "Sam Lee",
        ]
        assert [p.name for p in store.find_direct_report(boss.id, "lee", session=session)] == ["Lee"]
        assert [p.name for p in store.find_direct_report(boss.id, "sam lee", session=session)] == ["Sam Lee"]


def test_public_holidays_with_overrides(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    with sessions.begin() as session:
        christmas = store.next_public_holidays("de", from_date=date(2026, 12, 1), n=3, session=session)
        assert [h.day for h in christmas] == [date(2026, 12, 25), date(2026, 12, 26), date(2027, 1, 1)]
        assert christmas[0].source.startswith("holidays package") and christmas[0].country == "DE"

        store.set_holiday_override("DE", date(2026, 12, 24), name="Christmas Eve (company)", session=session)
        store.set_holiday_override("DE", date(2026, 12, 26), removed=True, session=session)
        merged = store.next_public_holidays("DE", from_date=date(2026, 12, 1), n=3, session=session)
        assert [(h.day, h.name, h.source) for h in merged][:2] == [
            (date(2026, 12, 24), "Christmas Eve (company)", "override"),
            (date(2026, 12, 25), christmas[0].name, christmas[0].source),
        ]
        assert date(2026, 12, 26) not in {h.day for h in merged}
        assert store.next_public_holidays("GB", from_date=date(2026, 12, 1), n=1, session=session)[0].day == date(
            2026, 12, 25
        )

    overrides = tmp_path / "holidays.csv"
    overrides.write_text("country,date,name,removed\nDE,2026-12-26,Second Day of Christmas,no\nDE,2027-01-01,,yes\n")
    assert _import(sessions, overrides) == [("holidays", 1, 1, 0)]  # 12-26 restored, new year removed
    with sessions() as session:
        days = [h.day for h in store.next_public_holidays("DE", from_date=date(2026, 12, 25), n=3, session=session)]
    assert days[:2] == [date(2026, 12, 25), date(2026, 12, 26)] and date(2027, 1, 1) not in days


def test_cli_import_list_and_errors(settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HRBOT_DATABASE_URL", settings.database_url.get_secret_value())
    monkeypatch.setattr(people_commands, "out", Console(width=200))  # tables at full width
    runner = CliRunner()
    files = [str(path) for path in DEMO]
    result = runner.invoke(app, ["people", "import", *files, "--as-of", "2026-05-04"])
    assert result.exit_code == 0, result.output
    assert "employees.csv (employees): 22 rows, 22 inserted, 0 updated, 0 unchanged" in result.stdout
    assert "requests.csv (requests): 37 rows, 37 inserted" in result.stdout
    again = runner.invoke(app, ["people", "import", *files, "--as-of", "2026-05-04"])
    assert again.exit_code == 0 and "30 rows, 0 inserted, 0 updated, 30 unchanged" in again.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text(f"{BALANCES}\nalice.nguyen@brightwave.example,vacation,2026,1,0,0,0,weeks\nx,y,2026,1,1,1,1,days\n")
    failed = runner.invoke(app, ["people", "import", str(bad)])
    assert failed.exit_code == 1
    assert f"{bad}:2: unit 'weeks' is not one of days, hours" in failed.stderr
    assert f"{bad}:3: email 'x' is not an email address" in failed.stderr
    assert "nothing was imported" in failed.stderr

    unknown = tmp_path / "unknown.csv"
    unknown.write_text("who,what\n")
    failed = runner.invoke(app, ["people", "import", str(unknown)])
    assert failed.exit_code == 1 and f"{unknown}:1: unrecognised header row" in failed.stderr
    assert "email,leave_type,start_date,end_date,amount,status" in failed.stderr

    listed = runner.invoke(app, ["people", "list", "--country", "GB"])
    assert listed.exit_code == 0, listed.output
    assert "Oliver Hughes" in listed.stdout and "Alice Nguyen" not in listed.stdout and "6 employees" in listed.stdout

    shown = runner.invoke(app, ["people", "show", "alice.nguyen@brightwave.example", "--period", "2026"])
    assert shown.exit_code == 0, shown.output
    assert "Alice Nguyen" in shown.stdout and "11 days" in shown.stdout
