"""A fake Slack Web API on loopback: speaks the wire format slack_sdk uses (form, JSON or query
parameters to ``/api/<method>``, ``Authorization: Bearer``), records every call and can fail on cue.

Also accepts POSTs to ``/respond/<anything>`` (use such URLs as ``response_url`` in payloads); they
are recorded with the method ``"response_url"``. ``apps.connections.open`` (app-level token) returns
``socket_url``, the address of a fake Socket Mode server (``tests.fakes.slack_socket``).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.serving import send_json, serving


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    token: str | None


@dataclass
class Failure:
    error: str
    status: int = 200
    retry_after: int | None = None
    times: int = 1


@dataclass
class FakeSlack:
    token: str = "xoxb-test"
    bot_user_id: str = "UBOT0001"
    bot_id: str = "BBOT0001"
    team_id: str = "T0TEST01"
    app_token: str = "xapp-test"
    socket_url: str | None = None  # what apps.connections.open returns (a FakeSocketMode's url)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    replies: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    server: ThreadingHTTPServer | None = None

    # --- set-up ---------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}/api/"

    def response_url(self, name: str) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}/respond/{name}"

    def fail(self, method: str, error: str = "internal_error", *, status: int = 200, times: int = 1) -> None:
        self.failures.setdefault(method, []).append(Failure(error, status, None, times))

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        self.failures.setdefault(method, []).append(Failure("ratelimited", 429, retry_after, times))

    # --- inspection -----------------------------------------------------------------------------

    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 30.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(method)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"expected {count} {method} call(s), got {self.of(method)}; all: {self.calls}")

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    # --- the API --------------------------------------------------------------------------------

    def handle(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self.calls.append(Call(method, params, token))
            queued = self.failures.get(method)
            if queued:
                failure = queued[0]
                failure.times -= 1
                if failure.times <= 0:
                    queued.pop(0)
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
                return failure.status, {"ok": False, "error": failure.error}, headers
        if method == "response_url":
            return 200, {"ok": True}, {}
        if method == "apps.connections.open":
            if token != self.app_token:
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            if self.socket_url is None:
                return 200, {"ok": False, "error": "not_allowed_token_type"}, {}
            return 200, {"ok": True, "url": self.socket_url}, {}
        if token != self.token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        return 200, self._answer(method, params), {}

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        ts = f"1700000000.{next(self._ts):06d}"
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://test.slack.com/",
                "team": "Test",
                "user": "hrbot",
                "team_id": self.team_id,
                "user_id": self.bot_user_id,
                "bot_id": self.bot_id,
            }
        if method == "chat.postMessage":
            return {"ok": True, "channel": params.get("channel"), "ts": ts, "message": {"text": params.get("text")}}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "chat.update":
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
        if method == "chat.getPermalink":
            channel, message_ts = params.get("channel"), str(params.get("message_ts", ""))
            return {
                "ok": True,
                "permalink": f"https://test.slack.com/archives/{channel}/p{message_ts.replace('.', '')}",
            }
        if method == "users.info":
            user = self.users.get(str(params.get("user")))
            return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}
        if method == "conversations.replies":
            messages = self.replies.get((str(params.get("channel")), str(params.get("ts"))))
            return {"ok": True, "messages": messages} if messages else {"ok": False, "error": "thread_not_found"}
        if method == "views.publish":
            return {"ok": True, "view": {"id": "V0001", **_json(params.get("view"))}}
        return {"ok": False, "error": "unknown_method"}


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            loaded = json.loads(value)
        except ValueError:
            return {}
        return loaded if isinstance(loaded, dict) else {}
    return value if isinstance(value, dict) else {}


def _params(handler: BaseHTTPRequestHandler, query: str) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(query))
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length).decode("utf-8") if length else ""
    if not raw:
        return params
    if "json" in (handler.headers.get("Content-Type") or ""):
        params.update(json.loads(raw))
    else:
        params.update(dict(parse_qsl(raw, keep_blank_values=True)))
    return params


def _handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            params = _params(self, parts.query)
            if parts.path.startswith("/api/"):
                method = parts.path.removeprefix("/api/")
            elif parts.path.startswith("/respond/"):
                method = "response_url"
                params["_path"] = parts.path
            else:
                self._send(404, {"ok": False, "error": "not_found"}, {})
                return
            auth = self.headers.get("Authorization") or ""
            token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else params.get("token")
            status, body, headers = fake.handle(method, params, token)
            send_json(self, status, body, headers)

        do_GET = _serve
        do_POST = _serve

    return Handler


@contextmanager
def fake_slack(**kwargs: Any) -> Iterator[FakeSlack]:
    """A running fake on 127.0.0.1, port 0; stopped on exit."""
    fake = FakeSlack(**kwargs)
    with serving(_handler(fake)) as server:
        fake.server = server
        yield fake


# --- by hand -------------------------------------------------------------------------------------


def _texts(value: Any) -> list[str]:
    """The visible strings in a block (sections, fields, context), depth first."""
    if isinstance(value, dict):
        if value.get("type") in ("mrkdwn", "plain_text") and isinstance(value.get("text"), str):
            return [value["text"]]
        if value.get("type") == "button":
            return []
        return [t for key, item in value.items() if key != "accessory" for t in _texts(item)]
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    return []


def _buttons(value: Any) -> list[str]:
    if isinstance(value, dict):
        if value.get("type") == "button":
            return [f"{value.get('action_id')}(audit id {value.get('value')})"]
        return [b for item in value.values() for b in _buttons(item)]
    if isinstance(value, list):
        return [b for item in value for b in _buttons(item)]
    return []


def describe(call: Call) -> str:
    """One recorded call, summarised for a person watching the fake's window."""
    params = call.params
    if call.method in ("auth.test", "users.info", "conversations.replies", "chat.getPermalink"):
        return f"{call.method} {json.dumps({k: v for k, v in params.items() if k != 'token'})}"
    where = params.get("_path") or params.get("channel") or ""
    flags = []
    if call.method == "chat.postEphemeral" or params.get("response_type") == "ephemeral":
        flags.append(f"EPHEMERAL to {params.get('user')}" if params.get("user") else "EPHEMERAL")
    elif call.method == "response_url":
        flags.append(f"response_type={params.get('response_type', 'ephemeral (default)')}")
    if params.get("thread_ts"):
        flags.append(f"in thread {params['thread_ts']}")
    for key in ("replace_original", "delete_original"):
        if key in params:
            flags.append(f"{key}={params[key]}")
    lines = [f"== {call.method} {where} {' '.join(flags)}".rstrip()]
    blocks = params.get("blocks")
    if call.method == "views.publish":
        lines[0] += f" user={params.get('user_id')}"
        blocks = _json(params.get("view")).get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            blocks = None
    # the blocks are what Slack shows; the text is the notification fallback
    for text in _texts(blocks or []) or ([str(params["text"])] if params.get("text") else []):
        lines.extend(f"   | {line}" for line in text.splitlines())
    buttons = _buttons(blocks or [])
    if buttons:
        lines.append(f"   buttons: {', '.join(buttons)}")
    return "\n".join(lines)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="A fake Slack Web API that prints what the bot sends.")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    fake = FakeSlack()
    inner = fake.handle

    def handle(method: str, params: dict[str, Any], token: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        answer = inner(method, params, token)
        print(describe(Call(method, params, token)), flush=True)
        if not answer[1].get("ok", True):
            print(f"   -> {answer[1]}", flush=True)
        return answer

    fake.handle = handle  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _handler(fake))
    server.daemon_threads = True
    fake.server = server
    print(
        f"fake Slack Web API on {fake.api_url} (token {fake.token}); response URLs {fake.response_url('…')}; "
        "Ctrl-C stops",
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
