"""The change webhooks (``hrbot serve webhooks``) against the real PostgreSQL, the real model, the fake
Confluence and the fake Microsoft Graph, with the in-process dispatcher (no Redis).

A changed page is searchable a few seconds after its webhook; only what changed is fetched; forged
requests change nothing; notifications for a busy source are merged into one follow-up sync."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli.main import app as cli
from connectors import registry
from hr.db import shared_engine, unit_of_work
from retrieval.models import Chunk, Document
from retrieval.pipeline import SearchService
from tests.fakes.confluence_api import FakeConfluence, fake_confluence
from tests.fakes.graph_api import FakeGraph, fake_graph
from workers import store
from workers.sync import Syncer
from workers.webhook_dispatch import InProcessDispatcher
from workers.webhooks import WebhookApp, make_webhook_server, sign, valid_signature

SECRET = "whsec-3f9a1c"
FIRST_BODY = "<p>Employees may work remotely up to two days a week after probation.</p>"
NEW_TEXT = "sourdough starters may be kept in the office fridge on Fridays"


class GatedRunner:
    """The real Syncer behind a gate that a test can close to hold a sync while more requests arrive."""

    def __init__(self, inner: Syncer) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.gate.set()
        self.calls: list[tuple[Any, list[str] | None]] = []

    def sync(self, source_ref: Any, *, trigger: str = "webhook", page_ids: list[str] | None = None) -> Any:
        self.calls.append((source_ref, page_ids))
        assert self.gate.wait(20), "the test never opened the gate"
        return self.inner.sync(source_ref, trigger=trigger, page_ids=page_ids)


@dataclass
class Hooks:
    url: str
    dispatcher: InProcessDispatcher
    runner: GatedRunner

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", content=body, headers=headers or {}, timeout=10)

    def confluence(self, source: str, payload: dict[str, Any], *, secret: str = SECRET) -> httpx.Response:
        body = json.dumps(payload).encode()
        return self.post(f"/webhooks/confluence/{source}", body, {"X-Hub-Signature": sign(secret, body)})


@pytest.fixture
def hook_settings(settings):
    return settings.model_copy(update={"webhook_secret": SecretStr(SECRET)})


@pytest.fixture
def syncer(hook_settings, sessions, database_url, embed) -> Syncer:
    return Syncer(hook_settings, shared_engine(database_url), sessions, embed=embed)


@pytest.fixture
def hooks(hook_settings, sessions, syncer) -> Iterator[Hooks]:
    runner = GatedRunner(syncer)
    dispatcher = InProcessDispatcher(runner, retry_delays=(0.2, 0.5))
    dispatcher.start()
    server = make_webhook_server(
        WebhookApp(hook_settings, sessions, dispatcher, max_body=4096), host="127.0.0.1", port=0
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Hooks(f"http://127.0.0.1:{server.server_port}", dispatcher, runner)
    finally:
        runner.gate.set()
        server.shutdown()
        server.server_close()
        dispatcher.close(timeout=20)


def add_source(sessions, name: str, kind: str, settings: dict[str, Any]) -> int:
    with unit_of_work(sessions) as session:
        return store.add_source(session, name, kind, settings, None).id


def runs(sessions, source_id: int) -> list[Any]:
    with sessions() as session:
        return list(reversed(store.recent_runs(session, source_id, limit=50)))


def searchable(sessions, text: str) -> list[str]:
    """Paths of the documents in search whose current chunks hold ``text``."""
    with sessions() as session:
        query = (
            select(Document.path)
            .join(Chunk, Chunk.document_id == Document.id)
            .where(Chunk.is_current, Document.removed_at.is_(None), Chunk.body.contains(text))
            .distinct()
        )
        return list(session.scalars(query))


def wait_for(check: Callable[[], Any], timeout: float = 15.0) -> float:
    """Seconds until ``check()`` is true."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not true after {timeout}s")


# --- Confluence ----------------------------------------------------------------------------------


@pytest.fixture
def wiki(sessions, syncer, monkeypatch) -> Iterator[tuple[FakeConfluence, int]]:
    with fake_confluence() as fake:
        monkeypatch.setenv("HRBOT_CONFLUENCE_TOKEN", fake.token)
        fake.add_page("HR", "Remote work", FIRST_BODY)
        fake.add_page("HR", "Parental leave", "<p>Birth parents get sixteen weeks of paid parental leave.</p>")
        fake.add_page("HR", "Expenses", "<p>Submit travel expenses within thirty days with receipts.</p>")
        settings = {"url": fake.cloud_url, "spaces": ["HR"], "email": fake.email}
        source_id = add_source(sessions, "wiki", "confluence", settings)
        first = syncer.sync("wiki", trigger="cli", full=True)
        assert (first.status, first.counts["new"]) == ("succeeded", 3), first.summary()
        fake.clear()
        yield fake, source_id


def page_event(event: str, page_id: str, space: str = "HR") -> dict[str, Any]:
    return {"event": event, "timestamp": 1710000000000, "page": {"id": page_id, "spaceKey": space, "title": "x"}}


def test_updated_page_is_searchable_within_seconds_and_only_it_is_fetched(
    hooks, wiki, sessions, hook_settings, database_url
) -> None:
    fake, source_id = wiki
    page = next(p for p in fake.pages.values() if p.title == "Remote work")
    fake.edit_page(page.id, body=f"{FIRST_BODY}<p>Good news: {NEW_TEXT}.</p>")

    posted = time.monotonic()
    answer = hooks.confluence("wiki", page_event("page_updated", page.id))
    assert answer.status_code == 202 and answer.json() == {"status": "accepted", "sync": "pages"}
    waited = wait_for(lambda: searchable(sessions, NEW_TEXT))
    assert time.monotonic() - posted < 5 and waited < 5

    assert searchable(sessions, NEW_TEXT) == [f"HR/{page.id}"]
    assert fake.page_fetches() == [page.id]  # that page alone: no listing, no CQL search
    assert not fake.of("content") and not fake.of("content/search")
    wait_for(lambda: runs(sessions, source_id)[-1].status != "running")  # the run closes after the write
    last = runs(sessions, source_id)[-1]
    assert (last.trigger, last.mode, last.status) == ("webhook", "pages", "succeeded")
    assert last.counts["changed"] == 1

    results = SearchService(hook_settings, database_url).search("can I keep my sourdough starter at work", k=3)
    assert results.results[0].path == f"HR/{page.id}" and "sourdough" in results.results[0].text


def test_forged_or_malformed_confluence_webhooks_change_nothing(hooks, wiki, sessions) -> None:
    fake, source_id = wiki
    page = next(p for p in fake.pages.values() if p.title == "Remote work")
    fake.edit_page(page.id, body=f"<p>{NEW_TEXT}</p>")
    body = json.dumps(page_event("page_updated", page.id)).encode()

    assert hooks.post("/webhooks/confluence/wiki", body).status_code == 401  # no signature
    forged = {"X-Hub-Signature": sign("not-the-secret", body)}
    assert hooks.post("/webhooks/confluence/wiki", body, forged).status_code == 401
    tampered = {"X-Hub-Signature": sign(SECRET, body)}
    assert hooks.post("/webhooks/confluence/wiki", body.replace(b"x", b"y"), tampered).status_code == 401
    bad_json = b"{not json"
    assert (
        hooks.post("/webhooks/confluence/wiki", bad_json, {"X-Hub-Signature": sign(SECRET, bad_json)}).status_code
        == 400
    )
    assert hooks.confluence("nowhere", page_event("page_updated", page.id)).status_code == 404
    assert hooks.post("/webhooks/graph/wiki", b"{}").status_code == 404  # a confluence source is not a drive
    ignored = hooks.confluence("wiki", {"event": "comment_created", "comment": {"id": "9"}})
    assert ignored.status_code == 202 and ignored.json()["status"] == "ignored"
    big = json.dumps({**page_event("page_updated", page.id), "pad": "x" * 5000}).encode()
    assert hooks.post("/webhooks/confluence/wiki", big, {"X-Hub-Signature": sign(SECRET, big)}).status_code == 413

    assert hooks.dispatcher.wait_idle(5)
    assert hooks.runner.calls == []
    assert [r.trigger for r in runs(sessions, source_id)] == ["cli"]  # only the first full sync
    assert fake.requests == [] and searchable(sessions, NEW_TEXT) == []


def test_removed_page_leaves_search(hooks, wiki, sessions) -> None:
    fake, source_id = wiki
    page = next(p for p in fake.pages.values() if p.title == "Expenses")
    assert searchable(sessions, "travel expenses within thirty days") == [f"HR/{page.id}"]
    fake.delete_page(page.id)

    answer = hooks.confluence("wiki", page_event("page_removed", page.id))
    assert answer.status_code == 202 and answer.json()["sync"] == "changes"
    wait_for(lambda: not searchable(sessions, "travel expenses within thirty days"))
    assert hooks.dispatcher.wait_idle(10)
    last = runs(sessions, source_id)[-1]
    assert (last.trigger, last.mode, last.status, last.counts["removed"]) == ("webhook", "changes", "succeeded", 1)
    with sessions() as session:
        doc = session.scalar(select(Document).where(Document.path == f"HR/{page.id}"))
        assert doc is not None and doc.removed_at is not None
    assert len(searchable(sessions, "sixteen weeks")) == 1  # the other pages stay


# --- Microsoft Graph -----------------------------------------------------------------------------


@pytest.fixture
def drive(sessions, syncer, monkeypatch) -> Iterator[tuple[FakeGraph, int]]:
    with fake_graph() as fake:
        monkeypatch.setenv("HRBOT_GRAPH_CLIENT_SECRET", fake.client_secret)
        fake.put("HR/Remote work.md", b"# Remote work\n\nEmployees may work remotely two days a week.\n")
        fake.put("HR/Sick leave.md", b"# Sick leave\n\nCall your manager before nine on the first day.\n")
        source_id = add_source(sessions, "drive", "sharepoint", fake.settings())
        first = syncer.sync("drive", trigger="cli", full=True)
        assert (first.status, first.counts["new"]) == ("succeeded", 2), first.summary()
        yield fake, source_id


def test_graph_validation_and_the_subscribe_command(hooks, drive, database_url, tmp_path, monkeypatch) -> None:
    fake, _ = drive
    challenge = "Validation: Testing client application reachability for subscription Request-Id: 7 <&>"
    answer = hooks.post(f"/webhooks/graph/drive?{urlencode({'validationToken': challenge})}", b"")
    assert answer.status_code == 200 and answer.text == challenge
    assert answer.headers["content-type"].startswith("text/plain")
    assert hooks.post(f"/webhooks/graph/nowhere?{urlencode({'validationToken': 'x'})}", b"").status_code == 404

    for name, value in {
        "HRBOT_DATABASE_URL": database_url,
        "HRBOT_DATA_DIR": str(tmp_path / "cli"),
        "HRBOT_WEBHOOK_SECRET": SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    done = CliRunner().invoke(cli, ["serve", "graph-subscribe", "drive", "--url", hooks.url, "--minutes", "60"])
    assert done.exit_code == 0, done.output
    [sub] = fake.subscriptions  # Graph validated the URL against our server before creating it
    assert sub["notificationUrl"] == f"{hooks.url}/webhooks/graph/drive" and sub["clientState"] == SECRET
    assert sub["id"] in done.output
    full_url = f"{hooks.url}/webhooks/graph/drive"  # the whole notification URL works too
    again = CliRunner().invoke(cli, ["serve", "graph-subscribe", "drive", "--url", full_url])
    assert again.exit_code == 0, again.output
    assert [s["notificationUrl"] for s in fake.subscriptions] == [full_url, full_url]
    wrong = CliRunner().invoke(cli, ["serve", "graph-subscribe", "nowhere", "--url", hooks.url])
    assert wrong.exit_code == 2


def test_graph_notifications_need_our_client_state_and_are_coalesced(hooks, drive, sessions) -> None:
    fake, source_id = drive
    connector = registry.build("sharepoint", fake.settings(), env={"HRBOT_GRAPH_CLIENT_SECRET": fake.client_secret})
    connector.subscribe(f"{hooks.url}/webhooks/graph/drive", "forged", 60)  # Graph validates it with us first
    connector.close()
    fake.put("HR/Remote work.md", f"# Remote work\n\nEmployees may work remotely. Also, {NEW_TEXT}.\n".encode())
    assert fake.notify() == [202]  # acknowledged, but not from our subscription
    assert hooks.dispatcher.wait_idle(5) and hooks.runner.calls == []
    assert [r.trigger for r in runs(sessions, source_id)] == ["cli"]

    fake.subscriptions[0]["clientState"] = SECRET
    hooks.runner.gate.clear()  # hold the first sync while more notifications arrive
    started = time.monotonic()
    assert fake.notify() == [202]
    wait_for(lambda: len(hooks.runner.calls) == 1)
    assert [fake.notify() for _ in range(5)] == [[202]] * 5  # answered while a sync is running
    assert time.monotonic() - started < 5
    hooks.runner.gate.set()
    wait_for(lambda: searchable(sessions, NEW_TEXT))
    assert hooks.dispatcher.wait_idle(15)

    assert hooks.runner.calls == [(source_id, None), (source_id, None)]  # six notifications, two syncs
    webhook_runs = [r for r in runs(sessions, source_id) if r.trigger == "webhook"]
    assert [(r.mode, r.status) for r in webhook_runs] == [("changes", "succeeded")] * 2
    assert webhook_runs[0].counts["changed"] == 1 and webhook_runs[1].counts["changed"] == 0
    assert searchable(sessions, NEW_TEXT) == ["HR/Remote work.md"]


def test_graph_without_a_secret_is_refused(settings, sessions, drive) -> None:
    dispatcher = InProcessDispatcher(SimpleNamespace(sync=lambda *a, **k: None))
    unset = settings.model_copy(update={"webhook_secret": None})
    webhook_app = WebhookApp(unset, sessions, dispatcher)
    body = json.dumps({"value": [{"clientState": "", "changeType": "updated"}]}).encode()
    answer = webhook_app.graph("drive", query={}, body=body)
    assert answer.status == 503 and b"HRBOT_WEBHOOK_SECRET" in answer.body
    assert webhook_app.graph("drive", query={"validationToken": "abc"}, body=b"").body == b"abc"


def test_healthz(hooks) -> None:
    answer = httpx.get(f"{hooks.url}/healthz", timeout=5)
    assert (answer.status_code, answer.text) == (200, "ok")
    assert httpx.get(f"{hooks.url}/elsewhere", timeout=5).status_code == 404
    hooks.dispatcher.close()
    assert httpx.get(f"{hooks.url}/healthz", timeout=5).status_code == 503


# --- the dispatcher and the signature, without a server --------------------------------------------


class StubRunner:
    """Records the syncs asked for and answers the given statuses in turn (then "succeeded")."""

    def __init__(self, *results: Any) -> None:
        self.results = list(results)
        self.gate = threading.Event()
        self.calls: list[tuple[Any, list[str] | None]] = []

    def sync(self, source_ref: Any, *, trigger: str = "", page_ids: list[str] | None = None) -> Any:
        self.calls.append((source_ref, page_ids))
        assert self.gate.wait(10)
        return self.results.pop(0) if self.results else SimpleNamespace(status="succeeded", retryable=False)


def test_dispatcher_merges_what_arrives_for_a_busy_source() -> None:
    runner = StubRunner()
    dispatcher = InProcessDispatcher(runner, retry_delays=(0.1,))
    dispatcher.start()
    try:
        dispatcher.submit(1)
        wait_for(lambda: len(runner.calls) == 1)
        for _ in range(4):
            dispatcher.submit(1)
        dispatcher.submit(1, page_ids=["HR/1"])
        dispatcher.submit(1, page_ids=["HR/2", "HR/1"])
        dispatcher.submit(2, page_ids=["HR/9"])
        runner.gate.set()
        assert dispatcher.wait_idle(5)
    finally:
        dispatcher.close()
    assert runner.calls == [(1, None), (1, ["HR/1", "HR/2"]), (2, ["HR/9"]), (1, None)]


@pytest.mark.parametrize(
    ("first", "tries"),
    [
        (SimpleNamespace(status="skipped", retryable=False), 2),  # a scheduled sync held the source
        (SimpleNamespace(status="failed", retryable=True), 2),  # the source could not be reached
        (SimpleNamespace(status="failed", retryable=False), 1),  # wrong credentials: an admin must act
    ],
)
def test_dispatcher_tries_a_skipped_or_unreachable_sync_again(first: Any, tries: int) -> None:
    runner = StubRunner(first, first)
    runner.gate.set()
    dispatcher = InProcessDispatcher(runner, retry_delays=(0.1,))  # one more try at most
    dispatcher.start()
    try:
        dispatcher.submit(3, page_ids=["HR/5"])
        assert dispatcher.wait_idle(5)
    finally:
        dispatcher.close()
    assert runner.calls == [(3, ["HR/5"])] * tries


def test_signature_check() -> None:
    body = b'{"event":"page_updated"}'
    header = sign("k", body)
    assert header.startswith("sha256=") and valid_signature("k", body, header)
    assert valid_signature("k", body, header.removeprefix("sha256="))  # bare hex digest
    assert valid_signature("k", body, header.upper().replace("SHA256=", "sha256="))
    assert not valid_signature("k", body + b" ", header)
    assert not valid_signature("k", body, None) and not valid_signature("k", body, "sha1=" + header[7:])
    assert not valid_signature("k", body, "sha256=é")
