"""The SharePoint/OneDrive connector against a fake Microsoft Graph on loopback (no database)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from connectors.base import (
    Batch,
    ConnectorAuthError,
    ConnectorConfigError,
    ConnectorError,
    ListConnector,
    LoadConnector,
    PollConnector,
    SkippedDocument,
    SourceDocument,
)
from connectors.graph import GraphDriveConnector, GraphNotification, parse_notifications, validation_response
from connectors.registry import build
from retrieval.converters import convert
from tests.fakes.graph_api import FakeGraph, fake_graph

ENV = {"HRBOT_GRAPH_CLIENT_SECRET": "s3cret"}
SINCE = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with fake_graph() as fake:
        yield fake


def connect(fake: FakeGraph, state: dict[str, Any] | None = None, **settings: Any) -> GraphDriveConnector:
    connector = build("sharepoint", fake.settings(**settings), state=state, env=ENV)
    assert isinstance(connector, GraphDriveConnector)
    connector.http.sleep = lambda seconds: None
    return connector


def flat(batches: Iterable[Batch]) -> list[SourceDocument | SkippedDocument]:
    return [item for batch in batches for item in batch]


def docs(batches: Iterable[Batch]) -> dict[str, SourceDocument]:
    return {d.path: d for d in flat(batches) if isinstance(d, SourceDocument)}


def seed(fake: FakeGraph) -> None:
    fake.put("HR Policies/Time off.md", b"# Time off\n\n25 days a year.\n")
    fake.put("HR Policies/Benefits/Parental leave.md", b"# Parental leave\n\n16 weeks paid.\n")
    fake.put("HR Policies/Benefits/Dental.md", b"# Dental\n\nCovered.\n")
    fake.put("HR Policies/Budget.xlsx", b"PK\x03\x04 not really")
    fake.put("Finance/Invoices.md", b"# Invoices\n\nNot HR.\n")


def test_full_load_across_pages(graph: FakeGraph) -> None:
    seed(graph)
    connector = connect(graph)
    assert isinstance(connector, LoadConnector)
    assert isinstance(connector, PollConnector)
    assert isinstance(connector, ListConnector)

    found = docs(connector.load_all())

    assert set(found) == {
        "HR Policies/Time off.md",
        "HR Policies/Benefits/Parental leave.md",
        "HR Policies/Benefits/Dental.md",
        "Finance/Invoices.md",
    }
    assert len(graph.of("delta")) >= 3  # page_size 3: the round crossed pages
    doc = found["HR Policies/Benefits/Parental leave.md"]
    assert doc.data == b"# Parental leave\n\n16 weeks paid.\n"
    assert doc.origin == connector.origin == f"graph:{graph.drive_id}"
    assert doc.uri.startswith("https://contoso.sharepoint.com/") and doc.uri.endswith("Parental%20leave.md")
    assert doc.version and doc.version.startswith('"c:')
    assert doc.modified_at is not None and doc.modified_at.tzinfo is not None
    assert doc.meta == {"graph_item_id": graph.id_of("HR Policies/Benefits/Parental leave.md")}
    assert connector.state["delta_link"].startswith(graph.graph_url)
    assert all(r.status == 302 for r in graph.of("content")) and len(graph.of("download")) == 4


def test_folder_scope_and_unsupported_files(graph: FakeGraph) -> None:
    seed(graph)
    connector = connect(graph, folder="/HR Policies")

    found = docs(connector.load_all())

    assert set(found) == {"Time off.md", "Benefits/Parental leave.md", "Benefits/Dental.md"}
    assert connector.origin == f"graph:{graph.drive_id}:/HR Policies"
    assert connector.list_ids() == set(found)
    reporting = connect(graph, folder="HR Policies/Benefits", include_unsupported="true")
    assert {d.path for d in flat(reporting.load_all())} == {"Parental leave.md", "Dental.md"}
    everything = connect(graph, folder="HR Policies", include_unsupported="true")
    skipped = [d for d in flat(everything.load_all()) if isinstance(d, SkippedDocument)]
    assert [(s.path, s.reason) for s in skipped] == [("Budget.xlsx", "unsupported file type .xlsx")]
    assert "Budget.xlsx" in everything.list_ids()
    assert not any(r.path.endswith(f"/{graph.id_of('HR Policies/Budget.xlsx')}/content") for r in graph.requests)


def test_poll_returns_only_the_edited_file(graph: FakeGraph) -> None:
    seed(graph)
    first = connect(graph)
    list(first.load_all())
    graph.put("HR Policies/Time off.md", b"# Time off\n\n27 days a year.\n")

    connector = connect(graph, state=json.loads(json.dumps(first.state)))  # the state survives JSON
    changed = docs(connector.poll(SINCE))

    assert list(changed) == ["HR Policies/Time off.md"]
    assert changed["HR Policies/Time off.md"].data.endswith(b"27 days a year.\n")
    assert connector.state["delta_link"] != first.state["delta_link"]
    assert docs(connector.poll(SINCE)) == {}  # nothing changed since


def test_delete_is_not_yielded_but_leaves_list_ids(graph: FakeGraph) -> None:
    seed(graph)
    connector = connect(graph)
    list(connector.load_all())
    graph.delete(graph.id_of("HR Policies/Benefits/Dental.md"))
    rounds_before = len(graph.of("delta"))

    ids = connector.list_ids()
    polled = flat(connector.poll(SINCE))

    assert polled == []
    assert "HR Policies/Benefits/Dental.md" not in ids
    assert "HR Policies/Benefits/Parental leave.md" in ids
    assert len(graph.of("delta")) == rounds_before + 1  # one page of changes; poll reused list_ids' round
    graph.delete(graph.id_of("HR Policies/Benefits"))
    assert connector.list_ids() == {"HR Policies/Time off.md", "Finance/Invoices.md"}


def test_renames_read_the_files_under_their_new_path(graph: FakeGraph) -> None:
    seed(graph)
    connector = connect(graph)
    list(connector.load_all())
    graph.rename(graph.id_of("HR Policies/Benefits"), "Perks")  # delta reports the folder only

    assert set(docs(connector.poll(SINCE))) == {"HR Policies/Perks/Parental leave.md", "HR Policies/Perks/Dental.md"}
    graph.rename(graph.id_of("Finance/Invoices.md"), "Invoices 2024.md")  # a new eTag, the same cTag
    assert set(docs(connector.poll(SINCE))) == {"Finance/Invoices 2024.md"}
    assert connector.list_ids() == {
        "HR Policies/Time off.md",
        "HR Policies/Perks/Parental leave.md",
        "HR Policies/Perks/Dental.md",
        "Finance/Invoices 2024.md",
    }


def test_expired_delta_link_falls_back_to_a_full_round(graph: FakeGraph) -> None:
    seed(graph)
    connector = connect(graph)
    list(connector.load_all())
    graph.put("HR Policies/Time off.md", b"# Time off\n\nchanged\n")
    graph.expire_delta_links()

    polled = docs(connector.poll(SINCE))

    assert 410 in [r.status for r in graph.of("delta")]
    assert len(polled) == 4 and polled["HR Policies/Time off.md"].data.endswith(b"changed\n")
    assert docs(connector.poll(SINCE)) == {}  # the new link works


def test_token_refused_mid_run_is_fetched_again(graph: FakeGraph) -> None:
    seed(graph)
    connector = connect(graph)
    list(connector.load_all())
    graph.put("Finance/Invoices.md", b"# Invoices\n\nv2\n")
    graph.expire_tokens()

    assert list(docs(connector.poll(SINCE))) == ["Finance/Invoices.md"]
    assert len(graph.of("token")) == 2
    assert [r.status for r in graph.of("delta")].count(401) == 1


def test_token_refreshed_before_it_expires(graph: FakeGraph) -> None:
    graph.token_lifetime = 60
    graph.put("a.md", b"# A\n")
    connector = connect(graph)
    clock = [1000.0]
    connector.credentials.clock = lambda: clock[0]
    assert connector.list_ids() == {"a.md"}
    assert connector.list_ids() == {"a.md"}
    assert len(graph.of("token")) == 1  # cached
    clock[0] += 58  # within the refresh margin

    assert connector.list_ids() == {"a.md"}
    assert len(graph.of("token")) == 2
    assert all(r.status != 401 for r in graph.requests)


def test_second_401_is_an_auth_error(graph: FakeGraph) -> None:
    graph.put("a.md", b"# A\n")
    connector = connect(graph)
    graph.fail("delta", 401, times=2)
    with pytest.raises(ConnectorAuthError, match="401"):
        connector.list_ids()
    assert len(graph.of("token")) == 2


def test_bad_secret_is_an_auth_error_with_the_aad_text(graph: FakeGraph) -> None:
    graph.put("a.md", b"# A\n")
    graph.client_secret = "rotated"
    connector = connect(graph)
    with pytest.raises(ConnectorAuthError, match=r"invalid_client: AADSTS7000215: Invalid client secret"):
        list(connector.load_all())
    assert graph.of("delta") == []
    wrong_tenant = connect(graph, tenant_id="other")
    with pytest.raises(ConnectorAuthError, match="Tenant not found"):
        wrong_tenant.list_ids()


def test_missing_settings_are_config_errors(graph: FakeGraph) -> None:
    with pytest.raises(ConnectorConfigError, match="HRBOT_GRAPH_CLIENT_SECRET"):
        build("sharepoint", graph.settings(), env={})
    with pytest.raises(ConnectorConfigError, match="drive_id"):
        build("sharepoint", {**graph.settings(), "drive_id": ""}, env=ENV)
    connector = build("sharepoint", graph.settings(client_secret_env="MY_SECRET"), env={"MY_SECRET": "s3cret"})
    assert connector.list_ids() == set()


def test_site_id_uses_the_sites_default_drive(graph: FakeGraph) -> None:
    graph.put("a.md", b"# A\n")
    settings = {**graph.settings(), "drive_id": None, "site_id": graph.site_id}
    connector = build("sharepoint", settings, env=ENV)
    assert connector.origin == f"graph:site:{graph.site_id}"
    assert set(docs(connector.load_all())) == {"a.md"}
    assert len(graph.of("drive")) == 1


def test_429_retry_after_is_honoured(graph: FakeGraph) -> None:
    graph.put("a.md", b"# A\n")
    connector = connect(graph)
    sleeps: list[float] = []
    connector.http.sleep = sleeps.append
    graph.fail("delta", 429, retry_after=1)
    graph.fail("content", 503, retry_after=0)

    assert set(docs(connector.load_all())) == {"a.md"}
    assert sleeps == [1.0, 0.0]
    assert [r.status for r in graph.of("delta")] == [429, 200]


def test_failing_download_is_skipped_and_retried_next_poll(graph: FakeGraph) -> None:
    seed(graph)
    connector = connect(graph)
    graph.fail(f"content:{graph.id_of('HR Policies/Time off.md')}", 404)
    graph.fail(f"content:{graph.id_of('Finance/Invoices.md')}", 503, times=10)

    items = flat(connector.load_all())

    skipped = {s.path: s.reason for s in items if isinstance(s, SkippedDocument)}
    assert set(skipped) == {"HR Policies/Time off.md", "Finance/Invoices.md"}
    assert "404" in skipped["HR Policies/Time off.md"] and "503" in skipped["Finance/Invoices.md"]
    assert {d.path for d in items if isinstance(d, SourceDocument)} == {
        "HR Policies/Benefits/Parental leave.md",
        "HR Policies/Benefits/Dental.md",
    }
    graph.failures.clear()  # the outage is over: the next poll reads what it could not
    assert set(docs(connector.poll(SINCE))) == {"HR Policies/Time off.md", "Finance/Invoices.md"}


def test_downloaded_pdf_docx_md_convert(graph: FakeGraph, sample_policies: Path) -> None:
    names = ["de-employee-handbook.pdf", "sick-leave-policy.docx", "time-off-policy.md"]
    for name in names:
        graph.put(f"Policies/{name}", (sample_policies / name).read_bytes())
    connector = connect(graph, folder="Policies")

    found = docs(connector.load_all())

    assert set(found) == set(names)
    for doc in found.values():
        parsed = convert(doc.data, doc.path, fmt=doc.format)
        assert parsed.sections and sum(len(s.text) for s in parsed.sections) > 200, doc.path


def test_validation_response_and_parse_notifications() -> None:
    assert validation_response({"validationToken": "Validation: Testing 1 2"}) == "Validation: Testing 1 2"
    assert validation_response({}) is None
    body = {
        "value": [
            {"subscriptionId": "s1", "clientState": "ours", "changeType": "updated", "resource": "drives/d/root"},
            {"subscriptionId": "s2", "clientState": "forged", "changeType": "updated", "resource": "drives/d/root"},
            {"subscriptionId": "s3", "changeType": "updated", "resource": "drives/d/root"},
            "junk",
        ]
    }
    assert parse_notifications(body, client_state="ours") == [GraphNotification("s1", "drives/d/root", "updated")]
    assert parse_notifications({}, client_state="ours") == []


class _Receiver:
    """A notification endpoint built on validation_response and parse_notifications."""

    def __init__(self, client_state: str) -> None:
        self.received: list[GraphNotification] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/graph/notify":
                    self.send_error(404)
                    return
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                echo = validation_response(dict(parse_qsl(parts.query)))
                if echo is None:
                    receiver.received += parse_notifications(json.loads(raw or b"{}"), client_state=client_state)
                data = (echo or "").encode()
                self.send_response(200 if echo is not None else 202)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/graph/notify"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_subscribe_validates_the_endpoint_and_notifications_arrive(graph: FakeGraph) -> None:
    receiver = _Receiver("s3cret-state")
    try:
        connector = connect(graph)
        subscription_id = connector.subscribe(receiver.url, "s3cret-state", minutes=60)

        [sub] = graph.subscriptions
        assert sub["id"] == subscription_id
        assert sub["resource"] == f"drives/{graph.drive_id}/root" and sub["changeType"] == "updated"
        assert sub["clientState"] == "s3cret-state" and sub["notificationUrl"] == receiver.url
        assert datetime.fromisoformat(sub["expirationDateTime"]) > datetime.now(UTC)
        assert graph.notify() == [202]
        assert receiver.received == [GraphNotification(subscription_id, f"drives/{graph.drive_id}/root", "updated")]
        graph.subscriptions[0]["clientState"] = "forged"
        graph.notify()
        assert len(receiver.received) == 1
        with pytest.raises(ConnectorError, match="400"):
            connector.subscribe(receiver.url + "-nowhere-that-echoes", "x")  # validation fails -> 400
    finally:
        receiver.close()


def test_state_advances_only_when_every_batch_was_produced(graph: FakeGraph) -> None:
    seed(graph)
    connector = connect(graph)
    connector.batch_size = 1
    batches = connector.load_all()
    assert graph.of("delta") == []  # nothing is read before the caller iterates
    next(batches)
    assert connector.state == {}
    rest = list(batches)
    assert len(rest) == 3 and connector.state["delta_link"]
    assert {node["name"] for node in connector.state["items"].values()} >= {"Benefits", "Dental.md"}
