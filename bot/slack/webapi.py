"""A Slack Web API client that keeps its HTTP connections open.

slack_sdk's ``WebClient`` sends every call through ``urllib.request.urlopen``: a new TCP (and TLS)
connection a call, torn down after it. An answer costs one to three calls, so under load the bot
spent more on connecting than on the calls. :class:`KeepAliveWebClient` is the same client (same
methods, retry handlers, errors) whose requests go over one persistent ``http.client`` connection
per thread and host. A connection the server closed while it sat idle is reopened once, before
any response was read; anything else fails as urllib would (and the retry handlers see it).
With a proxy configured it falls back to urllib.
"""

from __future__ import annotations

import http.client
import io
import itertools
import threading
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient

# what a server that closed an idle keep-alive connection looks like to the next request on it
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class KeepAliveWebClient(WebClient):
    """``WebClient`` over persistent connections (one per thread and host; thread-safe)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._local = threading.local()
        self._opened = itertools.count(1)
        self.connections_opened = 0  # connections opened so far (for tests and benchmarks)

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        parts = urlsplit(url)
        if self.proxy is not None or parts.scheme.lower() not in ("http", "https"):
            return super()._perform_urllib_http_request_internal(url, req)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = dict(req.header_items())
        headers.setdefault("Host", parts.netloc)
        key = (parts.scheme.lower(), parts.netloc)
        for attempt in (0, 1):
            connection, reused = self._connection(key)
            try:
                connection.request(req.get_method(), target, body=req.data, headers=headers)
                response = connection.getresponse()
                body = response.read()
            except _STALE:
                self._drop(key)
                if reused and attempt == 0:
                    continue  # the server closed it while idle: the request never reached it
                raise
            except BaseException:
                self._drop(key)
                raise
            if response.will_close:
                self._drop(key)
            if response.status >= 400:  # as urlopen does: the base client reads status and body from it
                raise HTTPError(url, response.status, response.reason, response.msg, io.BytesIO(body))
            if response.msg.get_content_type() == "application/gzip":
                return {"status": response.status, "headers": response.msg, "body": body}
            charset = response.msg.get_content_charset() or "utf-8"
            return {"status": response.status, "headers": response.msg, "body": body.decode(charset)}
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self, key: tuple[str, str]) -> tuple[http.client.HTTPConnection, bool]:
        pool: dict[tuple[str, str], http.client.HTTPConnection] | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        connection = pool.get(key)
        if connection is not None:
            return connection, True
        scheme, netloc = key
        if scheme == "https":
            connection = http.client.HTTPSConnection(netloc, timeout=self.timeout, context=self.ssl)
        else:
            connection = http.client.HTTPConnection(netloc, timeout=self.timeout)
        pool[key] = connection
        self.connections_opened = next(self._opened)
        return connection, False

    def _drop(self, key: tuple[str, str]) -> None:
        pool = getattr(self._local, "pool", None)
        connection = pool.pop(key, None) if pool else None
        if connection is not None:
            connection.close()
