"""A fake Bot Connector service on loopback: the REST API a Teams bot replies through (the
``serviceUrl`` of the activities it receives), plus an OAuth token endpoint for the bot's own
token. Records every call and can fail on cue.

    POST /v3/conversations                                   create (or find) a conversation  -> "create"
    POST /v3/conversations/{id}/activities                   send to a conversation           -> "send"
    POST /v3/conversations/{id}/activities/{replyToId}       reply to an activity             -> "reply"
    PUT  /v3/conversations/{id}/activities/{activityId}      update an activity               -> "update"
    GET  /v3/conversations/{id}/members/{userId}             one member (email, UPN)          -> "member"
    POST /{tenant}/oauth2/v2.0/token                         client credentials               -> "token"

Run it by hand (README, "Microsoft Teams"): ``python -m tests.fakes.bot_connector --port 3979``
prints what the bot sends: texts, cards, their sources and buttons.
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.fakes.serving import send_json, serving

CARD = "application/vnd.microsoft.card.adaptive"


@dataclass(frozen=True)
class Call:
    kind: str  # create | send | reply | update | member | token | unknown
    method: str
    path: str
    conversation_id: str | None
    activity_id: str | None
    body: dict[str, Any]
    authorization: str | None
    at: float

    @property
    def text(self) -> str:
        return str(self.body.get("text") or "")

    @property
    def cards(self) -> list[dict[str, Any]]:
        return [a.get("content") or {} for a in self.body.get("attachments") or [] if a.get("contentType") == CARD]

    def card_text(self) -> str:
        """Every TextBlock of every card, one a line."""
        return "\n".join(_texts(card) for card in self.cards)


@dataclass
class Failure:
    status: int
    times: int = 1


@dataclass
class FakeConnector:
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # channel account id -> member JSON
    client_id: str | None = None  # when set, the token endpoint checks the bot's credentials
    client_secret: str | None = None
    token: str = "fake-connector-token"
    require_token: bool = False  # conversation calls without "Bearer <token>" get 401
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    on_call: Callable[[Call], None] | None = None
    server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}"

    @property
    def service_url(self) -> str:
        return self.base_url + "/"

    @property
    def token_url(self) -> str:
        return self.base_url + "/botframework.com/oauth2/v2.0/token"

    def fail(self, kind: str, status: int = 500, *, times: int = 1) -> None:
        self.failures.setdefault(kind, []).append(Failure(status, times))

    # --- inspection -----------------------------------------------------------------------------

    def of(self, *kinds: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.kind in kinds]

    def wait_for(
        self, *kinds: str, count: int = 1, timeout: float = 30.0, where: Callable[[Call], bool] | None = None
    ) -> list[Call]:
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.of(*kinds) if where is None or where(c)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} {kinds} call(s), got {found}; all: {self.calls}")
            time.sleep(0.02)

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self.failures.clear()

    # --- the API --------------------------------------------------------------------------------

    def handle(self, method: str, path: str, body: dict[str, Any], authorization: str | None) -> tuple[int, Any]:
        kind, conversation_id, activity_id = _route(method, path)
        call = Call(kind, method, path, conversation_id, activity_id, body, authorization, time.monotonic())
        with self._lock:
            self.calls.append(call)
            queued = self.failures.get(kind)
            failure = queued[0] if queued else None
            if failure is not None and queued is not None:
                failure.times -= 1
                if failure.times <= 0:
                    queued.pop(0)
        if self.on_call is not None:
            self.on_call(call)
        if failure is not None:
            return failure.status, {"error": {"code": "Injected", "message": f"failing {kind} on cue"}}
        if kind == "token":
            return self._token(body)
        if self.require_token and authorization != f"Bearer {self.token}":
            return 401, {"error": {"code": "Unauthorized", "message": "bad or missing bot token"}}
        return self._answer(kind, call)

    def _token(self, form: dict[str, Any]) -> tuple[int, Any]:
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if self.client_id is not None and (
            form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret
        ):
            return 401, {"error": "invalid_client"}
        return 200, {"token_type": "Bearer", "expires_in": 3599, "access_token": self.token}

    def _answer(self, kind: str, call: Call) -> tuple[int, Any]:
        if kind == "create":
            members = call.body.get("members") or [{}]
            conversation = f"a:1:{members[0].get('id', 'unknown')}"
            return 201, {"id": conversation, "activityId": f"1:{next(self._ids)}", "serviceUrl": self.service_url}
        if kind in ("send", "reply"):
            return 200, {"id": f"1:{next(self._ids)}"}
        if kind == "update":
            return 200, {"id": call.activity_id}
        if kind == "member":
            member = self.members.get(call.activity_id or "")
            if member is None:
                return 404, {"error": {"code": "MemberNotFoundInConversation", "message": "not a member"}}
            return 200, member
        return 404, {"error": {"code": "NotFound", "message": call.path}}


def _route(method: str, path: str) -> tuple[str, str | None, str | None]:
    if path.endswith("/oauth2/v2.0/token") and method == "POST":
        return "token", None, None
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if parts[:2] != ["v3", "conversations"]:
        return "unknown", None, None
    rest = parts[2:]
    if not rest and method == "POST":
        return "create", None, None
    conversation = rest[0] if rest else None
    if len(rest) == 2 and rest[1] == "activities" and method == "POST":
        return "send", conversation, None
    if len(rest) == 3 and rest[1] == "activities":
        return {"POST": "reply", "PUT": "update", "DELETE": "delete"}.get(method, "unknown"), conversation, rest[2]
    if len(rest) == 3 and rest[1] == "members" and method == "GET":
        return "member", conversation, rest[2]
    return "unknown", conversation, None


def _handler(fake: FakeConnector) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8") if length else ""
            body: dict[str, Any] = {}
            if raw and "json" in (self.headers.get("Content-Type") or ""):
                loaded = json.loads(raw)
                body = loaded if isinstance(loaded, dict) else {"_": loaded}
            elif raw:
                body = dict(parse_qsl(raw, keep_blank_values=True))
            status, answer = fake.handle(self.command, parts.path, body, self.headers.get("Authorization"))
            send_json(self, status, answer)

        do_GET = _serve
        do_POST = _serve
        do_PUT = _serve
        do_DELETE = _serve

    return Handler


@contextmanager
def fake_connector(port: int = 0, **kwargs: Any) -> Iterator[FakeConnector]:
    """A running fake on 127.0.0.1 (``port=0``: a free one); stopped on exit."""
    fake = FakeConnector(**kwargs)
    with serving(_handler(fake), port, queue_size=256) as server:
        fake.server = server
        yield fake


def _texts(card: dict[str, Any]) -> str:
    return "\n".join(str(b.get("text", "")) for b in card.get("body") or [] if b.get("type") == "TextBlock")


def describe(call: Call) -> str:
    """One call as a person reads it (the ``python -m`` printout)."""
    head = f"{call.kind.upper():6} {call.method} {call.path}"
    if call.kind == "token":
        return head
    lines = [head]
    if call.text:
        lines.append("  text: " + call.text)
    for card in call.cards:
        lines += ["  | " + line for line in _texts(card).splitlines()]
        for action in card.get("actions") or []:
            data = json.dumps(action.get("data"))
            lines.append(f"  [button] {action.get('title')}: verb {action.get('verb')} data {data}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake Bot Connector that prints what the bot sends.")
    parser.add_argument("--port", type=int, default=3979)
    args = parser.parse_args()
    members = {
        "29:alice": {
            "id": "29:alice",
            "name": "Alice Nguyen",
            "aadObjectId": "e52fec14-2d75-4a6a-8584-0f4ce50ee168",
            "email": "alice.nguyen@brightwave.example",
            "userPrincipalName": "alice.nguyen@brightwave.example",
        }
    }
    with fake_connector(args.port, members=members, on_call=lambda c: print(describe(c), flush=True)) as fake:
        print(f"fake Bot Connector on {fake.service_url} (token endpoint {fake.token_url}); Ctrl-C stops", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
