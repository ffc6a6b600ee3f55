"""``hrbot serve webhooks``: Confluence and Microsoft Graph tell us a page or file changed; we sync it.

Endpoints (a stdlib threaded HTTP server, one thread a request):

- ``POST /webhooks/confluence/<source>``: a Confluence webhook (Data Center / Cloud, or a Forge
  event). With ``HRBOT_WEBHOOK_SECRET`` set, the request must carry ``X-Hub-Signature:
  sha256=<hex HMAC-SHA256 of the raw body>`` (what Confluence sends for a webhook with a secret);
  a wrong or missing one is refused (401) before anything else is read. A page created, updated or
  restored syncs that page only ("pages" mode); a page trashed or deleted runs a "changes" sync,
  whose listing of ids prunes it.
- ``POST /webhooks/graph/<source>``: Microsoft Graph change notifications for a sharepoint source.
  ``?validationToken=`` is echoed as ``text/plain`` (Graph validating the URL); notifications whose
  ``clientState`` is ``HRBOT_WEBHOOK_SECRET`` run a "changes" sync (the delta link says what changed).
- ``GET /healthz``: ``ok`` while the sync dispatcher is alive.

Every accepted request is answered ``202`` at once; the sync runs afterwards through a
:class:`~workers.webhook_dispatch.SyncDispatcher`, which merges what arrives for a busy source.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from sqlalchemy.orm import Session, sessionmaker

from connectors.confluence import parse_webhook
from connectors.graph_auth import parse_notifications, validation_response
from hr.db import unit_of_work
from hr.settings import Settings
from workers import store
from workers.webhook_dispatch import SyncDispatcher

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
DRAIN_LIMIT = 16 * MAX_BODY_BYTES  # a refused body up to this size is read and dropped before answering
MAX_VALIDATION_TOKEN = 4096
SIGNATURE_HEADER = "x-hub-signature"
PREFIX = "/webhooks/"
ROUTES = {"confluence": "confluence", "graph": "sharepoint"}  # path segment -> the source kind it serves


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def json(cls, code: int, /, **fields: Any) -> Reply:
        return cls(code, json.dumps(fields).encode("utf-8"))

    @classmethod
    def text(cls, status: int, text: str) -> Reply:
        return cls(status, text.encode("utf-8"), "text/plain; charset=utf-8")


@dataclass(frozen=True)
class _Found:
    id: int
    name: str
    enabled: bool


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature`` value a sender with ``secret`` puts on ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def valid_signature(secret: str, body: bytes, header: str | None) -> bool:
    """``header`` is ``sha256=<hex>`` (or the bare hex digest) of ``body`` keyed with ``secret``."""
    if not header:
        return False
    algorithm, sep, digest = header.strip().partition("=")
    if not sep:
        algorithm, digest = "sha256", algorithm
    if algorithm.strip().lower() != "sha256":
        return False
    expected = sign(secret, body).removeprefix("sha256=")
    return hmac.compare_digest(expected.encode(), digest.strip().lower().encode("utf-8", "replace"))


def match_route(path: str) -> tuple[str, str] | None:
    """``/webhooks/<confluence|graph>/<source>`` -> (route, source name)."""
    if not path.startswith(PREFIX):
        return None
    route, _, name = path.removeprefix(PREFIX).partition("/")
    name = unquote(name.strip("/"))
    if route not in ROUTES or not name or "/" in name:
        return None
    return route, name


class WebhookApp:
    """What the endpoints do, apart from HTTP: check, look the source up, hand the sync over."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        dispatcher: SyncDispatcher,
        *,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        self.sessions = sessions
        self.dispatcher = dispatcher
        self.max_body = max_body
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret is not None else ""
        self.secret = secret or None

    def healthz(self) -> Reply:
        if self.dispatcher.healthy():
            return Reply.text(200, "ok")
        return Reply.text(503, "the sync dispatcher has stopped")

    def handle(
        self, route: str, name: str, *, query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply:
        """One POST to ``/webhooks/<route>/<name>``; ``headers`` have lower-case names."""
        if route == "confluence":
            return self.confluence(name, headers=headers, body=body)
        return self.graph(name, query=query, body=body)

    # --- Confluence ------------------------------------------------------------------------------

    def confluence(self, name: str, *, headers: Mapping[str, str], body: bytes) -> Reply:
        if self.secret is not None and not valid_signature(self.secret, body, headers.get(SIGNATURE_HEADER)):
            log.warning("confluence webhook with a bad signature refused", extra={"source": name})
            return Reply.json(401, error="missing or wrong X-Hub-Signature")
        payload = _json_object(body)
        if payload is None:
            return Reply.json(400, error="the body is not a JSON object")
        found = self._source(name, "confluence")
        if isinstance(found, Reply):
            return found
        if not found.enabled:
            return Reply.json(202, status="ignored", reason="the source is disabled")
        source_id, source_name = found.id, found.name
        event = parse_webhook(payload)
        if event is None:
            log.info("confluence webhook ignored", extra={"source": source_name, "event": _event_name(payload)})
            return Reply.json(202, status="ignored", reason="not a page event")
        if event.removed:
            self.dispatcher.submit(source_id)
            mode = "changes"
        else:
            ref = f"{event.space_key}/{event.page_id}" if event.space_key else event.page_id
            self.dispatcher.submit(source_id, page_ids=[ref])
            mode = "pages"
        log.info(
            "confluence webhook accepted",
            extra={"source": source_name, "event": event.event, "page_id": event.page_id, "mode": mode},
        )
        return Reply.json(202, status="accepted", sync=mode)

    # --- Microsoft Graph -------------------------------------------------------------------------

    def graph(self, name: str, *, query: Mapping[str, str], body: bytes) -> Reply:
        token = validation_response(query)
        if token is not None:
            if len(token) > MAX_VALIDATION_TOKEN:
                return Reply.json(400, error="validationToken too long")
            found = self._source(name, "sharepoint")
            if isinstance(found, Reply):
                return found
            log.info("graph notification URL validated", extra={"source": found.name})
            return Reply.text(200, token)
        if self.secret is None:
            return Reply.json(
                503, error="set HRBOT_WEBHOOK_SECRET: it is the clientState that proves a notification came from Graph"
            )
        payload = _json_object(body)
        if payload is None:
            return Reply.json(400, error="the body is not a JSON object")
        found = self._source(name, "sharepoint")
        if isinstance(found, Reply):
            return found
        if not found.enabled:
            return Reply.json(202, status="ignored", reason="the source is disabled")
        source_id, source_name = found.id, found.name
        notifications = parse_notifications(payload, client_state=self.secret)
        if not notifications:
            log.info("graph notification ignored", extra={"source": source_name})
            return Reply.json(202, status="ignored", reason="no notification with our clientState")
        self.dispatcher.submit(source_id)
        log.info(
            "graph notification accepted",
            extra={
                "source": source_name,
                "notifications": len(notifications),
                "change_types": sorted({n.change_type for n in notifications}),
            },
        )
        return Reply.json(202, status="accepted", sync="changes")

    # --- helpers ---------------------------------------------------------------------------------

    def _source(self, name: str, kind: str) -> _Found | Reply:
        """The source called ``name`` if it is of this kind, else the 404 to send."""
        with unit_of_work(self.sessions) as session:
            try:
                source = store.get_source(session, name)
            except store.SourceNotFound:
                source = None
            if source is None or source.kind != kind:
                log.info("webhook for an unknown source", extra={"source": name, "kind": kind})
                return Reply.json(404, error=f"no {kind} source named {name!r}")
            return _Found(source.id, source.name, source.enabled)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def _event_name(payload: Mapping[str, Any]) -> str | None:
    for key in ("event", "webhookEvent", "eventType"):
        if isinstance(payload.get(key), str):
            return str(payload[key])
    return None


# --- HTTP ------------------------------------------------------------------------------------------


class _WebhookHTTPServer(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5; a burst of deliveries would get connection resets
    request_queue_size = 128
    daemon_threads = True


def make_webhook_server(app: WebhookApp, *, host: str = "0.0.0.0", port: int = 8090) -> ThreadingHTTPServer:
    """A stdlib HTTP server for ``app``; ``port=0`` picks a free port (``server.server_port``).
    Call ``serve_forever()`` to run it."""

    class WebhookRequestHandler(BaseHTTPRequestHandler):
        server_version = "hrbot-webhooks"
        timeout = 30  # a client that stops sending does not hold its thread for ever

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("webhook http", extra={"request": format % args})

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            self._send(app.healthz() if path == "/healthz" else Reply.json(404, error="not found"))

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            route = match_route(parts.path)
            if route is None:
                self._send(Reply.json(404, error="not found"))
                return
            length = self._content_length()
            if isinstance(length, Reply):
                self._refuse(length)
                return
            body = self.rfile.read(length) if length else b""
            headers = {key.lower(): value for key, value in self.headers.items()}
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            try:
                reply = app.handle(route[0], route[1], query=query, headers=headers, body=body)
            except Exception:
                log.exception("webhook failed", extra={"route": route[0], "source": route[1]})
                reply = Reply.json(500, error="internal error")
            self._send(reply)

        def _content_length(self) -> int | Reply:
            raw = self.headers.get("Content-Length")
            if raw is None:
                chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
                return Reply.json(411, error="Content-Length required") if chunked else 0
            try:
                length = int(raw)
            except ValueError:
                return Reply.json(400, error="bad Content-Length")
            if length < 0:
                return Reply.json(400, error="bad Content-Length")
            if length > app.max_body:
                return Reply.json(413, error=f"the body is larger than {app.max_body} bytes")
            return length

        def _refuse(self, reply: Reply) -> None:
            """Answer without reading the body: drain a moderately large one first (closing a socket
            with unread data resets the connection, and the sender would not see the answer)."""
            self.close_connection = True
            try:
                left = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                left = 0
            if reply.status == 413 and left <= DRAIN_LIMIT:
                while left > 0:
                    chunk = self.rfile.read(min(left, 65536))
                    if not chunk:
                        break
                    left -= len(chunk)
            self._send(reply)

        def _send(self, reply: Reply) -> None:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

    return _WebhookHTTPServer((host, port), WebhookRequestHandler)
