"""A fake Confluence REST API (v1 content endpoints) on loopback, in both URL layouts.

``/wiki/rest/api/...`` is Cloud: HTTP basic ``email:token``, ``_links.base`` ending in ``/wiki``,
cursor-style ``next`` links for CQL search. ``/rest/api/...`` is Data Center: ``Authorization:
Bearer <token>``. Served: ``GET content`` (``spaceKey``, ``type``, ``status``, ``expand``, ``limit``,
``start``), ``GET content/search`` (the CQL the connector sends: ``type = page AND space = "X" AND
lastmodified >= "yyyy/MM/dd HH:mm"``, dates read in ``cql_timezone`` as Confluence reads them in the
user's zone) and ``GET content/{id}``. ``limit`` is capped at ``max_limit``; only expanded fields
are returned. Every request is recorded; failures (5xx, 429 with ``Retry-After``) can be queued per
target: ``"content"`` (listing), ``"search"``, ``"page:<id>"`` or ``"*"``.

Run it by hand (README, "Try it locally with a fake Confluence"): ``python -m tests.fakes.confluence_api
--port 8090`` serves a space ``HR`` preloaded with pages made from ``bot/demo/data/policies/*.md`` on
the real clock, prints every request, and takes edits on admin endpoints (what
``python -m tests.fakes.confluence_admin`` calls; no auth, loopback only)::

    GET    /_fake/pages             every page: id, space, title, version, status
    POST   /_fake/pages             add   {"title", "text" (Markdown) or "body" (storage HTML), "space", "labels"}
    PUT    /_fake/pages/{id}        edit  {"text" or "body", "title", "labels"}: a new version
    DELETE /_fake/pages/{id}        delete (``?trash=1``: move to the trash)

With ``--webhook URL [--webhook-secret S]`` each admin change is also POSTed to ``URL`` as a
Confluence webhook (``page_created``/``page_updated``/``page_removed``/``page_trashed``), signed
``X-Hub-Signature: sha256=<HMAC>`` when a secret is given.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import html
import itertools
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

from tests.fakes.serving import send_json, serving

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
    live: bool = False  # the real clock: ``now`` is the current time whenever a page is added or edited
    webhook_url: str | None = None  # admin changes are POSTed here as Confluence webhooks
    webhook_secret: str | None = None
    on_request: Callable[[str], None] | None = None  # told one line per HTTP request
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
            self._tick()
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
            self._tick()
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

    def _tick(self) -> None:
        if self.live:
            self.now = datetime.now(UTC)

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

    # --- admin endpoints and outgoing webhooks (the ``python -m`` CLI) ---------------------------

    def admin(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """``/_fake/pages[/{id}]``: list, add, edit, delete; each change sent to ``webhook_url``."""
        match = re.fullmatch(r"/_fake/pages(?:/(\d+))?/?", urlsplit(path).path)
        if match is None:
            return 404, {"message": "not found"}
        page_id = match.group(1)
        with self._lock:
            if page_id is None and method == "GET":
                return 200, {"results": [_summary(p) for p in self._sorted()]}
            if page_id is None and method == "POST":
                if not body.get("title"):
                    return 400, {"message": "a title is required"}
                page = self.add_page(
                    str(body.get("space") or "HR"),
                    str(body["title"]),
                    _body(body) or "",
                    labels=[str(x) for x in body.get("labels") or []],
                )
                event, answer = "page_created", (201, _summary(page))
            elif page_id is None:
                return 405, {"message": "GET or POST"}
            elif page_id not in self.pages:
                return 404, {"message": f"no page {page_id}"}
            elif method == "GET":
                return 200, _summary(self.pages[page_id]) | {"body": self.pages[page_id].body}
            elif method == "PUT":
                labels = body.get("labels")
                page = self.edit_page(
                    page_id,
                    body=_body(body),
                    title=str(body["title"]) if body.get("title") else None,
                    labels=[str(x) for x in labels] if isinstance(labels, list) else None,
                )
                event, answer = "page_updated", (200, _summary(page))
            elif method == "DELETE":
                page = self.pages[page_id]
                if body.get("trash"):
                    self.trash_page(page_id)
                    event = "page_trashed"
                else:
                    self.delete_page(page_id)
                    event = "page_removed"
                answer = (200, _summary(page) | {"status": "trashed" if body.get("trash") else "deleted"})
            else:
                return 405, {"message": "GET, PUT or DELETE"}
        status, summary = answer
        if self.webhook_url:
            summary["webhook"] = self.send_webhook(event, page)
        return status, summary

    def webhook_payload(self, event: str, page: Page) -> dict[str, Any]:
        """What Confluence POSTs to a webhook for a page event."""
        stamp = int(self.now.timestamp() * 1000)
        return {
            "event": event,
            "timestamp": stamp,
            "userAccountId": "557058:fake-hr-editor",
            "page": {
                "id": page.id,
                "spaceKey": page.space,
                "title": page.title,
                "version": page.version,
                "creatorAccountId": "557058:fake-hr-editor",
                "lastModifierAccountId": "557058:fake-hr-editor",
                "creationDate": stamp,
                "modificationDate": stamp,
                "self": f"{self.cloud_url}/spaces/{page.space}/pages/{page.id}",
            },
        }

    def send_webhook(self, event: str, page: Page) -> str:
        """POST the event to ``webhook_url`` (signed with ``webhook_secret``); the answer, in words."""
        assert self.webhook_url is not None
        data = json.dumps(self.webhook_payload(event, page)).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "Confluence-Webhook (fake)"}
        if self.webhook_secret:
            digest = hmac.new(self.webhook_secret.encode("utf-8"), data, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature"] = f"sha256={digest}"
        request = urllib.request.Request(self.webhook_url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                result = f"{response.status} {response.read().decode('utf-8', 'replace')}"
        except urllib.error.HTTPError as exc:
            result = f"{exc.code} {exc.read().decode('utf-8', 'replace')}"
        except OSError as exc:
            result = f"failed: {exc}"
        if self.on_request is not None:
            self.on_request(f"webhook {event} page {page.id} -> {self.webhook_url}: {result}")
        return result

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
            if parts.path.startswith("/_fake/"):
                self._admin("GET")
                return
            for prefix, layout in (("/wiki/rest/api/", "cloud"), ("/rest/api/", "datacenter")):
                if parts.path.startswith(prefix):
                    params = dict(parse_qsl(parts.query, keep_blank_values=True))
                    path = parts.path.removeprefix(prefix).rstrip("/")
                    status, body, headers = fake.handle(layout, path, params, self.headers.get("Authorization"))
                    self._send(status, body, headers)
                    return
            self._send(404, {"statusCode": 404, "message": "not found"}, {})

        def do_POST(self) -> None:
            self._admin("POST")

        def do_PUT(self) -> None:
            self._admin("PUT")

        def do_DELETE(self) -> None:
            self._admin("DELETE")

        def _admin(self, method: str) -> None:
            parts = urlsplit(self.path)
            if not parts.path.startswith("/_fake/"):
                self._send(405, {"statusCode": 405, "message": "the fake API is read-only"}, {})
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self._send(400, {"message": "the body is not a JSON object"}, {})
                return
            body |= dict(parse_qsl(parts.query))
            status, answer = fake.admin(method, self.path, body)
            self._send(status, answer, {})

        def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
            if fake.on_request is not None:
                fake.on_request(f"{self.command} {self.path} -> {status}")
            send_json(self, status, body, headers)

    return Handler


@contextmanager
def fake_confluence(*, port: int = 0, **kwargs: Any) -> Iterator[FakeConfluence]:
    """A running fake on 127.0.0.1 (``port`` 0: a free one); stopped on exit."""
    fake = FakeConfluence(**kwargs)
    with serving(_handler(fake), port) as server:
        fake.server = server
        yield fake


# --- by hand: ``python -m tests.fakes.confluence_api`` ---------------------------------------------

POLICIES = Path(__file__).resolve().parents[2] / "bot" / "demo" / "data" / "policies"
PRELOADED = ("remote-work-policy", "time-off-policy", "expenses-and-travel-policy", "public-holidays-policy")


def _summary(page: Page) -> dict[str, Any]:
    return {"id": page.id, "space": page.space, "title": page.title, "version": page.version, "status": page.status}


def _body(fields: dict[str, Any]) -> str | None:
    """The storage body of an admin request: ``body`` as is, or ``text`` (Markdown) converted."""
    if fields.get("body") is not None:
        return str(fields["body"])
    if fields.get("text") is not None:
        return markdown_to_storage(str(fields["text"]))
    return None


def markdown_to_storage(text: str) -> str:
    """Simple Markdown (headings, paragraphs, ``-``/``*`` lists, ``**bold**``) as storage HTML."""
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []

    def inline(line: str) -> str:
        return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(line.strip(), quote=False))

    def flush() -> None:
        if paragraph:
            blocks.append(f"<p>{inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            blocks.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        heading = re.match(r"(#{1,6})\s+(.*)", line)
        bullet = re.match(r"\s*[-*]\s+(.*)", line)
        if heading:
            flush()
            level = len(heading.group(1))
            blocks.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif bullet:
            if paragraph:
                flush()
            items.append(bullet.group(1))
        elif not line.strip():
            flush()
        elif items and line.startswith((" ", "\t")):
            items[-1] += " " + line.strip()
        else:
            if items:
                flush()
            paragraph.append(line)
    flush()
    return "".join(blocks)


def policy_page(path: Path) -> tuple[str, str]:
    """(title, storage body) of a demo policy file: front matter dropped, its ``# Title`` too."""
    text = path.read_text(encoding="utf-8")
    title = path.stem.replace("-", " ").title()
    if text.startswith("---"):
        front, _, text = text[3:].partition("\n---")
        found = re.search(r"^title:\s*(.+)$", front, flags=re.MULTILINE)
        title = found.group(1).strip().strip("\"'") if found else title
    text = re.sub(r"\A\s*#\s+.*\n", "", text)
    return title, markdown_to_storage(text)


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake Confluence Cloud site with a space HR of demo policies.")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--email", default="bot@example.com", help="the Cloud user (basic auth email:token)")
    parser.add_argument("--token", default="fake-token", help="the API token hrbot must send")
    parser.add_argument(
        "--webhook", help="POST admin changes here, e.g. http://127.0.0.1:8091/webhooks/confluence/wiki"
    )
    parser.add_argument("--webhook-secret", help="sign the webhooks (X-Hub-Signature) with this secret")
    parser.add_argument("--empty", action="store_true", help="start with no pages")
    args = parser.parse_args()

    def say(line: str) -> None:
        print(f"{datetime.now().strftime('%H:%M:%S')} {line}", flush=True)

    options = {"email": args.email, "token": args.token, "live": True, "on_request": say}
    options |= {"webhook_url": args.webhook, "webhook_secret": args.webhook_secret}
    with fake_confluence(port=args.port, **options) as fake:
        fake.add_space("HR", "Human Resources")
        for stem in () if args.empty else PRELOADED:
            if (POLICIES / f"{stem}.md").is_file():
                title, body = policy_page(POLICIES / f"{stem}.md")
                fake.add_page("HR", title, body)
        print(f"fake Confluence Cloud on {fake.cloud_url} (space HR; basic auth {args.email}:{args.token})")
        for page in fake._sorted():
            print(f"  page {page.id} v{page.version}: {page.title}")
        if args.webhook:
            signed = "signed" if args.webhook_secret else "unsigned"
            print(f"admin changes are POSTed ({signed}) to {args.webhook}")
        print("edit with: python -m tests.fakes.confluence_admin list|add|edit|delete; Ctrl-C stops", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
