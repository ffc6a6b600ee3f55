"""A fake Slack Socket Mode server on loopback: a WebSocket server that greets each connection with
``hello``, pushes envelopes (``events_api``, ``slash_commands``, ``interactive``) to the connected
app and records what the app sends back (acknowledgements ``{"envelope_id": …[, "payload": …]}``).

Point :class:`tests.fakes.slack_api.FakeSlack` at it (``socket_url``) so ``apps.connections.open``
hands the app this server's URL.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve


@dataclass
class FakeSocketMode:
    app_id: str = "A0HRBOT1"
    received: list[dict[str, Any]] = field(default_factory=list)
    connections: list[ServerConnection] = field(default_factory=list)
    server: Server | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link/?ticket=fake-ticket&app_id={self.app_id}"

    # --- the protocol ---------------------------------------------------------------------------

    def _serve(self, ws: ServerConnection) -> None:
        hello = {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "fake-socket-mode", "build_number": 1, "approximate_connection_time": 3600},
            "connection_info": {"app_id": self.app_id},
        }
        ws.send(json.dumps(hello))
        with self._cond:
            self.connections.append(ws)
            self._cond.notify_all()
        try:
            for message in ws:
                try:
                    loaded = json.loads(message)
                except ValueError:
                    continue
                if isinstance(loaded, dict):
                    with self._cond:
                        self.received.append(loaded)
                        self._cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                self.connections.remove(ws)
                self._cond.notify_all()

    # --- driving it -----------------------------------------------------------------------------

    def wait_connected(self, timeout: float = 15.0) -> ServerConnection:
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self.connections), timeout):
                raise AssertionError("no Socket Mode client connected")
            return self.connections[-1]

    def push(
        self,
        type_: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        retry_attempt: int = 0,
        envelope_id: str | None = None,
    ) -> str:
        """Send one envelope to the connected app; returns its ``envelope_id``."""
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": type_,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": retry_attempt,
            "retry_reason": "",
            "payload": payload,
        }
        self.wait_connected().send(json.dumps(envelope))
        return envelope_id

    def push_event(self, body: dict[str, Any]) -> str:
        """An Events API callback (the same body Slack would POST over HTTP)."""
        return self.push("events_api", body)

    def push_command(self, form: dict[str, Any]) -> str:
        """A slash command (the HTTP form fields, as JSON)."""
        return self.push("slash_commands", form, accepts_response_payload=True)

    def push_interactive(self, payload: dict[str, Any]) -> str:
        """A block action, shortcut or view submission (the decoded ``payload`` form field)."""
        return self.push("interactive", payload, accepts_response_payload=True)

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the app to reconnect, as Slack does before it recycles a connection."""
        self.wait_connected().send(json.dumps({"type": "disconnect", "reason": reason, "debug_info": {}}))

    # --- inspection -----------------------------------------------------------------------------

    def acks(self) -> dict[str, dict[str, Any]]:
        with self._cond:
            return {str(m["envelope_id"]): m for m in self.received if "envelope_id" in m}

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.received:
                    if message.get("envelope_id") == envelope_id:
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no ack for envelope {envelope_id}; received: {self.received}")
                self._cond.wait(left)


@contextmanager
def fake_socket_mode(**kwargs: Any) -> Iterator[FakeSocketMode]:
    """A running fake on 127.0.0.1, port 0; stopped (connections closed) on exit."""
    fake = FakeSocketMode(**kwargs)
    server = serve(fake._serve, "127.0.0.1", 0, compression=None)
    fake.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        thread.join(timeout=5)
