"""A fake OpenAI-compatible chat API on loopback: ``POST /v1/chat/completions``, non-streaming JSON
with ``usage`` tokens, as the ``openai`` client (and so Haystack's ``OpenAIChatGenerator``) speaks it.

Records every request body. ``reply`` decides the answer from the request. The default,
:func:`cite_best_overlap`, is a deterministic stand-in for a model (no model runs here): it answers
with the first line of the source whose text covers the most of the question's words, cited by its
number, or says it does not know when no source shares a word with the question.
:func:`cite_first_source` always cites ``[1]``. ``fail(429)``/``fail(500)`` and ``hang(seconds)`` act on
the next calls. Tokens are counted with ``bot.answering.budget.count_tokens``.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.answering.budget import count_tokens
from bot.answering.sentences import content_stems
from tests.fakes.serving import send_json, serving

Reply = Callable[[dict[str, Any]], str]


def prompt_of(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content") or "") for m in body.get("messages", []))


def cite_first_source(body: dict[str, Any]) -> str:
    """Answer with the first sentence of source [1], cited."""
    text = prompt_of(body)
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith("[1] ")), None)
    if start is None or start + 1 >= len(lines):
        return "I don't know; please ask HR."
    return f"According to the policy: {lines[start + 1].removeprefix('- ')} [1]"


_SOURCE = re.compile(r"^\[(\d+)\] ", re.MULTILINE)


def prompt_sources(text: str) -> tuple[str, dict[int, str]]:
    """The question of a prompt and its numbered sources (label and text) as ``messages`` renders them."""
    question = next((line.removeprefix("Question: ") for line in text.split("\n") if line.startswith("Question: ")), "")
    _, _, listing = text.partition("\nSources (quoted documents):\n")
    marks = list(_SOURCE.finditer(listing))
    sources: dict[int, str] = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(listing)
        sources.setdefault(int(mark.group(1)), listing[mark.end() : end].strip())
    return question, sources


def cite_best_overlap(body: dict[str, Any]) -> str:
    """A deterministic stand-in for a model: the first line under the source that contains the
    most distinct content words (stemmed) of the question, cited; the lower number on a tie."""
    question, sources = prompt_sources(prompt_of(body))
    wanted = set(content_stems(question))
    best, covered = 0, 0
    for n, text in sorted(sources.items()):
        found = len(wanted & set(content_stems(text)))
        if found > covered:
            best, covered = n, found
    if not best:
        return "I don't know; please ask HR."
    lines = [line for line in sources[best].split("\n")[1:] if line.strip()]
    quoted = lines[0].removeprefix("- ").strip() if lines else sources[best].split("\n")[0]
    return f"According to the policy: {quoted} [{best}]"


@dataclass
class FakeOpenAI:
    model: str = "fake-llm-1"
    reply: Reply = cite_best_overlap
    requests: list[dict[str, Any]] = field(default_factory=list)
    _actions: list[tuple[str, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def fail(self, status: int, *, times: int = 1) -> None:
        with self._lock:
            self._actions.extend([("status", float(status))] * times)

    def hang(self, seconds: float, *, times: int = 1) -> None:
        with self._lock:
            self._actions.extend([("hang", seconds)] * times)

    def prompts(self) -> list[str]:
        with self._lock:
            return [prompt_of(b) for b in self.requests]

    def _next_action(self) -> tuple[str, float] | None:
        with self._lock:
            return self._actions.pop(0) if self._actions else None

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.path.rstrip("/") != "/v1/chat/completions":
            send_json(handler, 404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"{}")
        with self._lock:
            self.requests.append(body)
        action = self._next_action()
        if action and action[0] == "hang":
            self._stop.wait(action[1])
            if self._stop.is_set():
                return
        elif action and action[0] == "status":
            status = int(action[1])
            kind = "rate_limit_exceeded" if status == 429 else "server_error"
            send_json(handler, status, {"error": {"message": kind, "type": kind, "code": kind}})
            return
        content = self.reply(body)
        prompt_tokens = count_tokens(prompt_of(body))
        completion_tokens = count_tokens(content)
        send_json(
            handler,
            200,
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 1_790_000_000,
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )


@contextmanager
def serve_openai(fake: FakeOpenAI | None = None) -> Iterator[FakeOpenAI]:
    """Run ``fake`` on 127.0.0.1, port 0, until the block ends."""
    api = fake or FakeOpenAI()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
                api.handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(Handler) as server:
        api.server = server
        try:
            yield api
        finally:
            api._stop.set()  # held answers end before the server does
