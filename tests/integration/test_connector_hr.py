"""HR connectors: the CSV drop folder (new and changed files only, employees first, archive after
import) and BambooHR against a fake API on loopback (mapping, auth, rate limits, people left out),
with one end-to-end import of the BambooHR rows into PostgreSQL."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from connectors.bamboohr import BambooHRConnector, country_code, slug
from connectors.base import ConnectorAuthError, ConnectorConfigError, ConnectorError, HRConnector
from connectors.hr_csv import CsvDropConnector
from connectors.registry import build
from hr.hrdata import store
from hr.hrdata.importer import ImportRejected, import_parsed
from hr.hrdata.models import Employee, LeaveBalance, LeaveType
from hr.hrdata.parsing import BalanceInput, EmployeeInput, FileKind, ParsedFile
from tests.fakes.bamboohr_api import FakeBambooHR, fake_bamboohr

PEOPLE = Path(__file__).resolve().parents[2] / "bot" / "demo" / "data" / "people"
TODAY = date(2026, 5, 4)
KEY = "bamboo-test-key"

# --- the CSV drop folder ------------------------------------------------------------------------


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    for name in ("balances.csv", "employees.csv", "requests.csv"):
        shutil.copy(PEOPLE / name, folder / name)
    (folder / "bad.csv").write_text("what,is,this\n1,2,3\n")
    (folder / ".~lock.employees.csv#").write_text("lock")
    (folder / ".hidden.csv").write_text("email,name\n")
    (folder / "readme.txt").write_text("drop HR exports here")
    return folder


def _drop(folder: Path, state: dict[str, object] | None = None, **settings: object) -> CsvDropConnector:
    connector = build("hr-csv", {"path": str(folder), **settings}, state=state)
    assert isinstance(connector, CsvDropConnector) and isinstance(connector, HRConnector)
    connector.today = lambda: TODAY
    return connector


def _names(files: list[ParsedFile]) -> list[str]:
    return [Path(parsed.name).name for parsed in files]


def test_drop_yields_new_files_employees_first_and_then_only_changes(drop: Path) -> None:
    first = _drop(drop)
    files = list(first.load_hr())
    assert _names(files) == ["bad.csv", "employees.csv", "balances.csv", "requests.csv"]
    assert [parsed.kind for parsed in files] == [None, FileKind.EMPLOYEES, FileKind.BALANCES, FileKind.REQUESTS]
    assert files[0].errors and "unrecognised header" in files[0].errors[0].reason
    assert len(files[1].rows) == 22 and not files[1].errors and files[1].source == "csv:employees.csv"
    assert set(first.state["files"]) == {"bad.csv", "employees.csv", "balances.csv", "requests.csv"}

    assert list(_drop(drop, state=first.state).load_hr()) == []

    balances = drop / "balances.csv"
    balances.write_text(
        balances.read_text().replace(
            "maya.chen@brightwave.example,vacation,2026,20,10", "maya.chen@brightwave.example,vacation,2026,21,10"
        )
    )
    (drop / "requests.csv").unlink()
    again = _drop(drop, state=first.state)
    changed = list(again.load_hr())
    assert _names(changed) == ["balances.csv"]
    maya = next(r for r in changed[0].rows if isinstance(r, BalanceInput) and r.email.startswith("maya"))
    assert maya.entitled == Decimal(21) and maya.as_of == TODAY
    assert "requests.csv" not in again.state["files"]


def test_only_files_handed_over_are_recorded(drop: Path) -> None:
    connector = _drop(drop)
    files = connector.load_hr()
    next(files)  # bad.csv
    next(files)  # employees.csv; the sync stops here (say the import failed)
    assert set(connector.state["files"]) == {"bad.csv", "employees.csv"}
    rest = list(_drop(drop, state=connector.state).load_hr())
    assert _names(rest) == ["balances.csv", "requests.csv"]


def test_archive_moves_a_file_only_when_the_sync_says_done(drop: Path) -> None:
    connector = _drop(drop, archive="true")
    files = list(connector.load_hr())
    assert (drop / "employees.csv").exists()  # load_hr moves nothing
    moved = connector.mark_done(files[1].name)
    assert moved == drop / "processed" / "employees.csv" and moved.exists()
    assert not (drop / "employees.csv").exists()
    shutil.copy(PEOPLE / "employees.csv", drop / "employees.csv")
    second = connector.mark_done("employees.csv")
    assert second is not None and second.parent == drop / "processed" and second.name != "employees.csv"
    assert _drop(drop).mark_done("balances.csv") is None  # archive off: stays
    assert (drop / "balances.csv").exists()


def test_drop_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConnectorConfigError, match="path"):
        build("hr-csv", {})
    with pytest.raises(ConnectorConfigError, match="not a folder"):
        build("hr-csv", {"path": str(tmp_path / "missing")})
    with pytest.raises(ConnectorConfigError, match="archive"):
        build("hr-csv", {"path": str(tmp_path), "archive": "sometimes"})


# --- BambooHR ------------------------------------------------------------------------------------


@pytest.fixture
def bamboo() -> Iterator[FakeBambooHR]:
    with fake_bamboohr(api_key=KEY) as fake:
        fake.employee(
            "1",
            workEmail="Maya@Acme.example",
            firstName="Maya",
            lastName="Chen",
            displayName="Maya Chen",
            country="United States",
            department="Executive",
            division="Acme Inc.",
            hireDate="2019-03-04",
        )
        fake.employee(
            "2",
            workEmail="daniel@acme.example",
            firstName="Daniel",
            lastName="Brooks",
            country="US",
            department="Engineering",
            division="Acme Inc.",
            supervisorEId="1",
            hireDate="2020-06-17",
            employmentHistoryStatus="Part-Time",
        )
        fake.employee(
            "3",
            workEmail="katharina@acme.example",
            firstName="Katharina",
            preferredName="Kathi",
            lastName="Vogel",
            country="Germany",
            department="Sales",
            division="Acme GmbH",
            supervisorEId="2",
            employmentHistoryStatus="Contractor",
        )
        fake.employee(
            "4",
            workEmail="gone@acme.example",
            firstName="Gone",
            lastName="Away",
            country="US",
            status="Inactive",
            employmentHistoryStatus="Terminated",
            terminationDate="2026-01-31",
        )
        fake.employee("5", workEmail="", firstName="No", lastName="Email", country="US")
        fake.employee(
            "6",
            workEmail="oliver@acme.example",
            firstName="Oliver",
            lastName="Hughes",
            location="London Office",
            supervisorEId="5",
            employmentHistoryStatus="Seasonal Picker",
        )
        fake.employee("7", workEmail="nemo@acme.example", firstName="Nemo", lastName="Deep", country="Atlantis")
        fake.employee("8", workEmail="left@acme.example", firstName="Left", lastName="Lately", country="US",
                      hireDate="2021-01-01", terminationDate="2026-04-30")  # fmt: skip
        fake.balance("1", "78", "Vacation", "12.5", "7.5")
        fake.balance("1", "79", "Sick Leave", "40.0", "8.0", units="hours")
        fake.balance("1", "80", "Unlimited PTO", "0.0", "3.0", policyType="discretionary")
        fake.balance("2", "78", "Vacation", "10.0", "0.0")
        fake.balance("2", "81", "Comp/In Lieu Time", "-1.0", "1.0", units="hours")
        fake.balance("3", "9", "Urlaub", "28", "2")
        fake.balance("4", "78", "Vacation", "5.0", "15.0")
        yield fake


def _bamboo(fake: FakeBambooHR, key: str = KEY, **settings: object) -> BambooHRConnector:
    defaults = {"company": fake.company, "url": fake.url, "locations": {"London Office": "GB"},
                "leave_types": {"Urlaub": "vacation"}}  # fmt: skip
    connector = build("bamboohr", {**defaults, **settings}, env={"HRBOT_BAMBOOHR_API_KEY": key})
    assert isinstance(connector, BambooHRConnector) and isinstance(connector, HRConnector)
    connector.today = lambda: TODAY
    connector.client.sleep = lambda _: None
    return connector


def _load(connector: BambooHRConnector) -> tuple[dict[str, EmployeeInput], dict[tuple[str, str], BalanceInput]]:
    employees_file, balances_file = list(connector.load_hr())
    assert employees_file.kind is FileKind.EMPLOYEES and balances_file.kind is FileKind.BALANCES
    assert employees_file.source == balances_file.source == "bamboohr:acme"
    assert employees_file.errors == balances_file.errors == ()
    employees = {r.email: r for r in employees_file.rows if isinstance(r, EmployeeInput)}
    balances = {(r.email, r.leave_type): r for r in balances_file.rows if isinstance(r, BalanceInput)}
    return employees, balances


def test_bamboohr_maps_people_and_balances(bamboo: FakeBambooHR) -> None:
    employees, balances = _load(_bamboo(bamboo))

    assert sorted(employees) == ["daniel@acme.example", "katharina@acme.example", "maya@acme.example",
                                 "oliver@acme.example"]  # fmt: skip
    maya, daniel, kathi = (
        employees["maya@acme.example"],
        employees["daniel@acme.example"],
        employees["katharina@acme.example"],
    )
    assert (maya.name, maya.country, maya.entity, maya.department, maya.manager_email) == (
        "Maya Chen", "US", "Acme Inc.", "Executive", None)  # fmt: skip
    assert maya.employment_type == "full_time" and maya.hire_date == date(2019, 3, 4) and maya.locale == "en-US"
    assert daniel.manager_email == "maya@acme.example" and daniel.employment_type == "part_time"
    assert kathi.name == "Kathi Vogel" and kathi.country == "DE" and kathi.locale == "de-DE"
    assert kathi.manager_email == "daniel@acme.example" and kathi.employment_type == "contractor"
    assert kathi.hire_date is None  # "0000-00-00"
    oliver = employees["oliver@acme.example"]
    assert oliver.country == "GB" and oliver.manager_email is None and oliver.employment_type == ""

    vacation = balances[("maya@acme.example", "vacation")]
    assert (vacation.entitled, vacation.taken, vacation.pending, vacation.carried_over) == (
        Decimal("20.00"), Decimal("7.50"), Decimal(0), Decimal(0))  # fmt: skip
    assert vacation.unit == "days" and vacation.period == "2026" and vacation.as_of == TODAY
    sick = balances[("maya@acme.example", "sick_leave")]
    assert sick.unit == "hours" and sick.entitled == Decimal("48.00") and sick.taken == Decimal("8.00")
    assert balances[("daniel@acme.example", "comp_in_lieu_time")].entitled == Decimal("0.00")
    assert balances[("katharina@acme.example", "vacation")].entitled == Decimal("30.00")  # Urlaub -> vacation
    assert not any(code == "unlimited_pto" for _, code in balances)  # discretionary: no allowance


def test_bamboohr_speaks_the_real_wire_format(bamboo: FakeBambooHR) -> None:
    _load(_bamboo(bamboo))
    [report] = bamboo.of("reports/custom")
    assert report.method == "POST" and report.query["format"] == "JSON"
    assert report.headers["authorization"] == "Basic " + base64.b64encode(f"{KEY}:x".encode()).decode()
    assert report.headers["accept"] == "application/json"
    assert {"workEmail", "supervisorEId", "employmentHistoryStatus", "status"} <= set(report.body["fields"])
    calculated = {call.endpoint.split("/")[1]: call for call in bamboo.of("time_off/calculator")}
    assert set(calculated) == {"1", "2", "3", "6"}  # not the terminated, nor those left out
    assert all(call.method == "GET" and call.query == {"end": "2026-05-04"} for call in calculated.values())


def test_bamboohr_leaves_out_terminated_and_reports_unmappable_people(bamboo: FakeBambooHR) -> None:
    connector = _bamboo(bamboo)
    employees, _ = _load(connector)
    assert not {"gone@acme.example", "left@acme.example", "nemo@acme.example"} & set(employees)
    problems = "\n".join(connector.problems)
    assert "employee 5: no valid work email" in problems
    assert "employee 7 (nemo@acme.example): unknown country (Atlantis)" in problems
    assert "supervisor 5 is not imported" in problems
    assert "'Seasonal Picker' not mapped" in problems
    assert "gone@" not in problems and "left@" not in problems  # leavers are not problems
    assert len(connector.problems) == 4


def test_bamboohr_wrong_or_revoked_key_is_an_auth_error(bamboo: FakeBambooHR) -> None:
    with pytest.raises(ConnectorAuthError, match="401"):
        list(_bamboo(bamboo, key="not-the-key").load_hr())
    bamboo.revoke()
    with pytest.raises(ConnectorAuthError):
        list(_bamboo(bamboo).load_hr())
    assert len(bamboo.of("reports/custom")) == 2  # no retries on 401


def test_bamboohr_rate_limits_and_outages_are_retried(bamboo: FakeBambooHR) -> None:
    bamboo.fail("reports/custom", 429, retry_after=1)
    bamboo.fail("time_off/calculator", 503, times=2)
    connector = _bamboo(bamboo)
    slept: list[float] = []
    connector.client.sleep = slept.append
    employees, balances = _load(connector)
    assert len(employees) == 4 and ("maya@acme.example", "vacation") in balances
    assert slept[0] == 1.0 and len(slept) == 3  # Retry-After honoured, then backoff for the 503s
    assert [c.status for c in bamboo.of("reports/custom")] == [429, 200]


def test_bamboohr_gives_up_when_the_api_stays_down(bamboo: FakeBambooHR) -> None:
    bamboo.fail("reports/custom", 503, times=20)
    with pytest.raises(ConnectorError, match="503"):
        list(_bamboo(bamboo).load_hr())


def test_bamboohr_settings_are_checked(bamboo: FakeBambooHR) -> None:
    with pytest.raises(ConnectorConfigError, match="HRBOT_BAMBOOHR_API_KEY"):
        build("bamboohr", {"company": "acme"}, env={})
    with pytest.raises(ConnectorConfigError, match="MY_KEY"):
        build("bamboohr", {"company": "acme", "api_key_env": "MY_KEY"}, env={"HRBOT_BAMBOOHR_API_KEY": KEY})
    with pytest.raises(ConnectorConfigError, match="company"):
        build("bamboohr", {"company": "acme.bamboohr.com/x"}, env={"HRBOT_BAMBOOHR_API_KEY": KEY})
    with pytest.raises(ConnectorConfigError, match="leave_types"):
        _bamboo(bamboo, leave_types={"Vacation": "Paid Time Off!"})
    with pytest.raises(ConnectorConfigError, match="locations"):
        _bamboo(bamboo, locations={"Moon Base": "Moon"})
    with_default = _bamboo(bamboo, default_country="NZ")
    employees, _ = _load(with_default)
    assert employees["nemo@acme.example"].country == "NZ"


@pytest.mark.parametrize(
    ("raw", "code"),
    [("US", "US"), ("uk", "GB"), ("United Kingdom", "GB"), ("Germany", "DE"), ("DEU", "DE"), ("the netherlands", "NL"),
     ("New Zealand", "NZ"), ("Atlantis", None), ("", None)],
)  # fmt: skip
def test_country_names_become_iso_codes(raw: str, code: str | None) -> None:
    assert country_code(raw) == code


def test_leave_type_slugs() -> None:
    assert slug("Sick Leave") == "sick_leave" and slug("Comp/In Lieu Time") == "comp_in_lieu_time"
    assert slug("Krankheit – Kind") == "krankheit_kind" and slug("Congé payé") == "conge_paye"


def test_bamboohr_rows_import_into_the_database(bamboo: FakeBambooHR, sessions: sessionmaker[Session]) -> None:
    employees_file, balances_file = list(_bamboo(bamboo).load_hr())
    with sessions.begin() as session:
        people = import_parsed(employees_file, session=session)
        figures = import_parsed(balances_file, session=session)
    assert (people.inserted, figures.inserted) == (4, len(balances_file.rows))
    with sessions() as session:
        kathi = store.employee_by_email("katharina@acme.example", session=session)
        assert kathi is not None and kathi.manager_name == "Daniel Brooks" and kathi.country == "DE"
        row = session.execute(
            select(LeaveBalance.entitled, LeaveBalance.taken, LeaveBalance.source, LeaveType.unit)
            .join(Employee, Employee.id == LeaveBalance.employee_id)
            .join(LeaveType, LeaveType.id == LeaveBalance.leave_type_id)
            .where(Employee.email == "maya@acme.example", LeaveType.code == "sick_leave")
        ).one()
        assert row == (Decimal("48.00"), Decimal("8.00"), "bamboohr:acme", "hours")
    with sessions.begin() as session:  # a second sync changes nothing
        employees_again, _ = _bamboo(bamboo).load_hr()
        again = import_parsed(employees_again, session=session)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)


def _sync_people(bamboo: FakeBambooHR, sessions: sessionmaker[Session]) -> tuple[ParsedFile, int]:
    """One BambooHR employees import, as the sync does it: the file and how many it deactivated."""
    employees_file, _ = list(_bamboo(bamboo).load_hr())
    with sessions.begin() as session:
        return employees_file, import_parsed(employees_file, session=session).deactivated


def _active(sessions: sessionmaker[Session]) -> set[str]:
    with sessions() as session:
        return set(session.scalars(select(Employee.email).where(Employee.active)))


def test_bamboohr_leavers_are_deactivated_and_find_nobody_in_chat(
    bamboo: FakeBambooHR, sessions: sessionmaker[Session]
) -> None:
    someone_else = EmployeeInput(1, "contractor@agency.example", "Cora Tract", None, None, "US", "", "", None, "", None,
                                 "en-US")  # fmt: skip
    with sessions.begin() as session:  # from a CSV: not BambooHR's to deactivate
        import_parsed(
            ParsedFile("people.csv", "csv:people.csv", FileKind.EMPLOYEES, (someone_else,), ()), session=session
        )
    first, deactivated = _sync_people(bamboo, sessions)
    assert deactivated == 0
    # everyone still employed is on the roster, also Nemo, left out of the rows for an unknown country
    assert first.roster == {"maya@acme.example", "daniel@acme.example", "katharina@acme.example",
                            "oliver@acme.example", "nemo@acme.example"}  # fmt: skip
    with sessions.begin() as session:
        session.execute(update(Employee).where(Employee.email == "daniel@acme.example").values(slack_user_id="UDANIEL"))
        maya = store.employee_by_email("maya@acme.example", session=session)
        assert maya is not None and [p.email for p in store.direct_reports(maya.id, session=session)] == [
            "daniel@acme.example"
        ]

    bamboo.employees["2"].update(status="Inactive", terminationDate="2026-05-01")  # Daniel leaves
    second, deactivated = _sync_people(bamboo, sessions)
    assert deactivated == 1 and "daniel@acme.example" not in second.roster
    assert _active(sessions) == {"maya@acme.example", "katharina@acme.example", "oliver@acme.example",
                                 "contractor@agency.example"}  # fmt: skip
    with sessions() as session:
        assert store.employee_by_slack_id("UDANIEL", session=session) is None  # his chat id finds nobody
        assert store.direct_reports(maya.id, session=session) == []
        # deactivated, not deleted: answers he was given still name him in the audit log
        assert session.scalar(select(Employee.name).where(Employee.email == "daniel@acme.example")) == "Daniel Brooks"

    assert _sync_people(bamboo, sessions)[1] == 0  # a leaver is deactivated once
    bamboo.employees["2"].update(status="Active", terminationDate="0000-00-00")  # and re-hired
    _sync_people(bamboo, sessions)
    with sessions() as session:
        back = store.employee_by_slack_id("UDANIEL", session=session)
        assert back is not None and back.email == "daniel@acme.example"  # the linked chat id survived


def test_an_empty_bamboohr_roster_deactivates_nobody(bamboo: FakeBambooHR, sessions: sessionmaker[Session]) -> None:
    _sync_people(bamboo, sessions)
    before = _active(sessions)
    bamboo.employees.clear()  # an HR system answering "nobody" by mistake
    with pytest.raises(ImportRejected, match="roster lists nobody"):
        _sync_people(bamboo, sessions)
    assert _active(sessions) == before and len(before) == 4


def test_two_types_with_the_same_derived_code_stay_apart(bamboo: FakeBambooHR) -> None:
    bamboo.balance("2", "101", "Sick-Leave", "5", "0")
    bamboo.balance("2", "79", "Sick Leave", "6", "0")
    _, balances = _load(_bamboo(bamboo))
    assert balances[("daniel@acme.example", "sick_leave")].entitled == Decimal(6)  # lower id keeps the plain code
    assert balances[("daniel@acme.example", "sick_leave_101")].entitled == Decimal(5)


def test_one_employees_unreadable_balances_do_not_block_the_rest(bamboo: FakeBambooHR) -> None:
    bamboo.fail("time_off/calculator", 404)  # the first employee asked about: Maya
    connector = _bamboo(bamboo)
    employees, balances = _load(connector)
    assert "maya@acme.example" in employees
    assert not any(email == "maya@acme.example" for email, _ in balances)
    assert ("daniel@acme.example", "vacation") in balances
    assert any("employee 1: time-off balances not read" in problem for problem in connector.problems)
