"""The Slack app: a Bolt ``App`` over the Events API (HTTP), wired to the engine.

Bolt verifies every request's signature (``v0:timestamp:body`` HMAC-SHA256 with the signing
secret, at most five minutes old) and answers ``url_verification``; with
``process_before_response=False`` it acknowledges first and runs the handlers on its thread pool,
so Slack gets its answer within 3 s whatever the engine costs. Retries of an event already seen
(same ``event_id``) are acknowledged and dropped. Only this package imports ``slack_bolt``.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import SecretStr
from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from sqlalchemy.orm import Session, sessionmaker

from bot.chatstate.store import AnsweredThreads, SeenEvents, SharedRateLimiter, state_engine
from bot.engine import Engine
from bot.ratelimit import TTLSet
from bot.slack import admin, handlers, home
from bot.slack.handlers import Ack, Deps, Respond
from bot.slack.identity import SlackIdentity
from bot.slack.render import ACTION_FEEDBACK_DOWN, ACTION_FEEDBACK_UP, ACTION_TALK_TO_HR
from bot.slack.webapi import KeepAliveWebClient
from hr.db import make_sessionmaker
from hr.settings import Settings

log = logging.getLogger(__name__)

LOCAL_SEEN_TTL_S = 3600.0

EVENTS_PATH = "/slack/events"


class SlackConfigError(ValueError):
    """A setting the Slack app cannot run without is missing."""


def web_client(settings: Settings) -> WebClient:
    """The Web API client: the configured base URL (a fake on loopback in tests), persistent
    connections, and retries on connection errors and on 429 (honouring Retry-After)."""
    token = _required(settings.slack_bot_token, "HRBOT_SLACK_BOT_TOKEN")
    return KeepAliveWebClient(
        token=token,
        base_url=settings.slack_api_url or WebClient.BASE_URL,
        retry_handlers=[ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler(max_retry_count=2)],
    )


def build_app(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session], *, client: WebClient | None = None
) -> App:
    """The Bolt app with every listener registered; calls ``auth.test`` once to learn its bot user."""
    client = client or web_client(settings)
    app = App(
        client=client,
        signing_secret=_required(settings.slack_signing_secret, "HRBOT_SLACK_SIGNING_SECRET"),
        process_before_response=False,
        # answering is CPU-bound Python: a few threads, not one a request (GIL contention costs ~25%)
        listener_executor=ThreadPoolExecutor(max_workers=settings.slack_answer_threads, thread_name_prefix="answer"),
    )
    # What several bot processes must agree on lives in PostgreSQL; losing the last of these
    # writes in a crash costs at most a repeated answer, so they skip the WAL flush.
    state = make_sessionmaker(state_engine(sessions))
    deps = Deps(
        settings=settings,
        engine=engine,
        sessions=sessions,
        identity=SlackIdentity(client),
        limiter=SharedRateLimiter(state, "slack", settings.slack_rate_limit_per_minute),
        threads=AnsweredThreads(state, "slack"),
        seen=SeenEvents(state, "slack"),
        # posting waits on Slack's network: its own, larger pool
        poster=ThreadPoolExecutor(max_workers=settings.slack_post_threads, thread_name_prefix="post"),
    )
    # retries this process saw are dropped before the ack; the shared check runs after it
    app.middleware(dedupe(TTLSet(LOCAL_SEEN_TTL_S)))
    app.middleware(shared_client(client))
    register(app, deps)
    home.register(app, deps)
    admin.register(app, deps)
    return app


def dedupe(seen: TTLSet) -> Callable[..., BoltResponse | None]:
    """Global middleware (runs after signature verification): an event whose ``event_id`` was
    already seen (a Slack retry, ``X-Slack-Retry-Num``) is acknowledged and dropped."""

    def middleware(body: dict[str, Any], request: BoltRequest, next_: Callable[[], None]) -> BoltResponse | None:
        event_id = body.get("event_id")
        if isinstance(event_id, str) and not seen.add(event_id):
            retry = request.headers.get("x-slack-retry-num", [None])[0]
            log.info("dropped a repeated event", extra={"event_id": event_id, "retry_num": retry})
            return BoltResponse(status=200, body="")
        next_()
        return None

    return middleware


def shared_client(client: WebClient) -> Callable[..., None]:
    """Global middleware: listeners get the app's own client (its kept-alive connections), not the
    fresh ``WebClient`` Bolt builds for every request (one token, so nothing per request to keep apart)."""

    def middleware(context: BoltContext, next_: Callable[[], None]) -> None:
        context["client"] = client
        next_()

    return middleware


def first_delivery(body: dict[str, Any], deps: Deps) -> bool:
    """After the ack, on the listener's thread: the first delivery of this ``event_id`` in any bot
    process (a Slack retry of an event another process took is dropped here)."""
    event_id = body.get("event_id")
    if not isinstance(event_id, str) or deps.seen is None or deps.seen.add(event_id):
        return True
    log.info("dropped an event another process took", extra={"event_id": event_id})
    return False


def register(app: App, deps: Deps) -> None:
    """One listener per interaction type; each delegates to :mod:`bot.slack.handlers`."""

    @app.event("app_mention")
    def mention(body: dict[str, Any], event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        if first_delivery(body, deps):
            handlers.on_mention(event, client, context.bot_user_id, deps)

    @app.event("message")
    def message(body: dict[str, Any], event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        if first_delivery(body, deps):
            handlers.on_message(event, client, context.bot_user_id, deps)

    @app.command("/hr")
    def command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        handlers.on_command(ack, command, respond, deps)

    def feedback(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        handlers.on_feedback(ack, body, action, respond, deps)

    app.action(ACTION_FEEDBACK_UP)(feedback)
    app.action(ACTION_FEEDBACK_DOWN)(feedback)

    @app.action(ACTION_TALK_TO_HR)
    def talk_to_hr(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond) -> None:
        handlers.on_talk_to_hr(ack, body, action, client, respond, deps)


def make_server(
    app: App, *, host: str = "0.0.0.0", port: int = 3000, path: str = EVENTS_PATH, reuse_port: bool = False
) -> ThreadingHTTPServer:
    """A stdlib HTTP server handing POSTs on ``path`` to the Bolt app (one thread a request).
    ``port=0`` picks a free port (``server.server_port``). Call ``serve_forever()`` to run it.
    ``reuse_port``: share the port with other processes (``bot.slack.serve``)."""

    class SlackRequestHandler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            log.debug("slack http", extra={"request": format % args})

        def do_POST(self) -> None:
            request_path, _, query = self.path.partition("?")
            if request_path != path:
                self._send(404, {}, "")
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8")
            headers: dict[str, str | Sequence[str]] = {k.lower(): [v] for k, v in self.headers.items()}
            response = app.dispatch(BoltRequest(body=body, query=query, headers=headers))
            self._send(response.status, response.headers, response.body)

        def do_GET(self) -> None:
            self._send(404, {}, "")

        def _send(self, status: int, headers: dict[str, Any], body: str | dict[str, Any]) -> None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
            self.send_response(status)
            for key, values in headers.items():
                for value in values if isinstance(values, list | tuple) else [values]:
                    if key.lower() != "content-length":
                        self.send_header(key, str(value))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = _SlackHTTPServer((host, port), SlackRequestHandler, bind_and_activate=False)
    server.daemon_threads = True
    try:
        server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        server.server_bind()
        server.server_activate()
    except BaseException:
        server.server_close()
        raise
    return server


class _SlackHTTPServer(ThreadingHTTPServer):
    """Requests are handled by a fixed pool of threads, not a thread each: a burst of 50
    connections then costs 8 threads contending for the GIL, not 50 (the ack is a few ms of work,
    and the connections wait in the listen backlog meanwhile)."""

    # socketserver's default listen backlog is 5: a burst of Slack deliveries got connection resets
    # (and Slack's retry a second later); measured with benchmarks/slack_load.py
    request_queue_size = 128
    request_threads = 8

    def process_request(self, request: Any, client_address: Any) -> None:
        pool = getattr(self, "_pool", None)
        if pool is None:
            pool = self._pool = ThreadPoolExecutor(max_workers=self.request_threads, thread_name_prefix="http")
        pool.submit(self.process_request_thread, request, client_address)

    def server_close(self) -> None:
        super().server_close()
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _required(secret: SecretStr | None, name: str) -> str:
    if secret is None or not secret.get_secret_value():
        raise SlackConfigError(f"{name} is not set")
    return secret.get_secret_value()
