"""The Web API client the Slack bot uses: slack_sdk's ``WebClient`` over kept-alive connections,
against the fake Slack Web API on loopback (speaking HTTP/1.1 as Slack does, or HTTP/1.0)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.slack.app import shared_client, web_client
from bot.slack.webapi import KeepAliveWebClient
from hr.settings import Settings
from tests.fakes.serving import serving
from tests.fakes.slack_api import FakeSlack, _handler


@contextmanager
def fake_api(*, keep_alive: bool = True, close_after: int | None = None) -> Iterator[tuple[FakeSlack, list[int]]]:
    """The fake Slack API, counting the connections it accepted; ``close_after``: it drops each
    connection after that many responses without saying so (as a server timing out idle ones does)."""
    fake = FakeSlack()
    connections: list[int] = []
    lock = threading.Lock()

    class Handler(_handler(fake)):  # type: ignore[misc]
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def setup(self) -> None:
            super().setup()
            with lock:
                connections.append(1)
            self.served = 0

        def handle_one_request(self) -> None:
            super().handle_one_request()
            self.served += 1
            if close_after is not None and self.served >= close_after:
                self.close_connection = True

    handler: type[BaseHTTPRequestHandler] = Handler
    with serving(handler) as server:
        fake.server = server
        yield fake, connections


def client_for(fake: FakeSlack) -> KeepAliveWebClient:
    settings = Settings(slack_bot_token=fake.token, slack_api_url=fake.api_url)
    client = web_client(settings)
    assert isinstance(client, KeepAliveWebClient)
    return client


def test_calls_share_one_connection_per_thread() -> None:
    with fake_api() as (fake, connections):
        client = client_for(fake)
        for n in range(5):
            assert client.chat_postMessage(channel="D1", text=f"hello {n}")["ok"]
        assert client.auth_test()["user_id"] == fake.bot_user_id

        def other_thread() -> None:
            client.chat_postMessage(channel="D2", text="from another thread")
            client.chat_postMessage(channel="D2", text="and again")

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert len(fake.of("chat.postMessage")) == 7
        assert client.connections_opened == 2 and len(connections) == 2  # one per thread, not one per call


def test_a_plain_webclient_opens_a_connection_per_call() -> None:
    """(What the keep-alive client saves: the same calls through slack_sdk's own client.)"""
    with fake_api() as (fake, connections):
        client = WebClient(token=fake.token, base_url=fake.api_url)
        for _ in range(3):
            client.chat_postMessage(channel="D1", text="hello")
        assert len(connections) == 3


def test_a_connection_closed_by_the_server_is_reopened_and_nothing_is_posted_twice() -> None:
    with fake_api(close_after=1) as (fake, connections):
        client = client_for(fake)
        for n in range(3):
            assert client.chat_postMessage(channel="D1", text=f"hello {n}")["ok"]
        assert [c.params["text"] for c in fake.of("chat.postMessage")] == ["hello 0", "hello 1", "hello 2"]
        assert len(connections) == 3


def test_an_http_1_0_server_gets_a_connection_per_call() -> None:
    with fake_api(keep_alive=False) as (fake, connections):
        client = client_for(fake)
        for _ in range(3):
            assert client.chat_postMessage(channel="D1", text="hello")["ok"]
        assert len(connections) == 3 and len(fake.of("chat.postMessage")) == 3


def test_errors_and_rate_limits_behave_as_in_slack_sdk() -> None:
    with fake_api() as (fake, connections):
        client = client_for(fake)
        assert any(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers)
        assert any(isinstance(h, ConnectionErrorRetryHandler) for h in client.retry_handlers)
        fake.rate_limit("chat.postMessage", retry_after=0)
        assert client.chat_postMessage(channel="D1", text="after a 429")["ok"]  # retried, on the same connection
        assert len(fake.of("chat.postMessage")) == 2
        fake.fail("chat.postMessage", "channel_not_found")
        with pytest.raises(SlackApiError) as raised:
            client.chat_postMessage(channel="D404", text="nowhere")
        assert raised.value.response["error"] == "channel_not_found"
        fake.fail("users.info", "internal_error", status=500)
        with pytest.raises(SlackApiError):
            client.users_info(user="U1")
        assert client.chat_postMessage(channel="D1", text="still fine")["ok"]
        assert len(connections) == 1


def test_listeners_get_the_apps_own_client() -> None:
    """Bolt builds a fresh ``WebClient`` per request; the middleware swaps in the app's kept-alive one."""
    client = KeepAliveWebClient(token="xoxb-test")
    context = BoltContext(client=WebClient(token="xoxb-test"))
    called: list[Any] = []
    shared_client(client)(context=context, next_=lambda: called.append(True))
    assert context.client is client and called == [True]
