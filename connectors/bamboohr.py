"""BambooHR: current employees and their time-off balances, as rows for the HR tables.

Endpoints (https://documentation.bamboohr.com/reference), under ``{url}/{company}/``, HTTP basic auth
with the API key as user name and ``x`` as password, ``Accept: application/json``:

- ``POST v1/reports/custom?format=JSON&onlyCurrent=true`` with ``{"title": ..., "fields": [...]}``:
  every employee in one call, with the fields the directory lacks (``supervisorEId``, ``hireDate``,
  ``employmentHistoryStatus``, ``status``, ``terminationDate``). Answer: ``{"title", "fields",
  "employees": [{"id": "123", "workEmail": ..., ...}]}``, values as strings, empty dates ``0000-00-00``.
- ``GET v1/employees/{id}/time_off/calculator?end=YYYY-MM-DD`` (``end`` = today): per time-off type
  ``{"timeOffType": "1", "name": "Vacation", "units": "days", "balance": "12.0", "end": ...,
  "policyType": "accruing|manual|discretionary", "usedYearToDate": "3.0"}``.

Mapping: ``email`` = ``workEmail``; ``name`` = ``displayName`` (else preferred or first name plus last
name); ``country`` = the ``locations`` setting for the work location, else the ``country`` field (a
name or ISO code), else ``default_country``; ``department``; ``entity`` = the ``entity_field`` setting
(default ``division``); manager = the ``supervisorEId`` employee's work email; ``employment_type`` from
``employmentHistoryStatus`` (``employment_types`` setting for others). Inactive or terminated people
are left out, and the employees file is the whole roster (``ParsedFile.roster``): someone this source
imported before who is no longer on it has left and is deactivated, so their chat ids find nobody.
A balance is ``taken`` = ``usedYearToDate`` and ``entitled`` = ``balance`` + taken (carry-over is
inside ``balance``), period = this year, as of today; discretionary (unlimited) types have no
balance and are left out. The leave type code comes from the BambooHR type name ("Sick Leave" ->
``sick_leave``) unless the ``leave_types`` setting maps the name or id to one of ours.

An employee who cannot be mapped (no work email, no country) is left out, not turned into a row
error (the importer would reject everyone for one person): the reason is logged and kept in
``problems``, and their balances and anyone's link to them as a manager are dropped with it.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import Any

from connectors.base import ConnectorAuthError, ConnectorConfigError, ConnectorError
from connectors.http import HttpClient
from connectors.registry import require, secret
from hr.hrdata.countries import COMMON_MISTAKES, ISO_COUNTRIES, default_locale
from hr.hrdata.parsing import CODE, EMAIL, MAX_AMOUNT, BalanceInput, EmployeeInput, FileKind, ParsedFile

log = logging.getLogger(__name__)

DEFAULT_URL = "https://api.bamboohr.com/api/gateway.php"
API_KEY_VAR = "HRBOT_BAMBOOHR_API_KEY"
REPORT_FIELDS = (
    "workEmail", "firstName", "lastName", "preferredName", "displayName", "country", "location",
    "department", "division", "supervisorEId", "hireDate", "employmentHistoryStatus", "status", "terminationDate",
)  # fmt: skip
EMPLOYMENT_TYPES = {
    "full_time": "full_time", "fulltime": "full_time", "part_time": "part_time", "parttime": "part_time",
    "contractor": "contractor", "contract": "contractor", "freelance": "contractor", "freelancer": "contractor",
    "consultant": "contractor", "intern": "intern", "internship": "intern", "temporary": "temporary",
    "temp": "temporary", "seasonal": "temporary",
}  # fmt: skip
CENT = Decimal("0.01")


def slug(raw: str) -> str:
    """``"Sick Leave"`` -> ``sick_leave``, ``"Comp/In Lieu Time"`` -> ``comp_in_lieu_time``, accents folded."""
    folded = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", folded.lower()).strip("_")


@cache
def _country_names() -> dict[str, str]:
    """Country names (as slugs) and alpha-3 codes -> ISO alpha-2, from the ``holidays`` registry and
    the names the audience rules know."""
    names: dict[str, str] = {}
    try:
        from holidays.registry import COUNTRIES

        for key, (class_name, alpha2, alpha3, *_) in COUNTRIES.items():
            names.update({key: alpha2, slug(re.sub(r"(?<!^)(?=[A-Z])", " ", class_name)): alpha2, alpha3: alpha2})
    except (ImportError, ValueError):  # the registry is not public API; the audience names still work
        log.warning("holidays country registry unavailable; fewer country names are recognised")
    from retrieval.audience import COUNTRY_NAMES

    for code, aliases in COUNTRY_NAMES.items():
        names.update({slug(alias): code for alias in aliases})
    return names


def country_code(raw: str) -> str | None:
    """An ISO 3166 alpha-2 code for a code, a common mistake (UK) or an English country name."""
    text = " ".join(raw.split())
    if not text:
        return None
    code = COMMON_MISTAKES.get(text.upper(), text.upper())
    if code in ISO_COUNTRIES:
        return code
    return _country_names().get(slug(text)) or _country_names().get(text.upper())


def _date(raw: Any) -> date | None:
    text = str(raw or "").strip()
    if not text or text.startswith("0000"):
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _amount(raw: Any) -> Decimal:
    try:
        value = Decimal(str(raw if raw not in (None, "") else "0").replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{raw!r} is not a number")
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _mapping(settings: Mapping[str, Any], key: str, check: Callable[[str], str | None] | None = None) -> dict[str, str]:
    raw = settings.get(key) or {}
    if not isinstance(raw, Mapping):
        raise ConnectorConfigError(f"{key} must be a mapping, not {raw!r}")
    out: dict[str, str] = {}
    for name, value in raw.items():
        checked = check(str(value)) if check else str(value)
        if not checked:
            raise ConnectorConfigError(f"{key}: {value!r} (for {name!r}) is not valid")
        out[slug(str(name)) or str(name)] = checked
    return out


def _code(value: str) -> str | None:
    return value if CODE.match(value) else None


def _employment(value: str) -> str | None:
    return value if value in set(EMPLOYMENT_TYPES.values()) else None


class BambooHRConnector:
    """One BambooHR company. ``problems`` lists what the last ``load_hr`` left out, and why."""

    def __init__(
        self,
        company: str,
        client: HttpClient,
        *,
        default_country: str | None = None,
        locations: Mapping[str, str] | None = None,
        employment_types: Mapping[str, str] | None = None,
        leave_types: Mapping[str, str] | None = None,
        entity_field: str = "division",
        state: dict[str, Any] | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.company = company
        self.client = client
        self.default_country = default_country
        self.locations = dict(locations or {})
        self.employment_types = {**EMPLOYMENT_TYPES, **(employment_types or {})}
        self.leave_types = dict(leave_types or {})
        self.entity_field = entity_field
        self.state: dict[str, Any] = state if state is not None else {}
        self.today = today
        self.problems: list[str] = []

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], *, env: Mapping[str, str], state: dict[str, Any]
    ) -> BambooHRConnector:
        """Settings: ``company``, ``url``, ``api_key_env`` (default ``HRBOT_BAMBOOHR_API_KEY``),
        ``default_country``, ``locations`` (work location -> ISO country), ``employment_types``
        (BambooHR status -> ours), ``leave_types`` (BambooHR type name or id -> leave code),
        ``entity_field`` (default ``division``; empty for none)."""
        company = str(require(settings, "company")).strip()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", company):
            raise ConnectorConfigError(f"company must be the BambooHR subdomain (acme), not {company!r}")
        url = str(settings.get("url") or DEFAULT_URL).rstrip("/")
        key = secret(env, settings, "api_key", API_KEY_VAR)
        default_country = settings.get("default_country")
        if default_country and not country_code(str(default_country)):
            raise ConnectorConfigError(f"default_country {default_country!r} is not a country")
        client = HttpClient(f"{url}/{company}/", auth=(key, "x"), headers={"Accept": "application/json"})
        return cls(
            company,
            client,
            default_country=country_code(str(default_country)) if default_country else None,
            locations=_mapping(settings, "locations", country_code),
            employment_types=_mapping(settings, "employment_types", _employment),
            leave_types=_mapping(settings, "leave_types", _code),
            entity_field=str(settings.get("entity_field", "division") or ""),
            state=state,
        )

    @property
    def source(self) -> str:
        return f"bamboohr:{self.company}"

    def close(self) -> None:
        self.client.close()

    def load_hr(self) -> Iterator[ParsedFile]:
        """The employees file, then the balances file (only for the employees in it)."""
        self.problems = []
        today = self.today()
        report = self._report()
        employees, ids = self._employees(report, today)
        # everyone still employed, also those left out above for a data problem: the rest have left
        current = (
            str(row.get("workEmail") or "").strip().lower() for row in report if not self._terminated(row, today)
        )
        roster = frozenset(email for email in current if EMAIL.match(email))
        yield ParsedFile(f"{self.source}/employees", self.source, FileKind.EMPLOYEES, tuple(employees), (), roster)
        balances = self._balances(ids, today)
        yield ParsedFile(f"{self.source}/balances", self.source, FileKind.BALANCES, tuple(balances), ())

    def _problem(self, reason: str, **fields: Any) -> None:
        self.problems.append(reason)
        log.warning("bamboohr row left out", extra={"source": self.source, "reason": reason, **fields})

    # --- employees ------------------------------------------------------------------------------

    def _report(self) -> list[dict[str, Any]]:
        body = {"title": "hrbot people sync", "fields": list(REPORT_FIELDS)}
        params = {"format": "JSON", "onlyCurrent": "true"}
        answer = self.client.request("POST", "v1/reports/custom", params=params, json=body)
        try:
            employees = answer.json().get("employees")
        except (ValueError, AttributeError):
            employees = None
        if not isinstance(employees, list):
            raise ConnectorError("BambooHR custom report: the answer has no employees list")
        return [row for row in employees if isinstance(row, dict)]

    def _employees(self, report: list[dict[str, Any]], today: date) -> tuple[list[EmployeeInput], dict[str, str]]:
        """The rows to import and BambooHR id -> email of the people in them."""
        current = [row for row in report if not self._terminated(row, today)]
        mapped: list[tuple[dict[str, Any], EmployeeInput]] = []
        emails: dict[str, str] = {}
        taken: set[str] = set()
        for line, row in enumerate(current, start=1):
            employee = self._employee(row, line)
            if employee is None:
                continue
            if employee.email in taken:
                self._problem(f"employee {row.get('id')}: {employee.email} is also another employee's work email")
                continue
            emails[str(row.get("id"))] = employee.email
            taken.add(employee.email)
            mapped.append((row, employee))
        return [self._with_manager(row, employee, emails) for row, employee in mapped], emails

    @staticmethod
    def _terminated(row: Mapping[str, Any], today: date) -> bool:
        if str(row.get("status") or "Active").strip().lower() != "active":
            return True
        if str(row.get("employmentHistoryStatus") or "").strip().lower() == "terminated":
            return True
        ended, hired = _date(row.get("terminationDate")), _date(row.get("hireDate"))
        return ended is not None and ended <= today and (hired is None or ended >= hired)

    def _employee(self, row: Mapping[str, Any], line: int) -> EmployeeInput | None:
        bamboo_id = str(row.get("id") or "?")
        email = str(row.get("workEmail") or "").strip().lower()
        if not EMAIL.match(email):
            self._problem(f"employee {bamboo_id}: no valid work email ({email or 'empty'})", employee_id=bamboo_id)
            return None
        country = self._country(row)
        if country is None:
            where = row.get("location") or row.get("country") or "none given"
            self._problem(f"employee {bamboo_id} ({email}): unknown country ({where})", employee_id=bamboo_id)
            return None
        name = _text(row.get("displayName")) or _text(
            f"{row.get('preferredName') or row.get('firstName') or ''} {row.get('lastName') or ''}"
        )
        return EmployeeInput(
            line=line,
            email=email,
            name=name or email,
            slack_user_id=None,
            teams_user_id=None,
            country=country,
            entity=_text(row.get(self.entity_field)) if self.entity_field else "",
            department=_text(row.get("department")),
            manager_email=None,
            employment_type=self._employment_type(row, bamboo_id),
            hire_date=_date(row.get("hireDate")),
            locale=default_locale(country),
        )

    def _country(self, row: Mapping[str, Any]) -> str | None:
        location = slug(str(row.get("location") or ""))
        if location and location in self.locations:
            return self.locations[location]
        return country_code(str(row.get("country") or "")) or self.default_country

    def _employment_type(self, row: Mapping[str, Any], bamboo_id: str) -> str:
        raw = str(row.get("employmentHistoryStatus") or "")
        if not raw.strip():
            return ""
        mapped = self.employment_types.get(slug(raw))
        if mapped is None:
            self._problem(f"employee {bamboo_id}: employment status {raw!r} not mapped (left empty)")
        return mapped or ""

    def _with_manager(
        self, row: Mapping[str, Any], employee: EmployeeInput, emails: Mapping[str, str]
    ) -> EmployeeInput:
        supervisor = str(row.get("supervisorEId") or "").strip()
        if not supervisor:
            return employee
        manager = emails.get(supervisor)
        if manager is None:
            self._problem(f"employee {row.get('id')} ({employee.email}): supervisor {supervisor} is not imported")
            return employee
        if manager == employee.email:
            return employee
        return replace(employee, manager_email=manager)

    # --- balances -------------------------------------------------------------------------------

    def _calculator(self, ids: Mapping[str, str], today: date) -> dict[str, list[dict[str, Any]]]:
        """BambooHR id -> the calculator's rows; one employee's failure is a problem, everyone's an error."""
        answers: dict[str, list[dict[str, Any]]] = {}
        for bamboo_id in ids:
            path = f"v1/employees/{bamboo_id}/time_off/calculator"
            try:
                answer = self.client.get_json(path, params={"end": str(today)})
            except ConnectorAuthError:
                raise
            except ConnectorError as exc:
                self._problem(f"employee {bamboo_id}: time-off balances not read ({exc})", employee_id=bamboo_id)
                continue
            answers[bamboo_id] = [item for item in answer if isinstance(item, dict)] if isinstance(answer, list) else []
        if ids and not answers:
            raise ConnectorError("BambooHR time-off calculator failed for every employee")
        return answers

    def _balances(self, ids: Mapping[str, str], today: date) -> list[BalanceInput]:
        answers = self._calculator(ids, today)
        codes = self._leave_codes(item for items in answers.values() for item in items)
        rows: list[BalanceInput] = []
        seen: set[tuple[str, str]] = set()
        for bamboo_id, items in answers.items():
            for item in items:
                row = self._balance(item, ids[bamboo_id], codes, today, line=len(rows) + 1)
                if row is None:
                    continue
                if (row.email, row.leave_type) in seen:
                    self._problem(f"{row.email}: two BambooHR types map to leave type {row.leave_type}")
                    continue
                seen.add((row.email, row.leave_type))
                rows.append(row)
        return rows

    def _leave_codes(self, items: Iterable[dict[str, Any]]) -> dict[str, str]:
        """BambooHR time-off type id -> our leave code. Codes from the ``leave_types`` setting may merge
        types on purpose; derived codes of two different types that collide get the id appended."""
        types = {str(item.get("timeOffType")): str(item.get("name") or "") for item in items}
        codes: dict[str, str] = {}
        derived_codes: set[str] = set()
        for type_id, name in sorted(types.items(), key=lambda kv: (len(kv[0]), kv[0])):
            chosen = self.leave_types.get(slug(name)) or self.leave_types.get(type_id)
            if chosen is None:
                derived = slug(name)[:40]
                derived = derived if derived and derived[0].isalpha() else f"type_{derived or slug(type_id)}"
                chosen = f"{derived}_{slug(type_id)}" if derived in derived_codes else derived
                derived_codes.add(derived)
            codes[type_id] = chosen[:50]
        return codes

    def _balance(
        self, item: Mapping[str, Any], email: str, codes: Mapping[str, str], today: date, *, line: int
    ) -> BalanceInput | None:
        name = str(item.get("name") or item.get("timeOffType"))
        if str(item.get("policyType") or "").lower() == "discretionary":
            return None  # unlimited: no allowance to count down
        unit = str(item.get("units") or "").strip().lower()
        if unit not in ("days", "hours"):
            self._problem(f"{email}: {name}: unknown unit {unit!r}")
            return None
        try:
            balance, used = _amount(item.get("balance")), _amount(item.get("usedYearToDate"))
        except ValueError as exc:
            self._problem(f"{email}: {name}: {exc}")
            return None
        taken = max(used, Decimal(0))
        entitled = balance + taken
        if entitled < 0 or max(entitled, taken) > MAX_AMOUNT:
            self._problem(f"{email}: {name}: balance {balance} with {taken} used cannot be stored")
            return None
        return BalanceInput(
            line=line,
            email=email,
            leave_type=codes[str(item.get("timeOffType"))],
            period=str(today.year),
            entitled=entitled,
            taken=taken,
            pending=Decimal(0),
            carried_over=Decimal(0),
            unit=unit,
            as_of=today,
        )


def _text(raw: Any) -> str:
    return " ".join(str(raw or "").split())[:200]
