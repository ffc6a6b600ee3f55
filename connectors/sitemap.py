"""The pages of a website, as listed by its ``sitemap.xml`` (https://www.sitemaps.org/protocol.html).

``url`` names a sitemap (``<urlset>``) or a sitemap index (``<sitemapindex>``), plain or gzipped;
``prefix`` keeps only the page URLs that start with it and ``max_pages`` caps how many are read.
Pages and child sitemaps on another host than the sitemap's are ignored, as the protocol requires.

``poll(since)`` reads the pages whose ``<lastmod>`` is at or after ``since`` and the pages without a
``<lastmod>``, each with a conditional GET (``If-None-Match`` / ``If-Modified-Since`` from the
validators kept in ``state["pages"]``): a ``304`` means unchanged and yields nothing.

A sitemap that cannot be read raises :class:`ConnectorError` rather than listing fewer pages, since
``list_ids`` decides what is pruned. A page that cannot be read (404, 410, a 5xx after retries) is a
:class:`SkippedDocument` and the rest carries on. XML is parsed without DTDs, entities or network.
"""

from __future__ import annotations

import gzip
import io
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from lxml import etree

from connectors.base import Batch, ConnectorConfigError, ConnectorError, SkippedDocument, SourceDocument
from connectors.http import HttpClient
from connectors.registry import require
from retrieval.converters import is_supported

log = logging.getLogger(__name__)

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the protocol's limit for one (uncompressed) sitemap
MAX_DEPTH = 3  # an index of indexes is not allowed by the protocol; tolerate a little nesting
BATCH_SIZE = 16
FORMATS = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "application/pdf": ".pdf",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "text/plain": ".txt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
}
UNTYPED = {"", "application/octet-stream", "binary/octet-stream"}


@dataclass(frozen=True)
class Entry:
    """One ``<url>`` of a sitemap."""

    url: str
    lastmod: datetime | None


def parse_lastmod(raw: str | None) -> datetime | None:
    """A W3C datetime (``2026-01-31``, ``2026-01-31T09:30:00+01:00``, ``...Z``) in UTC, or None."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _xml(data: bytes, url: str) -> etree._Element:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )
    try:
        return etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise ConnectorError(f"{url} is not a valid sitemap: {exc}") from exc


def _local(element: Any) -> str:
    """The tag without its namespace (sitemaps in the wild use the standard one, another, or none)."""
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _children(element: etree._Element, name: str) -> Iterator[etree._Element]:
    return (child for child in element if _local(child) == name)


def _text(element: etree._Element, name: str) -> str:
    child = next(_children(element, name), None)
    return "".join(child.itertext()).strip() if child is not None else ""


def _gunzip(data: bytes, url: str) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            out = stream.read(MAX_SITEMAP_BYTES + 1)
    except (OSError, EOFError) as exc:
        raise ConnectorError(f"{url}: cannot decompress the sitemap: {exc}") from exc
    if len(out) > MAX_SITEMAP_BYTES:
        raise ConnectorError(f"{url}: the sitemap is larger than {MAX_SITEMAP_BYTES} bytes uncompressed")
    return out


def _mime(response: httpx.Response) -> str:
    return (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()


def _format(mime: str, url: str) -> str | None:
    """The converter for a page: by Content-Type, or by the URL's extension when the server does not say."""
    if mime in FORMATS:
        return FORMATS[mime]
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
    if mime in UNTYPED and is_supported(suffix):
        return ".html" if suffix == ".htm" else suffix
    return None


def _http_date(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        value = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SitemapConnector:
    """Policies published as web pages. ``state["pages"][url]`` holds each page's ``etag`` and
    ``last_modified`` as the server last sent them."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "",
        max_pages: int | None = None,
        state: dict[str, Any] | None = None,
        client: HttpClient | None = None,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.max_pages = max_pages
        self.state: dict[str, Any] = state if state is not None else {}
        self.state.setdefault("pages", {})
        self.client = client or HttpClient("", headers={"User-Agent": "hrbot-sitemap/1.0"})
        self._host = urlsplit(url).netloc.lower()

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], *, env: Mapping[str, str], state: dict[str, Any]
    ) -> SitemapConnector:
        """Settings: ``url`` (a sitemap or sitemap index), ``prefix`` (optional), ``max_pages`` (optional)."""
        url = str(require(settings, "url")).strip()
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ConnectorConfigError(f"the sitemap url must be an http(s) URL, not {url!r}")
        prefix = str(settings.get("prefix") or "").strip()
        if prefix and not prefix.startswith(("http://", "https://")):
            prefix = urljoin(url, prefix)
        return cls(url, prefix=prefix, max_pages=_max_pages(settings.get("max_pages")), state=state)

    @property
    def origin(self) -> str:
        return f"web:{self.url}"

    def close(self) -> None:
        self.client.close()

    # --- the sitemap ----------------------------------------------------------------------------

    def entries(self) -> list[Entry]:
        """The page URLs the sitemap lists (after ``prefix`` and ``max_pages``), first listing first."""
        found: dict[str, Entry] = {}
        self._read_sitemap(self.url, found, depth=0, seen=set())
        entries = [entry for entry in found.values() if entry.url.startswith(self.prefix)]
        return entries[: self.max_pages] if self.max_pages else entries

    def _read_sitemap(self, url: str, found: dict[str, Entry], *, depth: int, seen: set[str]) -> None:
        if url in seen or depth > MAX_DEPTH:
            log.warning("sitemap skipped (repeated or nested too deep)", extra={"sitemap": url, "depth": depth})
            return
        seen.add(url)
        data = self.client.get(url).content
        if data[:2] == b"\x1f\x8b":
            data = _gunzip(data, url)
        root = _xml(data, url)
        if _local(root) == "sitemapindex":
            for child in _children(root, "sitemap"):
                loc = self._same_host(urljoin(url, _text(child, "loc")))
                if loc:
                    self._read_sitemap(loc, found, depth=depth + 1, seen=seen)
        elif _local(root) == "urlset":
            for child in _children(root, "url"):
                self._add(found, child, url)
        else:
            raise ConnectorError(f"{url} is neither a <urlset> nor a <sitemapindex> (root <{_local(root)}>)")

    def _add(self, found: dict[str, Entry], element: etree._Element, sitemap: str) -> None:
        loc = self._same_host(urljoin(sitemap, _text(element, "loc")))
        if not loc:
            return
        entry = Entry(loc, parse_lastmod(_text(element, "lastmod")))
        previous = found.get(loc)
        if previous is None or (entry.lastmod and (previous.lastmod is None or entry.lastmod > previous.lastmod)):
            found[loc] = entry

    def _same_host(self, url: str) -> str | None:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc.lower() == self._host:
            return url.split("#", 1)[0]
        if url:
            log.info("sitemap entry on another host ignored", extra={"sitemap": self.url, "entry": url})
        return None

    # --- the capabilities -----------------------------------------------------------------------

    def list_ids(self) -> set[str]:
        return {entry.url for entry in self.entries()}

    def load_all(self) -> Iterator[Batch]:
        return self._load(None)

    def poll(self, since: datetime) -> Iterator[Batch]:
        """Pages with a ``<lastmod>`` at or after ``since``, and pages without one that the server
        says changed (conditional GET against the validators in ``state``)."""
        return self._load(since if since.tzinfo else since.replace(tzinfo=UTC))

    def _load(self, since: datetime | None) -> Iterator[Batch]:
        entries = self.entries()
        pages: dict[str, Any] = self.state["pages"]
        for url in set(pages) - {entry.url for entry in entries}:
            del pages[url]
        batch: Batch = []
        for entry in entries:
            if since is not None and entry.lastmod is not None and entry.lastmod < since:
                continue
            item = self._fetch(entry, conditional=since is not None)
            if item is not None:
                batch.append(item)
            if len(batch) >= BATCH_SIZE:
                yield batch
                batch = []
        if batch:
            yield batch

    def _fetch(self, entry: Entry, *, conditional: bool) -> SourceDocument | SkippedDocument | None:
        headers = self._validators(entry.url) if conditional else {}
        try:
            response = self.client.get(entry.url, headers=headers)
        except ConnectorError as exc:  # 404, 410, other 4xx, 5xx or network errors after retries
            log.warning("page skipped", extra={"url": entry.url, "reason": str(exc)})
            return SkippedDocument(entry.url, str(exc))
        if response.status_code == 304:
            return None
        if not 200 <= response.status_code < 300:
            return SkippedDocument(entry.url, f"HTTP {response.status_code}")
        self._remember(entry.url, response)
        mime = _mime(response)
        fmt = _format(mime, entry.url)
        if fmt is None:
            return SkippedDocument(entry.url, f"unsupported content type {mime or '(none)'}")
        etag = response.headers.get("ETag")
        last_modified = response.headers.get("Last-Modified")
        return SourceDocument(
            path=entry.url,
            data=response.content,
            uri=entry.url,
            origin=self.origin,
            modified_at=entry.lastmod or _http_date(last_modified),
            meta={"content_type": mime},
            format=fmt,
            version=etag or last_modified,
        )

    def _validators(self, url: str) -> dict[str, str]:
        known = self.state["pages"].get(url) or {}
        headers = {}
        if known.get("etag"):
            headers["If-None-Match"] = str(known["etag"])
        if known.get("last_modified"):
            headers["If-Modified-Since"] = str(known["last_modified"])
        return headers

    def _remember(self, url: str, response: httpx.Response) -> None:
        validators = {
            key: value
            for key, value in (
                ("etag", response.headers.get("ETag")),
                ("last_modified", response.headers.get("Last-Modified")),
            )
            if value
        }
        if validators:
            self.state["pages"][url] = validators
        else:
            self.state["pages"].pop(url, None)


def _max_pages(raw: Any) -> int | None:
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConnectorConfigError(f"max_pages must be a whole number, not {raw!r}") from None
    if value < 1:
        raise ConnectorConfigError(f"max_pages must be at least 1, not {value}")
    return value
