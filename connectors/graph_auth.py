"""Trust with Microsoft Graph both ways: the app's client-credentials tokens, and the checks on the
change notifications Graph sends us (URL validation, ``clientState``).

``POST {login_url}/{tenant}/oauth2/v2.0/token`` with the app's ``client_id`` and ``client_secret``,
``scope=https://graph.microsoft.com/.default`` and ``grant_type=client_credentials`` answers an
``access_token`` valid for ``expires_in`` seconds. :class:`ClientCredentials` caches it, fetches a
new one shortly before it expires (or when told the old one was refused), and turns a refused
request (``invalid_client``, unknown tenant) into :class:`TokenError` with AAD's own explanation.

The token request is sent once, without retries: a login endpoint that is down fails the sync run,
which the scheduler retries later.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.base import ConnectorAuthError, ConnectorError

log = logging.getLogger(__name__)

DEFAULT_LOGIN_URL = "https://login.microsoftonline.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
MAX_REFRESH_MARGIN = 300.0  # seconds before expiry at which a new token is fetched


class TokenError(ConnectorAuthError):
    """The login endpoint refused to issue a token (wrong secret, unknown app or tenant)."""


class ClientCredentials:
    """A cached app-only bearer token; :meth:`headers` is what :class:`~connectors.http.HttpClient`
    takes as ``auth_headers``. Safe to share between threads."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        login_url: str = DEFAULT_LOGIN_URL,
        scope: str = GRAPH_SCOPE,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = f"{login_url.rstrip('/')}/{tenant_id}/oauth2/v2.0/token"
        self.client_id = client_id
        self._secret = client_secret
        self.scope = scope
        self.clock = clock
        self._client = httpx.Client(timeout=timeout)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def close(self) -> None:
        self._client.close()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def token(self) -> str:
        """The cached token, or a new one when there is none or it is about to expire."""
        with self._lock:
            if self._token is None or self.clock() >= self._refresh_at:
                self._token, lifetime = self._fetch()
                margin = min(MAX_REFRESH_MARGIN, lifetime / 10)
                self._refresh_at = self.clock() + lifetime - margin
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (Graph answered 401 with it); the next call fetches another."""
        with self._lock:
            self._token = None

    def _fetch(self) -> tuple[str, float]:
        form = {
            "client_id": self.client_id,
            "client_secret": self._secret,
            "scope": self.scope,
            "grant_type": "client_credentials",
        }
        try:
            response = self._client.post(self.token_url, data=form)
        except httpx.TransportError as exc:
            raise ConnectorError(f"POST {self.token_url}: {exc}") from exc
        body = _json_or_empty(response)
        if response.status_code in (400, 401, 403):
            raise TokenError(f"the login endpoint refused the app credentials: {_aad_error(body, response)}")
        if response.status_code >= 400:
            raise ConnectorError(f"POST {self.token_url}: HTTP {response.status_code}")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise ConnectorError(f"POST {self.token_url}: no access_token in the answer")
        lifetime = float(body.get("expires_in") or 3599)
        log.info("graph token issued", extra={"token_url": self.token_url, "expires_in": lifetime})
        return token, lifetime


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _aad_error(body: dict[str, Any], response: httpx.Response) -> str:
    """``invalid_client: AADSTS7000215: Invalid client secret provided...`` (first line only)."""
    error = str(body.get("error") or f"HTTP {response.status_code}")
    description = str(body.get("error_description") or "").splitlines()
    return f"{error}: {description[0].strip()}" if description and description[0].strip() else error


@dataclass(frozen=True)
class GraphNotification:
    """One change notification: something under ``resource`` changed; run a poll to see what."""

    subscription_id: str
    resource: str
    change_type: str


def validation_response(query: Mapping[str, str]) -> str | None:
    """The text to answer (``200 text/plain``, within 10 s) when Graph validates a notification URL:
    its ``validationToken`` query parameter, decoded; ``None`` for an ordinary notification."""
    token = query.get("validationToken")
    return token or None


def parse_notifications(body: Mapping[str, Any], *, client_state: str) -> list[GraphNotification]:
    """The notifications of one POST to the notification URL whose ``clientState`` is ours; others
    (forged, or another subscription's) are dropped and logged."""
    found: list[GraphNotification] = []
    entries = body.get("value")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping):
            continue
        state = str(entry.get("clientState") or "")
        if not hmac.compare_digest(state.encode(), client_state.encode()):
            log.warning("graph notification with a wrong clientState dropped", extra={"entry_keys": sorted(entry)})
            continue
        change = entry.get("changeType") or entry.get("lifecycleEvent") or ""
        found.append(GraphNotification(str(entry.get("subscriptionId", "")), str(entry.get("resource", "")), change))
    return found
