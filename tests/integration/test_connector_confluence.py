"""The Confluence connector against a fake Confluence speaking the v1 REST wire format (no database)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, timedelta, timezone
from typing import Any

import pytest

from connectors import registry
from connectors.base import (
    Batch,
    ConnectorAuthError,
    ConnectorConfigError,
    ConnectorError,
    SkippedDocument,
    SourceDocument,
)
from connectors.confluence import ConfluenceConnector, ConfluenceWebhookEvent, parse_webhook
from connectors.confluence_storage import storage_to_body
from retrieval.audience import resolve_audience
from retrieval.converters import convert
from tests.fakes.confluence_api import T0, FakeConfluence, fake_confluence

POLICY = """
<p>Everyone gets paid parental leave.</p>
<h2>Eligibility</h2>
<p>You qualify after <strong>six months</strong> of service.</p>
<ac:structured-macro ac:name="info" ac:schema-version="1">
  <ac:parameter ac:name="title">PARAMETER-NOISE</ac:parameter>
  <ac:rich-text-body><p>Tell your manager eight weeks ahead.</p></ac:rich-text-body>
</ac:structured-macro>
<h3>Paperwork</h3>
<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">text</ac:parameter>
<ac:plain-text-body><![CDATA[Form PL-2 < 30 days]]></ac:plain-text-body></ac:structured-macro>
<p><ac:image><ri:attachment ri:filename="diagram.png" /></ac:image>See
<ac:link><ri:page ri:content-title="Leave calendar" /></ac:link>.</p>
"""


@pytest.fixture
def fake() -> Iterator[FakeConfluence]:
    with fake_confluence() as running:
        running.add_space("HR", "Human Resources")
        running.add_space("PEOPLE", "People Team")
        yield running


def connect(fake: FakeConfluence, sleeps: list[float] | None = None, **settings: Any) -> ConfluenceConnector:
    config = {"url": fake.cloud_url, "spaces": "HR,PEOPLE", "email": fake.email, **settings}
    connector = ConfluenceConnector.from_settings(config, env={"HRBOT_CONFLUENCE_TOKEN": fake.token}, state={})
    connector.client.sleep = (sleeps if sleeps is not None else []).append
    return connector


def items(batches: Iterable[Batch]) -> list[SourceDocument | SkippedDocument]:
    return [item for batch in batches for item in batch]


def documents(batches: Iterable[Batch]) -> list[SourceDocument]:
    found = items(batches)
    assert all(isinstance(i, SourceDocument) for i in found), found
    return [i for i in found if isinstance(i, SourceDocument)]


# --- full load, poll, list ------------------------------------------------------------------------


def test_load_all_follows_pagination_across_two_spaces(fake: FakeConfluence) -> None:
    fake.max_limit = 2
    hr = [fake.add_page("HR", f"HR policy {n}", f"<p>hr body {n}</p>") for n in range(5)]
    people = [fake.add_page("PEOPLE", f"People page {n}", f"<p>people body {n}</p>") for n in range(3)]
    connector = connect(fake)

    docs = documents(connector.load_all())

    assert [d.path for d in docs] == [f"HR/{p.id}" for p in hr] + [f"PEOPLE/{p.id}" for p in people]
    first = docs[0]
    assert first.format == ".html" and first.version == "1" and first.modified_at == T0
    assert first.origin == connector.origin == f"confluence:{fake.cloud_url}"
    assert first.uri == f"{fake.cloud_url}/spaces/HR/pages/{hr[0].id}/HR+policy+0"
    assert b"hr body 0" in first.data
    listings = fake.of("content")
    assert len(listings) == 3 + 2  # ceil(5/2) + ceil(3/2): the capped limit, followed through _links.next
    assert {r.params["start"] for r in listings if "start" in r.params} == {"2", "4"}
    assert fake.page_fetches() == []  # bodies came with the listing
    assert connector.state["versions"] == {p.id: 1 for p in hr + people}


def test_poll_yields_only_the_edited_page_and_skips_unchanged_versions(fake: FakeConfluence) -> None:
    fake.cql_timezone = timezone(timedelta(hours=-8))  # CQL dates are read in the user's zone
    pages = [fake.add_page("HR", f"Policy {n}", "<p>v1</p>") for n in range(3)]
    connector = connect(fake)
    documents(connector.load_all())
    since = fake.advance(hours=1)
    fake.advance(minutes=30)
    fake.edit_page(pages[1].id, body="<p>v2 text</p>")
    fake.clear()

    polled = documents(connector.poll(since))

    assert [(d.path, d.version) for d in polled] == [(f"HR/{pages[1].id}", "2")]
    assert b"v2 text" in polled[0].data
    assert fake.page_fetches() == [pages[1].id]  # only the changed page's body was fetched
    assert all(r.params["expand"] == "version" for r in fake.of("content/search"))
    assert connector.state["versions"][pages[1].id] == 2

    fake.clear()
    assert items(connector.poll(since)) == []  # same version as last seen: nothing to fetch
    assert fake.page_fetches() == []


def test_poll_catches_an_edit_missed_since_the_last_full_load(fake: FakeConfluence) -> None:
    page = fake.add_page("PEOPLE", "Benefits", "<p>old</p>")
    connector = connect(fake)
    documents(connector.load_all())
    fake.edit_page(page.id, body="<p>new</p>")  # same timestamp as the load: `since` must be inclusive

    polled = documents(connector.poll(T0))

    assert [d.path for d in polled] == [f"PEOPLE/{page.id}"]
    assert b"new" in polled[0].data


def test_list_ids_drops_deleted_and_trashed_pages(fake: FakeConfluence) -> None:
    keep = fake.add_page("HR", "Keep", "<p>k</p>")
    gone = fake.add_page("HR", "Gone", "<p>g</p>")
    trashed = fake.add_page("PEOPLE", "Trashed", "<p>t</p>")
    connector = connect(fake)
    assert connector.list_ids() == {f"HR/{keep.id}", f"HR/{gone.id}", f"PEOPLE/{trashed.id}"}

    fake.delete_page(gone.id)
    fake.trash_page(trashed.id)

    assert connector.list_ids() == {f"HR/{keep.id}"}
    assert all("expand" not in r.params for r in fake.of("content"))  # ids only: no bodies listed


# --- documents ------------------------------------------------------------------------------------


def test_labels_and_ancestors_become_meta_and_audience(fake: FakeConfluence) -> None:
    parent = fake.add_page("HR", "Policies", "<p>index</p>")
    child = fake.add_page("HR", "Germany", "<p>de</p>", parent=parent.id)
    labels = ["country-de", "entity-acme-gmbh", "employment-full-time", "onboarding", "country-atlantis"]
    page = fake.add_page("HR", "Parental leave", POLICY, labels=labels, parent=child.id)
    connector = connect(fake, spaces="HR", entity_names={"acme-gmbh": "Acme GmbH"})

    doc = next(d for d in documents(connector.load_all()) if d.path == f"HR/{page.id}")

    assert doc.meta == {
        "country": ["DE"],
        "entity": ["Acme GmbH"],
        "employment_type": ["full_time"],
        "labels": ["onboarding", "country-atlantis"],
        "space": "HR",
        "ancestors": ["Policies", "Germany"],
    }
    audience = resolve_audience(doc.meta, "Parental leave", doc.path)
    assert (audience.countries, audience.entities, audience.employment_types) == (
        ("DE",),
        ("Acme GmbH",),
        ("full_time",),
    )


def test_page_html_converts_with_headings_and_macro_text(fake: FakeConfluence) -> None:
    page = fake.add_page("HR", "Parental leave", POLICY)
    doc = documents(connect(fake, spaces=["HR"]).load_all())[0]

    parsed = convert(doc.data, doc.path, fmt=doc.format)

    assert parsed.title == "Parental leave"
    by_heading = {s.headings: s.text for s in parsed.sections}
    assert "paid parental leave" in by_heading[()]
    assert "six months" in by_heading[("Eligibility",)]
    assert "Tell your manager eight weeks ahead." in by_heading[("Eligibility",)]
    paperwork = by_heading[("Eligibility", "Paperwork")]
    assert "Form PL-2 < 30 days" in paperwork and "Leave calendar" in paperwork
    text = " ".join(by_heading.values())
    assert "PARAMETER-NOISE" not in text and "diagram.png" not in text
    assert doc.path == f"HR/{page.id}"


def test_storage_format_links_tasks_and_layouts_reduce_to_html() -> None:
    body = storage_to_body(
        '<ac:layout><ac:layout-section ac:type="single"><ac:layout-cell><p>In a cell '
        '<ac:link><ri:page ri:content-title="Other" /><ac:plain-text-link-body><![CDATA[the link]]>'
        "</ac:plain-text-link-body></ac:link></p></ac:layout-cell></ac:layout-section></ac:layout>"
        "<ac:task-list><ac:task><ac:task-id>7</ac:task-id><ac:task-status>incomplete</ac:task-status>"
        '<ac:task-body>Sign the form</ac:task-body></ac:task></ac:task-list><p>Due <time datetime="2024-05-01" /></p>'
    )
    assert "ac:" not in body and "ri:" not in body
    assert "<p>In a cell <span>the link</span></p>" in body
    assert "<ul><li>Sign the form</li></ul>" in body
    assert "2024-05-01</time>" in body


# --- failures -------------------------------------------------------------------------------------


def test_429_is_retried_after_the_retry_after_header(fake: FakeConfluence) -> None:
    fake.add_page("HR", "Leave", "<p>x</p>")
    fake.rate_limit("content", retry_after=3, times=2)
    sleeps: list[float] = []

    docs = documents(connect(fake, sleeps, spaces="HR").load_all())

    assert len(docs) == 1
    assert sleeps == [3.0, 3.0]
    assert len(fake.of("content")) == 3


def test_5xx_on_a_listing_after_retries_is_a_connector_error(fake: FakeConfluence) -> None:
    fake.add_page("HR", "Leave", "<p>x</p>")
    fake.fail("content", 503, times=None)
    connector = connect(fake)

    with pytest.raises(ConnectorError) as raised:
        list(connector.load_all())
    assert not isinstance(raised.value, ConnectorAuthError)
    assert len(fake.of("content")) == connector.client.retries + 1


def test_expired_or_wrong_token_is_an_auth_error(fake: FakeConfluence) -> None:
    fake.add_page("HR", "Leave", "<p>x</p>")
    fake.expired = True
    with pytest.raises(ConnectorAuthError):
        list(connect(fake).load_all())

    fake.expired = False
    wrong = ConfluenceConnector.from_settings(
        {"url": fake.cloud_url, "spaces": "HR", "email": fake.email},
        env={"HRBOT_CONFLUENCE_TOKEN": "not-the-token"},
        state={},
    )
    with pytest.raises(ConnectorAuthError):
        wrong.list_ids()
    assert len(fake.requests) == 2  # 401 is not retried


def test_a_page_whose_body_fetch_fails_is_skipped_and_retried_next_poll(fake: FakeConfluence) -> None:
    broken, fine = fake.add_page("HR", "Broken", "<p>b1</p>"), fake.add_page("HR", "Fine", "<p>f1</p>")
    connector = connect(fake)
    documents(connector.load_all())
    since = fake.advance(hours=1)
    fake.edit_page(broken.id, body="<p>b2</p>")
    fake.edit_page(fine.id, body="<p>f2</p>")
    fake.fail(f"page:{broken.id}", 500, times=None)

    found = items(connector.poll(since))

    skipped = [i for i in found if isinstance(i, SkippedDocument)]
    assert [i.path for i in found if isinstance(i, SourceDocument)] == [f"HR/{fine.id}"]
    assert [s.path for s in skipped] == [f"HR/{broken.id}"] and "500" in skipped[0].reason
    assert connector.state["retry"] == [f"HR/{broken.id}"]
    assert connector.state["versions"][broken.id] == 1  # not recorded as seen

    fake.failures.clear()
    later = fake.advance(hours=1)  # the broken page's edit is before this `since`; the retry list recalls it
    retried = documents(connector.poll(later))
    assert [(d.path, d.version) for d in retried] == [(f"HR/{broken.id}", "2")]
    assert connector.state["retry"] == []


def test_fetch_yields_named_pages_and_leaves_out_missing_ones(fake: FakeConfluence) -> None:
    hr = fake.add_page("HR", "Leave", "<p>x</p>")
    other = fake.add_page("FINANCE", "Expenses", "<p>y</p>")
    gone = fake.add_page("PEOPLE", "Gone", "<p>z</p>")
    connector = connect(fake)
    fake.delete_page(gone.id)

    docs = documents(connector.fetch([hr.id, "999999", other.id, f"PEOPLE/{gone.id}"]))

    assert [d.path for d in docs] == [f"HR/{hr.id}"]
    assert sorted(fake.page_fetches()) == sorted([hr.id, "999999", other.id, gone.id])


# --- Data Center, settings, webhooks --------------------------------------------------------------


def test_datacenter_layout_with_a_bearer_token(fake: FakeConfluence) -> None:
    fake.max_limit = 1
    pages = [fake.add_page("HR", f"DC page {n}", "<p>dc</p>", labels=["country-gb"]) for n in range(2)]
    connector = registry.build(
        "confluence",
        {"url": fake.datacenter_url, "spaces": ["HR"], "deployment": "datacenter", "token_env": "DC_PAT"},
        env={"DC_PAT": fake.token},
    )

    docs = documents(connector.load_all())

    assert [d.path for d in docs] == [f"HR/{p.id}" for p in pages]
    assert docs[0].uri == f"{fake.root}/display/HR/DC+page+0"
    assert docs[0].modified_at == T0 and docs[0].meta["country"] == ["GB"]
    assert {(r.layout, r.authorization) for r in fake.requests} == {("datacenter", f"Bearer {fake.token}")}
    assert len(fake.of("content")) == 2


def test_cloud_layout_sends_basic_auth_and_cursor_pages_of_search(fake: FakeConfluence) -> None:
    fake.max_limit = 1
    pages = [fake.add_page("HR", f"Page {n}", "<p>x</p>") for n in range(3)]
    connector = connect(fake, spaces="HR")

    polled = documents(connector.poll(T0 - timedelta(minutes=1)))

    assert [d.path for d in polled] == [f"HR/{p.id}" for p in pages]
    searches = fake.of("content/search")
    assert len(searches) == 3 and "cursor" in searches[1].params
    assert all(r.layout == "cloud" and (r.authorization or "").startswith("Basic ") for r in fake.requests)


@pytest.mark.parametrize(
    ("settings", "env", "message"),
    [
        ({"spaces": "HR", "email": "a@b.c"}, {"HRBOT_CONFLUENCE_TOKEN": "t"}, "'url'"),
        ({"url": "https://x.atlassian.net/wiki", "email": "a@b.c"}, {"HRBOT_CONFLUENCE_TOKEN": "t"}, "'spaces'"),
        ({"url": "https://x.atlassian.net/wiki", "spaces": "HR", "email": "a@b.c"}, {}, "HRBOT_CONFLUENCE_TOKEN"),
        ({"url": "https://x.atlassian.net/wiki", "spaces": "HR"}, {"HRBOT_CONFLUENCE_TOKEN": "t"}, "'email'"),
        ({"url": "x.atlassian.net", "spaces": "HR", "email": "a@b.c"}, {"HRBOT_CONFLUENCE_TOKEN": "t"}, "http"),
        ({"url": "https://c.acme.com", "spaces": "HR", "deployment": "onprem"}, {"HRBOT_CONFLUENCE_TOKEN": "t"}, "dep"),
        ({"url": "https://c.acme.com", "spaces": " , ", "deployment": "dc"}, {"HRBOT_CONFLUENCE_TOKEN": "t"}, "space"),
    ],
)
def test_incomplete_settings_are_config_errors(settings: dict[str, Any], env: dict[str, str], message: str) -> None:
    with pytest.raises(ConnectorConfigError, match=message):
        ConfluenceConnector.from_settings(settings, env=env, state={})


def test_settings_are_normalised() -> None:
    connector = ConfluenceConnector.from_settings(
        {"url": "https://acme.atlassian.net/", "spaces": "HR, PEOPLE,HR", "email": "bot@acme.com"},
        env={"HRBOT_CONFLUENCE_TOKEN": "t"},
        state={"versions": {"1": 3}},
    )
    assert connector.url == "https://acme.atlassian.net/wiki"
    assert connector.spaces == ("HR", "PEOPLE")
    assert connector.deployment == "cloud"
    assert connector.state["versions"] == {"1": 3}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (  # Data Center
            {"event": "page_updated", "timestamp": 1, "page": {"id": 1234, "spaceKey": "HR", "title": "Leave"}},
            ConfluenceWebhookEvent("page_updated", "1234", "HR", removed=False),
        ),
        (
            {"event": "page_trashed", "page": {"id": "77", "spaceKey": "PEOPLE"}},
            ConfluenceWebhookEvent("page_trashed", "77", "PEOPLE", removed=True),
        ),
        (  # Cloud
            {"webhookEvent": "page_removed", "page": {"id": 55, "spaceKey": "HR", "version": 4}},
            ConfluenceWebhookEvent("page_removed", "55", "HR", removed=True),
        ),
        (
            {"eventType": "page_created", "page": {"id": "9", "spaceKey": "HR"}, "userAccountId": "x"},
            ConfluenceWebhookEvent("page_created", "9", "HR", removed=False),
        ),
        (  # Forge product event
            {"eventType": "avi:confluence:restored:page", "content": {"id": "5", "space": {"key": "HR"}}},
            ConfluenceWebhookEvent("page_restored", "5", "HR", removed=False),
        ),
        ({"event": "space_created", "space": {"key": "HR"}}, None),
        ({"event": "comment_created", "page": {"id": "1", "spaceKey": "HR"}}, None),
        ({"event": "page_updated", "page": {"spaceKey": "HR"}}, None),
        ({"timestamp": 1}, None),
    ],
)
def test_parse_webhook(payload: dict[str, Any], expected: ConfluenceWebhookEvent | None) -> None:
    assert parse_webhook(payload) == expected


def test_poll_treats_a_naive_since_as_utc(fake: FakeConfluence) -> None:
    page = fake.add_page("HR", "Leave", "<p>x</p>")
    connector = connect(fake, spaces="HR")
    naive = (T0 + timedelta(minutes=1)).astimezone(UTC).replace(tzinfo=None)
    assert items(connector.poll(naive)) == []
    assert [d.path for d in documents(connector.poll(naive - timedelta(minutes=2)))] == [f"HR/{page.id}"]
