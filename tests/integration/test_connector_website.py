"""The website connector against a fake site on loopback: sitemap indexes, gzip, prefix, lastmod
polling, conditional GET (304), pages that fail, and XML that tries to read local files."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from connectors.base import (
    ConnectorConfigError,
    ConnectorError,
    ListConnector,
    LoadConnector,
    PollConnector,
    SkippedDocument,
    SourceDocument,
)
from connectors.http import HttpClient
from connectors.registry import build
from connectors.sitemap import SitemapConnector, parse_lastmod
from retrieval.converters import convert
from tests.fakes.website import FakeWebsite, fake_website

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def site() -> Iterator[FakeWebsite]:
    with fake_website() as fake:
        fake.page("/hr/leave.html", "<html><h1>Leave</h1><p>25 days of vacation.</p></html>", lastmod="2026-01-10")
        fake.page("/hr/handbook.md", "# Handbook\n\nBe kind.", content_type="text/markdown", lastmod="2026-01-11")
        fake.page("/hr/notes", "Plain notes", content_type="text/plain; charset=utf-8")
        fake.page("/hr/logo.png", b"\x89PNG....", content_type="image/png", lastmod="2026-01-01")
        fake.page("/blog/post.html", "<p>Not HR</p>", lastmod="2026-02-01")
        fake.sitemap("/sitemap-hr.xml", ["/hr/leave.html", "/hr/handbook.md", "/hr/logo.png", "/hr/gone.html"])
        fake.sitemap("/sitemap-more.xml.gz", ["/hr/notes", "/blog/post.html"])
        fake.index("/sitemap.xml", ["/sitemap-hr.xml", "/sitemap-more.xml.gz"])
        yield fake


def _connector(site: FakeWebsite, state: dict[str, object] | None = None, **settings: object) -> SitemapConnector:
    connector = build("website", {"url": site.url("/sitemap.xml"), "prefix": site.url("/hr/"), **settings}, state=state)
    assert isinstance(connector, SitemapConnector)
    connector.client = HttpClient("", backoff=0, sleep=lambda _: None)
    return connector


def _flatten(batches: Iterator[list[SourceDocument | SkippedDocument]]) -> dict[str, SourceDocument | SkippedDocument]:
    return {item.path: item for batch in batches for item in batch}


def _documents(batches: Iterator[list[SourceDocument | SkippedDocument]]) -> dict[str, SourceDocument]:
    """The documents polled; the listed page that 404s (no lastmod: fetched every poll) must be a skip."""
    items = _flatten(batches)
    gone = [item for item in items.values() if item.path.endswith("/hr/gone.html")]
    assert len(gone) == 1 and isinstance(gone[0], SkippedDocument) and "404" in gone[0].reason
    return {path: item for path, item in items.items() if isinstance(item, SourceDocument)}


def test_index_gzip_and_prefix_are_followed(site: FakeWebsite) -> None:
    connector = _connector(site)
    assert isinstance(connector, LoadConnector | PollConnector | ListConnector)
    assert connector.origin == f"web:{site.url('/sitemap.xml')}"
    assert connector.list_ids() == {
        site.url(path) for path in ("/hr/leave.html", "/hr/handbook.md", "/hr/logo.png", "/hr/gone.html", "/hr/notes")
    }
    assert site.of("/blog/post.html") == []  # listing reads sitemaps only


def test_load_all_yields_pages_with_formats_and_skips_failures(site: FakeWebsite) -> None:
    connector = _connector(site)
    items = _flatten(connector.load_all())

    leave = items[site.url("/hr/leave.html")]
    assert isinstance(leave, SourceDocument)
    assert leave.format == ".html" and leave.uri == leave.path and leave.origin == connector.origin
    assert leave.modified_at == datetime(2026, 1, 10, tzinfo=UTC)
    assert leave.version == site.pages["/hr/leave.html"].etag
    assert "25 days of vacation" in convert(leave.data, leave.path, fmt=leave.format).full_text()

    handbook = items[site.url("/hr/handbook.md")]
    notes = items[site.url("/hr/notes")]
    assert isinstance(handbook, SourceDocument) and handbook.format == ".md"
    assert isinstance(notes, SourceDocument) and notes.format == ".txt" and notes.modified_at is None

    logo = items[site.url("/hr/logo.png")]
    gone = items[site.url("/hr/gone.html")]
    assert isinstance(logo, SkippedDocument) and "unsupported content type image/png" in logo.reason
    assert isinstance(gone, SkippedDocument) and "404" in gone.reason
    assert site.url("/blog/post.html") not in items
    assert set(connector.state["pages"]) >= {site.url("/hr/leave.html"), site.url("/hr/notes")}


def test_poll_reads_lastmod_changes_and_uses_conditional_get(site: FakeWebsite) -> None:
    first = _connector(site)
    _flatten(first.load_all())
    state = first.state

    site.page("/hr/leave.html", "<p>30 days of vacation now.</p>", lastmod="2026-03-01")  # newer lastmod
    site.page("/hr/notes", "Notes, edited")  # no lastmod; ETag changes
    site.page("/hr/docx", b"PK\x03\x04 docx bytes", content_type=DOCX)  # no lastmod, new page
    site.sitemap("/sitemap-more.xml.gz", ["/hr/notes", "/hr/docx"])
    site.clear()

    again = _connector(site, state=state)
    items = _documents(again.poll(datetime(2026, 2, 1, tzinfo=UTC)))

    assert set(items) == {site.url("/hr/leave.html"), site.url("/hr/notes"), site.url("/hr/docx")}
    docx = items[site.url("/hr/docx")]
    assert isinstance(docx, SourceDocument) and docx.format == ".docx"
    assert site.of("/hr/handbook.md") == [] and site.of("/hr/logo.png") == []  # lastmod before since
    [notes] = site.of("/hr/notes")
    assert notes.headers.get("if-none-match") and notes.status == 200

    site.clear()
    unchanged = _connector(site, state=again.state)
    assert _documents(unchanged.poll(datetime(2026, 4, 1, tzinfo=UTC))) == {}
    [notes] = site.of("/hr/notes")
    assert notes.status == 304 and notes.headers["if-none-match"] == site.pages["/hr/notes"].etag


def test_last_modified_is_used_when_there_is_no_etag(site: FakeWebsite) -> None:
    stamp = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    site.page("/hr/notes", "Notes", etag=False, last_modified=stamp)
    first = _connector(site)
    items = _flatten(first.load_all())
    notes = items[site.url("/hr/notes")]
    assert isinstance(notes, SourceDocument) and notes.modified_at == stamp
    site.clear()
    assert _documents(_connector(site, state=first.state).poll(datetime(2026, 4, 1, tzinfo=UTC))) == {}
    assert [r.status for r in site.of("/hr/notes")] == [304]


def test_retries_then_skips_a_failing_page_and_honours_retry_after(site: FakeWebsite) -> None:
    site.fail("/hr/handbook.md", 500, times=10)
    site.fail("/hr/leave.html", 429, retry_after=1)
    slept: list[float] = []
    connector = _connector(site)
    connector.client = HttpClient("", retries=2, backoff=0, sleep=slept.append)
    items = _flatten(connector.load_all())
    handbook = items[site.url("/hr/handbook.md")]
    assert isinstance(handbook, SkippedDocument) and "500" in handbook.reason
    assert len(site.of("/hr/handbook.md")) == 3
    assert isinstance(items[site.url("/hr/leave.html")], SourceDocument)
    assert 1.0 in slept


def test_max_pages_and_relative_prefix(site: FakeWebsite) -> None:
    connector = build("website", {"url": site.url("/sitemap.xml"), "prefix": "/hr/", "max_pages": 2})
    assert connector.list_ids() == {site.url("/hr/leave.html"), site.url("/hr/handbook.md")}


def test_an_unreadable_sitemap_raises_instead_of_listing_nothing(site: FakeWebsite) -> None:
    site.index("/sitemap.xml", ["/sitemap-hr.xml", "/sitemap-missing.xml"])
    with pytest.raises(ConnectorError, match="404"):
        _connector(site).list_ids()
    site.serve_raw("/broken.xml", b"<html>not a sitemap</html>")
    with pytest.raises(ConnectorError, match="neither"):
        build("website", {"url": site.url("/broken.xml")}).list_ids()


def test_external_entities_and_other_hosts_are_ignored(site: FakeWebsite) -> None:
    xml = (
        '<?xml version="1.0"?>\n<!DOCTYPE urlset [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
        f"<urlset><url><loc>{site.base}/hr/leave.html?x=&secret;</loc></url>"
        "<url><loc>https://elsewhere.example/hr/evil.html</loc></url>"
        f"<url><loc>{site.base}/hr/notes</loc><lastmod>not a date</lastmod></url></urlset>"
    )
    connector = build("website", {"url": site.serve_raw("/plain.xml", xml.encode())})
    ids = connector.list_ids()
    assert site.url("/hr/notes") in ids
    assert not any("root:" in url or "elsewhere" in url for url in ids)


def test_settings_are_checked() -> None:
    with pytest.raises(ConnectorConfigError, match="url"):
        build("website", {})
    with pytest.raises(ConnectorConfigError, match="http"):
        build("website", {"url": "file:///etc/sitemap.xml"})
    with pytest.raises(ConnectorConfigError, match="max_pages"):
        build("website", {"url": "https://intranet.example/sitemap.xml", "max_pages": "lots"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31T10:30:00+02:00", datetime(2026, 1, 31, 8, 30, tzinfo=UTC)),
        ("2026-01-31T10:30:00Z", datetime(2026, 1, 31, 10, 30, tzinfo=UTC)),
        ("2026-01-31T10:30:00.250Z", datetime(2026, 1, 31, 10, 30, 0, 250000, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
    ],
)
def test_lastmod_formats(raw: str, expected: datetime | None) -> None:
    assert parse_lastmod(raw) == expected
