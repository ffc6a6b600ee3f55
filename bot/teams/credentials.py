"""The bot's own token, sent with every reply to the Bot Connector (OAuth client credentials).

One app registration (``HRBOT_TEAMS_APP_ID`` + ``HRBOT_TEAMS_APP_PASSWORD``) asks the Entra ID token
endpoint for ``https://api.botframework.com/.default``; the token is cached until five minutes before
it expires. The endpoint is ``login.microsoftonline.com/<tenant or botframework.com>`` unless
``HRBOT_TEAMS_TOKEN_URL`` names another (the tests' fake connector). The SDK's MSAL provider
(``microsoft-agents-authentication-msal``) would do the same but accepts only https authorities, so
nothing on loopback could stand in for Entra ID in a test.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiohttp
from azure.core.credentials_async import AsyncTokenCredential
from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import (
    AccessTokenProviderBase,
    AgentAuthConfiguration,
    ClaimsIdentity,
    Connections,
)

log = logging.getLogger(__name__)

DEFAULT_SCOPE = "https://api.botframework.com/.default"
REFRESH_BEFORE_S = 300.0
TIMEOUT_S = 15.0


class TokenRequestError(RuntimeError):
    """The token endpoint refused or failed."""


def token_url(tenant_id: str | None) -> str:
    return f"https://login.microsoftonline.com/{tenant_id or 'botframework.com'}/oauth2/v2.0/token"


class ClientCredentials(AccessTokenProviderBase):
    """Client-credentials tokens for one app registration, cached per scope."""

    def __init__(
        self,
        app_id: str,
        password: str,
        *,
        url: str,
        tenant_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_id = app_id
        self._password = password
        self.url = url
        self.tenant_id = tenant_id
        self.clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = asyncio.Lock()

    @property
    def configuration(self) -> AgentAuthConfiguration:
        return AgentAuthConfiguration(client_id=self.app_id, tenant_id=self.tenant_id)

    async def get_access_token(self, resource_url: str, scopes: list[str], force_refresh: bool = False) -> str:
        scope = scopes[0] if scopes else (f"{resource_url.rstrip('/')}/.default" if resource_url else DEFAULT_SCOPE)
        async with self._lock:
            cached = self._tokens.get(scope)
            if cached is not None and not force_refresh and cached[1] - REFRESH_BEFORE_S > self.clock():
                return cached[0]
            token, expires_in = await self._request(scope)
            self._tokens[scope] = (token, self.clock() + expires_in)
            return token

    async def _request(self, scope: str) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.app_id,
            "client_secret": self._password,
            "scope": scope,
        }
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as session,
            session.post(self.url, data=form) as response,
        ):
            data = await response.json(content_type=None)
        if response.status != 200 or not isinstance(data, dict) or not data.get("access_token"):
            error = data.get("error") if isinstance(data, dict) else None
            log.error("bot token request failed", extra={"status": response.status, "error": error})
            raise TokenRequestError(f"token endpoint answered {response.status} {error or ''}".strip())
        log.info("bot token acquired", extra={"scope": scope, "expires_in": data.get("expires_in")})
        return str(data["access_token"]), float(data.get("expires_in") or 3600)

    def get_token_credential(self) -> AsyncTokenCredential:
        raise NotImplementedError("hrbot's Teams bot needs no Azure SDK credential")

    async def acquire_token_on_behalf_of(self, scopes: list[str], user_assertion: str) -> str:
        raise NotImplementedError("hrbot's Teams bot acts only as itself")

    async def get_agentic_application_token(self, tenant_id: str, agent_app_instance_id: str) -> str | None:
        raise NotImplementedError("hrbot's Teams bot is not an agentic app")

    async def get_agentic_instance_token(self, tenant_id: str, agent_app_instance_id: str) -> tuple[str, str]:
        raise NotImplementedError("hrbot's Teams bot is not an agentic app")

    async def get_agentic_user_token(
        self, tenant_id: str, agent_app_instance_id: str, agentic_user_id: str, scopes: list[str]
    ) -> str | None:
        raise NotImplementedError("hrbot's Teams bot is not an agentic app")


class BotConnections(Connections):
    """The SDK's connection manager for a bot with one app registration: every outgoing call (to
    any service URL) uses :class:`ClientCredentials`. Anonymous turns (validation explicitly off)
    never ask: the SDK sends those replies without a token."""

    def __init__(self, credentials: ClientCredentials | None) -> None:
        self.credentials = credentials

    def _provider(self) -> AccessTokenProviderBase:
        if self.credentials is None:
            raise TokenRequestError("HRBOT_TEAMS_APP_ID and HRBOT_TEAMS_APP_PASSWORD are needed to reply")
        return self.credentials

    def get_connection(self, connection_name: str) -> AccessTokenProviderBase:
        return self._provider()

    def get_default_connection(self) -> AccessTokenProviderBase:
        return self._provider()

    def get_token_provider(self, claims_identity: ClaimsIdentity, service_url: str) -> AccessTokenProviderBase:
        return self._provider()

    def get_token_provider_from_activity(
        self, claims_identity: ClaimsIdentity, activity: Activity
    ) -> AccessTokenProviderBase:
        return self._provider()

    def get_default_connection_configuration(self) -> AgentAuthConfiguration:
        return self._provider().configuration
