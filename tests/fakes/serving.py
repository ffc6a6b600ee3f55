"""What every loopback fake shares: its HTTP handler run on 127.0.0.1 on a thread (stopped on exit),
and a JSON answer written the way the real APIs write theirs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@contextmanager
def serving(
    handler: type[BaseHTTPRequestHandler], port: int = 0, *, queue_size: int | None = None
) -> Iterator[ThreadingHTTPServer]:
    """``port=0``: a free one. ``queue_size``: the listen backlog, for fakes that take bursts."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler, bind_and_activate=False)
    server.daemon_threads = True
    if queue_size is not None:
        server.request_queue_size = queue_size
    try:
        server.server_bind()
        server.server_activate()
    except BaseException:
        server.server_close()
        raise
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def send_json(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: Any,
    headers: Mapping[str, str] | None = None,
    *,
    content_type: str = "application/json; charset=utf-8",
) -> None:
    """``body`` as JSON (bytes are sent as they are, without a content type), with ``headers``."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    handler.send_response(status)
    if not isinstance(body, bytes):
        handler.send_header("Content-Type", content_type)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
