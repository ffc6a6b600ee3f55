"""A fake website on loopback: pages with a content type, a ``<lastmod>``, an ``ETag`` and a
``Last-Modified``; sitemaps and sitemap indexes (plain or ``.xml.gz``) built from them; ``304`` on a
conditional GET; 404/500/429 on cue; every request recorded."""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from tests.fakes.serving import serving

NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    status: int


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    lastmod: str | None = None  # as written in the sitemap
    etag: str | None = None
    last_modified: datetime | None = None


@dataclass
class Failure:
    status: int
    times: int = 1
    retry_after: int | None = None


@dataclass
class FakeWebsite:
    pages: dict[str, Page] = field(default_factory=dict)
    sitemaps: dict[str, list[str]] = field(default_factory=dict)  # path -> page paths
    indexes: dict[str, list[str]] = field(default_factory=dict)  # path -> sitemap paths
    raw: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # path -> (body, content type)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    # --- set-up ---------------------------------------------------------------------------------

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}"

    def url(self, path: str) -> str:
        return self.base + path

    def page(
        self,
        path: str,
        body: str | bytes,
        *,
        content_type: str = "text/html; charset=utf-8",
        lastmod: str | None = None,
        etag: bool = True,
        last_modified: datetime | None = None,
    ) -> Page:
        """Add or replace a page; its ETag follows its content (unless ``etag=False``)."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        tag = f'"{hashlib.sha256(data).hexdigest()[:16]}"' if etag else None
        page = Page(data, content_type, lastmod, tag, last_modified)
        with self._lock:
            self.pages[path] = page
        return page

    def sitemap(self, path: str, pages: list[str]) -> str:
        """A ``<urlset>`` of those page paths (``.gz`` paths are served gzipped); returns its URL."""
        self.sitemaps[path] = pages
        return self.url(path)

    def index(self, path: str, sitemaps: list[str]) -> str:
        self.indexes[path] = sitemaps
        return self.url(path)

    def serve_raw(self, path: str, body: bytes, content_type: str = "application/xml") -> str:
        self.raw[path] = (body, content_type)
        return self.url(path)

    def fail(self, path: str, status: int, *, times: int = 1, retry_after: int | None = None) -> None:
        self.failures.setdefault(path, []).append(Failure(status, times, retry_after))

    # --- inspection -----------------------------------------------------------------------------

    def of(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- serving --------------------------------------------------------------------------------

    def urlset(self, pages: list[str]) -> bytes:
        items = []
        for path in pages:
            page = self.pages.get(path)
            lastmod = f"<lastmod>{escape(page.lastmod)}</lastmod>" if page and page.lastmod else ""
            items.append(f"<url><loc>{escape(self.url(path))}</loc>{lastmod}</url>")
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{NS}">{"".join(items)}</urlset>'
        return body.encode("utf-8")

    def sitemapindex(self, sitemaps: list[str]) -> bytes:
        items = "".join(f"<sitemap><loc>{escape(self.url(path))}</loc></sitemap>" for path in sitemaps)
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{NS}">{items}</sitemapindex>'.encode()

    def respond(self, path: str, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            queued = self.failures.get(path)
            if queued:
                failure = queued[0]
                failure.times -= 1
                if failure.times <= 0:
                    queued.pop(0)
                extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
                return failure.status, b"failure on cue", {"Content-Type": "text/plain", **extra}
        if path in self.indexes:
            return self._xml(path, self.sitemapindex(self.indexes[path]))
        if path in self.sitemaps:
            return self._xml(path, self.urlset(self.sitemaps[path]))
        if path in self.raw:
            body, content_type = self.raw[path]
            return 200, body, {"Content-Type": content_type}
        page = self.pages.get(path)
        if page is None:
            return 404, b"not found", {"Content-Type": "text/plain"}
        return self._page(page, headers)

    def _xml(self, path: str, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        if path.endswith(".gz"):
            return 200, gzip.compress(body), {"Content-Type": "application/x-gzip"}
        return 200, body, {"Content-Type": "application/xml; charset=utf-8"}

    def _page(self, page: Page, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        out = {"Content-Type": page.content_type}
        if page.etag:
            out["ETag"] = page.etag
        if page.last_modified:
            out["Last-Modified"] = format_datetime(page.last_modified, usegmt=True)
        match = headers.get("if-none-match")
        if match is not None and page.etag:
            return (304, b"", out) if match == page.etag else (200, page.body, out)
        since = headers.get("if-modified-since")
        if since is not None and page.last_modified and since == out["Last-Modified"]:
            return 304, b"", out
        return 200, page.body, out


def _handler(fake: FakeWebsite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, body, out = fake.respond(path, headers)
            with fake._lock:
                fake.requests.append(Request("GET", path, headers, status))
            self.send_response(status)
            for key, value in out.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

    return Handler


@contextmanager
def fake_website(**kwargs: Any) -> Iterator[FakeWebsite]:
    """A running fake on 127.0.0.1, port 0; stopped on exit."""
    fake = FakeWebsite(**kwargs)
    with serving(_handler(fake)) as server:
        fake.server = server
        yield fake
