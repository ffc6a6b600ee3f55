"""A fake Confluence REST API (v1 content endpoints) on loopback, in both URL layouts.

``/wiki/rest/api/...`` is Cloud: HTTP basic ``email:token``, ``_links.base`` ending in ``/wiki``,
cursor-style ``next`` links for CQL search. ``/rest/api/...`` is Data Center: ``Authorization:
Bearer <token>``. Served: ``GET content`` (``spaceKey``, ``type``, ``status``, ``expand``, ``limit``,
``start``), ``GET content/search`` (the CQL the connector sends: ``type = page AND space = "X" AND
lastmodified >= "yyyy/MM/dd HH:mm"``, dates read in ``cql_timezone`` as Confluence reads them in the
user's zone) and ``GET content/{id}``. ``limit`` is capped at ``max_limit``; only expanded fields
are returned. Every request is recorded; failures (5xx, 429 with ``Retry-After``) can be queued per
target: ``"content"`` (listing), ``"search"``, ``"page:<id>"`` or ``"*"``.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

from tests.fakes.serving import serving

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class Page:
    id: str
    space: str
    title: str
    body: str
    labels: list[str] = field(default_factory=list)
    parent: str | None = None
    version: int = 1
    when: datetime = T0
    status: str = "current"


@dataclass(frozen=True)
class Request:
    layout: str  # "cloud" (/wiki/rest/api) or "datacenter" (/rest/api)
    path: str  # below the API root: "content", "content/search", "content/123"
    params: dict[str, str]
    authorization: str | None


@dataclass
class Failure:
    status: int
    times: int | None  # None: forever
    retry_after: int | None = None


@dataclass
class FakeConfluence:
    email: str = "bot@acme.test"
    token: str = "test-token"
    expired: bool = False  # every request answers 401, as with an expired or revoked token
    max_limit: int = 25
    cql_timezone: tzinfo = UTC
    now: datetime = T0
    spaces: dict[str, str] = field(default_factory=dict)  # key -> name
    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1001))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # --- set-up ---------------------------------------------------------------------------------

    @property
    def root(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}"

    @property
    def cloud_url(self) -> str:
        return f"{self.root}/wiki"

    @property
    def datacenter_url(self) -> str:
        return self.root

    def add_space(self, key: str, name: str | None = None) -> None:
        self.spaces[key] = name or key

    def add_page(
        self, space: str, title: str, body: str, *, labels: list[str] | None = None, parent: str | None = None
    ) -> Page:
        with self._lock:
            if space not in self.spaces:
                self.add_space(space)
            page = Page(str(next(self._ids)), space, title, body, list(labels or []), parent, 1, self.now)
            self.pages[page.id] = page
            return page

    def edit_page(
        self, page_id: str, *, body: str | None = None, title: str | None = None, labels: list[str] | None = None
    ) -> Page:
        """A new version: number + 1, ``when`` = ``now``."""
        with self._lock:
            page = self.pages[page_id]
            page.body = page.body if body is None else body
            page.title = page.title if title is None else title
            page.labels = page.labels if labels is None else list(labels)
            page.version += 1
            page.when = self.now
            return page

    def delete_page(self, page_id: str) -> None:
        with self._lock:
            del self.pages[page_id]

    def trash_page(self, page_id: str) -> None:
        with self._lock:
            self.pages[page_id].status = "trashed"

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def fail(self, target: str, status: int = 500, *, times: int | None = 1) -> None:
        self.failures.setdefault(target, []).append(Failure(status, times))

    def rate_limit(self, target: str, *, retry_after: int = 1, times: int = 1) -> None:
        self.failures.setdefault(target, []).append(Failure(429, times, retry_after))

    # --- inspection -----------------------------------------------------------------------------

    def of(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def page_fetches(self) -> list[str]:
        """Ids of the pages fetched one by one (``content/{id}``)."""
        with self._lock:
            return [r.path.removeprefix("content/") for r in self.requests if re.fullmatch(r"content/\d+", r.path)]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- the API --------------------------------------------------------------------------------

    def handle(
        self, layout: str, path: str, params: dict[str, str], authorization: str | None
    ) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.requests.append(Request(layout, path, params, authorization))
            failed = self._failure(path)
            if failed is not None:
                return failed
            if self.expired or authorization != self._expected_auth(layout):
                return 401, {"statusCode": 401, "message": "Unauthorized; the token is invalid or expired"}, {}
            return self._answer(layout, path, params)

    def _expected_auth(self, layout: str) -> str:
        if layout == "cloud":
            return "Basic " + base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        return f"Bearer {self.token}"

    def _failure(self, path: str) -> tuple[int, Any, dict[str, str]] | None:
        target = {"content": "content", "content/search": "search"}.get(path, f"page:{path.rpartition('/')[2]}")
        for key in (target, "*"):
            queued = self.failures.get(key)
            if not queued:
                continue
            failure = queued[0]
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    queued.pop(0)
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            return failure.status, {"statusCode": failure.status, "message": "injected failure"}, headers
        return None

    def _answer(self, layout: str, path: str, params: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if path == "content":
            pages = [
                p
                for p in self._sorted()
                if p.space == params.get("spaceKey")
                and params.get("type", "page") == "page"
                and p.status == params.get("status", "current")
            ]
            return 200, self._listing(layout, path, params, pages), {}
        if path == "content/search":
            try:
                pages = self._cql(params.get("cql", ""))
            except ValueError as exc:
                return 400, {"statusCode": 400, "message": f"Could not parse cql: {exc}"}, {}
            return 200, self._listing(layout, path, params, pages), {}
        match = re.fullmatch(r"content/(\d+)", path)
        page = self.pages.get(match.group(1)) if match else None
        if page is None or page.status != "current":
            return 404, {"statusCode": 404, "message": "No content found with id"}, {}
        return 200, self._content(layout, page, _expand(params)), {}

    def _sorted(self) -> list[Page]:
        return sorted(self.pages.values(), key=lambda p: int(p.id))

    def _cql(self, cql: str) -> list[Page]:
        pages = [p for p in self._sorted() if p.status == "current"]
        for clause in re.split(r"\s+AND\s+", cql.strip(), flags=re.IGNORECASE):
            m = re.fullmatch(r'(\w+)\s*(=|>=|>)\s*(?:"([^"]*)"|(\S+))', clause.strip())
            if not m:
                raise ValueError(clause)
            name, op, value = m.group(1).lower(), m.group(2), m.group(3) if m.group(3) is not None else m.group(4)
            if name == "type" and op == "=":
                pages = [p for p in pages if value == "page"]
            elif name == "space" and op == "=":
                pages = [p for p in pages if p.space == value]
            elif name == "lastmodified":
                bound = datetime.strptime(value.replace("-", "/"), "%Y/%m/%d %H:%M").replace(tzinfo=self.cql_timezone)
                pages = [p for p in pages if (p.when >= bound if op == ">=" else p.when > bound)]
            else:
                raise ValueError(clause)
        return pages

    def _listing(self, layout: str, path: str, params: dict[str, str], pages: list[Page]) -> dict[str, Any]:
        start = _cursor(params) if params.get("cursor") else int(params.get("start") or 0)
        limit = min(int(params.get("limit") or 25), self.max_limit)
        chosen = pages[start : start + limit]
        expand = _expand(params)
        links = self._links(layout)
        if start + limit < len(pages):
            following = {k: v for k, v in params.items() if k not in ("start", "cursor", "next")}
            if layout == "cloud" and path == "content/search":
                following |= {"next": "true", "cursor": _encode_cursor(start + limit), "limit": str(limit)}
            else:
                following |= {"start": str(start + limit), "limit": str(limit)}
            links["next"] = f"/rest/api/{path}?{urlencode(following)}"
        return {
            "results": [self._content(layout, p, expand) for p in chosen],
            "start": start,
            "limit": limit,
            "size": len(chosen),
            "_links": links,
        }

    def _links(self, layout: str) -> dict[str, Any]:
        context = "/wiki" if layout == "cloud" else ""
        return {"base": f"{self.root}{context}", "context": context}

    def _content(self, layout: str, page: Page, expand: set[str]) -> dict[str, Any]:
        webui = (
            f"/spaces/{page.space}/pages/{page.id}/{quote_plus(page.title)}"
            if layout == "cloud"
            else f"/display/{page.space}/{quote_plus(page.title)}"
        )
        base = self._links(layout)["base"]
        data: dict[str, Any] = {
            "id": page.id,
            "type": "page",
            "status": page.status,
            "title": page.title,
            "_links": {"webui": webui, "self": f"{base}/rest/api/content/{page.id}", "tinyui": f"/x/{page.id}"},
            "_expandable": {"space": "", "version": "", "body": "", "ancestors": "", "metadata": ""},
        }
        if "space" in expand:
            data["space"] = {"key": page.space, "name": self.spaces.get(page.space, page.space), "type": "global"}
        if "version" in expand:
            data["version"] = {"number": page.version, "when": _when(page.when, layout), "by": {"displayName": "HR"}}
        if "body.storage" in expand:
            data["body"] = {"storage": {"value": page.body, "representation": "storage"}}
        if "metadata.labels" in expand:
            labels = [{"prefix": "global", "name": name, "id": str(i)} for i, name in enumerate(page.labels, 1)]
            data["metadata"] = {"labels": {"results": labels, "start": 0, "limit": 200, "size": len(labels)}}
        if "ancestors" in expand:
            data["ancestors"] = [self._content(layout, a, set()) for a in self._ancestors(page)]
        return data

    def _ancestors(self, page: Page) -> list[Page]:
        chain: list[Page] = []
        parent = self.pages.get(page.parent or "")
        while parent is not None:
            chain.insert(0, parent)
            parent = self.pages.get(parent.parent or "")
        return chain


def _expand(params: dict[str, str]) -> set[str]:
    return {e.strip() for e in params.get("expand", "").split(",") if e.strip()}


def _when(when: datetime, layout: str) -> str:
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000")
    return f"{stamp}Z" if layout == "cloud" else f"{stamp}+00:00"


def _encode_cursor(start: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": start}).encode()).decode()


def _cursor(params: dict[str, str]) -> int:
    return int(json.loads(base64.urlsafe_b64decode(params["cursor"].encode()))["offset"])


def _handler(fake: FakeConfluence) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            for prefix, layout in (("/wiki/rest/api/", "cloud"), ("/rest/api/", "datacenter")):
                if parts.path.startswith(prefix):
                    params = dict(parse_qsl(parts.query, keep_blank_values=True))
                    path = parts.path.removeprefix(prefix).rstrip("/")
                    status, body, headers = fake.handle(layout, path, params, self.headers.get("Authorization"))
                    self._send(status, body, headers)
                    return
            self._send(404, {"statusCode": 404, "message": "not found"}, {})

        def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def fake_confluence(**kwargs: Any) -> Iterator[FakeConfluence]:
    """A running fake on 127.0.0.1, port 0; stopped on exit."""
    fake = FakeConfluence(**kwargs)
    with serving(_handler(fake)) as server:
        fake.server = server
        yield fake
