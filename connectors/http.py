"""One HTTP client for every REST connector: timeouts, retries with exponential backoff, 429
``Retry-After`` honoured, and errors mapped to :class:`ConnectorError` / :class:`ConnectorAuthError`."""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.base import ConnectorAuthError, ConnectorError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class HttpClient:
    """A thin wrapper over ``httpx.Client``. ``auth`` is any httpx auth, or a callable returning
    headers (for bearer tokens that are fetched and refreshed, as with Microsoft Graph)."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth_headers: Callable[[], Mapping[str, str]] | None = None,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = httpx.Client(
            base_url=base_url, auth=auth, headers=dict(headers or {}), timeout=timeout, follow_redirects=True
        )
        self.auth_headers = auth_headers
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send, retrying network errors, 429 and 5xx; raise for 401/403 and other 4xx."""
        attempt = 0
        while True:
            headers = dict(kwargs.pop("headers", None) or {})
            if self.auth_headers is not None:
                headers.update(self.auth_headers())
            try:
                response = self.client.request(method, url, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise ConnectorError(f"{method} {url}: {exc}") from exc
                delay = self._delay(attempt, None)
            else:
                if response.status_code in (401, 403):
                    raise ConnectorAuthError(
                        f"{method} {url}: HTTP {response.status_code} (credentials refused)",
                        status=response.status_code,
                    )
                if response.status_code not in RETRY_STATUSES:
                    if response.status_code >= 400:
                        raise ConnectorError(
                            f"{method} {url}: HTTP {response.status_code}", status=response.status_code
                        )
                    return response
                if attempt >= self.retries:
                    raise ConnectorError(
                        f"{method} {url}: HTTP {response.status_code} after {attempt + 1} tries",
                        status=response.status_code,
                    )
                delay = self._delay(attempt, retry_after_seconds(response.headers.get("Retry-After")))
            attempt += 1
            log.info("retrying %s %s in %.2fs", method, url, delay, extra={"attempt": attempt})
            self.sleep(delay)
            kwargs["headers"] = headers

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def get_json(self, url: str, **kwargs: Any) -> Any:
        response = self.get(url, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise ConnectorError(f"GET {url}: the answer is not JSON") from exc

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        return self.backoff * (2**attempt) * (0.5 + random.random() / 2)
