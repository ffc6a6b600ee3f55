"""A fake BambooHR API on loopback, speaking the wire format of the real one under
``/api/gateway.php/{company}/v1/``: HTTP basic auth (API key as user, any password; 401 otherwise),
``POST reports/custom?format=JSON`` and ``GET employees/{id}/time_off/calculator?end=...``.
Employees and balances are plain dicts you can edit; failures (429 with Retry-After, 503) on cue;
every request recorded."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.serving import send_json, serving

PREFIX = "/api/gateway.php/"
FIELD_TYPES = {"hireDate": "date", "terminationDate": "date", "workEmail": "email", "supervisorEId": "employee"}


@dataclass(frozen=True)
class Call:
    method: str
    endpoint: str  # "reports/custom" or "employees/{id}/time_off/calculator"
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    status: int


@dataclass
class Failure:
    status: int
    times: int = 1
    retry_after: int | None = None


@dataclass
class FakeBambooHR:
    company: str = "acme"
    api_key: str | None = "bamboo-test-key"  # None: revoked, every request gets 401
    employees: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> field values
    balances: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # id -> calculator rows
    failures: dict[str, list[Failure]] = field(default_factory=dict)  # endpoint name -> failures
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    # --- set-up ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """What the connector's ``url`` setting takes (the gateway, without the company)."""
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}/api/gateway.php"

    def employee(self, bamboo_id: str, **values: str) -> dict[str, str]:
        row = {"status": "Active", "employmentHistoryStatus": "Full-Time", **values}
        self.employees[bamboo_id] = row
        return row

    def balance(
        self, bamboo_id: str, type_id: str, name: str, balance: str, used: str, *, units: str = "days", **extra: str
    ) -> None:
        row = {
            "timeOffType": type_id,
            "name": name,
            "units": units,
            "balance": balance,
            "end": "",
            "policyType": "accruing",
            "usedYearToDate": used,
            **extra,
        }
        self.balances.setdefault(bamboo_id, []).append(row)

    def fail(self, endpoint: str, status: int, *, times: int = 1, retry_after: int | None = None) -> None:
        """``endpoint``: ``reports/custom`` or ``time_off/calculator``."""
        self.failures.setdefault(endpoint, []).append(Failure(status, times, retry_after))

    def revoke(self) -> None:
        self.api_key = None

    # --- inspection -----------------------------------------------------------------------------

    def of(self, endpoint: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.endpoint.endswith(endpoint)]

    # --- the API --------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        endpoint = path.removeprefix(f"{PREFIX}{self.company}/v1/")
        status, answer, extra = self._answer(method, path, endpoint, query, body, headers)
        with self._lock:
            self.calls.append(Call(method, endpoint, path, query, body, headers, status))
        return status, answer, extra

    def _answer(
        self, method: str, path: str, endpoint: str, query: dict[str, str], body: Any, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        if not self._authorised(headers.get("authorization", "")):
            return 401, {"error": "unauthorized"}, {"WWW-Authenticate": 'Basic realm="api"'}
        failure = self._failure("time_off/calculator" if endpoint.endswith("time_off/calculator") else endpoint)
        if failure is not None:
            extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            return failure.status, {"error": "failure on cue"}, extra
        if not path.startswith(f"{PREFIX}{self.company}/v1/"):
            return 404, {"error": "unknown company"}, {}
        if method == "POST" and endpoint == "reports/custom":
            return self._report(query, body)
        parts = endpoint.split("/")
        if method == "GET" and len(parts) == 4 and parts[0] == "employees" and parts[2:] == ["time_off", "calculator"]:
            if parts[1] not in self.employees:
                return 404, {"error": "no such employee"}, {}
            rows = [{**row, "end": query.get("end", "")} for row in self.balances.get(parts[1], [])]
            return 200, rows, {}
        return 404, {"error": "not found"}, {}

    def _authorised(self, header: str) -> bool:
        if self.api_key is None or not header.startswith("Basic "):
            return False
        try:
            user, _, _password = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
        except ValueError:
            return False
        return user == self.api_key

    def _failure(self, endpoint: str) -> Failure | None:
        with self._lock:
            queued = self.failures.get(endpoint)
            if not queued:
                return None
            failure = queued[0]
            failure.times -= 1
            if failure.times <= 0:
                queued.pop(0)
            return failure

    def _report(self, query: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        if query.get("format", "").upper() != "JSON" or not isinstance(body, dict):
            return 400, {"error": "format=JSON and a JSON body with fields are required"}, {}
        names = [str(name) for name in body.get("fields") or []]
        fields = [{"id": name, "type": FIELD_TYPES.get(name, "text"), "name": name} for name in names]
        employees = [
            {"id": bamboo_id, **{name: row.get(name, _empty(name)) for name in names}}
            for bamboo_id, row in self.employees.items()
        ]
        return 200, {"title": body.get("title", ""), "fields": fields, "employees": employees}, {}


def _empty(name: str) -> str:
    return "0000-00-00" if FIELD_TYPES.get(name) == "date" else ""


def _handler(fake: FakeBambooHR) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8") if length else ""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, answer, extra = fake.handle(self.command, parts.path, dict(parse_qsl(parts.query)), body, headers)
            send_json(self, status, answer, extra, content_type="application/json")

        do_GET = _serve
        do_POST = _serve

    return Handler


@contextmanager
def fake_bamboohr(**kwargs: Any) -> Iterator[FakeBambooHR]:
    """A running fake on 127.0.0.1, port 0; stopped on exit."""
    fake = FakeBambooHR(**kwargs)
    with serving(_handler(fake)) as server:
        fake.server = server
        yield fake
