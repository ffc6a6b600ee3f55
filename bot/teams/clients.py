"""How the bot talks to the Bot Connector: the SDK's REST client factory, with its HTTP sessions
kept for the life of the app.

The SDK builds, for every turn, a connector client and a user-token client, each with an HTTP
session of its own, and closes them when the turn ends; a message costs two turns here (the
incoming one, acknowledged at once, and the reply's). So every reply opened a new connection to the
connector (in production a TLS handshake with it), and a user-token client hrbot never uses (it
signs no user in) was built twice. This factory keeps one session per service URL, whose
keep-alive connections every turn's connector client shares, and one idle user-token client.
Tokens are still asked of the connection manager for every client, as the SDK does (they are cached
by :class:`bot.teams.credentials.ClientCredentials`).
"""

from __future__ import annotations

import logging

import aiohttp
from microsoft_agents.hosting.core import (
    AnonymousTokenProvider,
    AuthenticationConstants,
    ClaimsIdentity,
    Connections,
    RestChannelServiceClientFactory,
    TurnContext,
)
from microsoft_agents.hosting.core.connector import ConnectorClientBase, TeamsConnectorClient, UserTokenClient

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0


class BotClientFactory(RestChannelServiceClientFactory):
    def __init__(self, connections: Connections) -> None:
        super().__init__(connections)
        self.connections = connections
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._user_tokens: _SharedUserTokenClient | None = None

    async def create_connector_client(
        self,
        context: TurnContext | None,
        claims_identity: ClaimsIdentity,
        service_url: str,
        audience: str,
        scopes: list[str] | None = None,
        use_anonymous: bool = False,
    ) -> ConnectorClientBase:
        if not service_url or not audience:
            raise TypeError("create_connector_client: service_url and audience are required")
        provider = (
            AnonymousTokenProvider()
            if use_anonymous
            else self.connections.get_token_provider(claims_identity, service_url)
        )
        token = await provider.get_access_token(audience, scopes or claims_identity.get_token_scope())
        endpoint = service_url if service_url.endswith("/") else service_url + "/"
        return _SharedSessionConnectorClient(endpoint, token, session=self._session(endpoint))

    async def create_user_token_client(
        self, context: TurnContext, claims_identity: ClaimsIdentity, use_anonymous: bool = False
    ) -> UserTokenClient:
        if self._user_tokens is None:
            app_id = claims_identity.get_app_id() or "hrbot"
            self._user_tokens = _SharedUserTokenClient(AuthenticationConstants.AGENTS_SDK_OAUTH_URL, "", app_id=app_id)
        return self._user_tokens

    def _session(self, endpoint: str) -> aiohttp.ClientSession:
        session = self._sessions.get(endpoint)
        if session is None or session.closed:
            session = aiohttp.ClientSession(base_url=endpoint, timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))
            self._sessions[endpoint] = session
            log.info("connector session opened", extra={"service_url": endpoint})
        return session

    async def close(self) -> None:
        """Close the shared sessions (at shutdown)."""
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()
        if self._user_tokens is not None:
            await self._user_tokens.close_session()


class _SharedSessionConnectorClient(TeamsConnectorClient):
    """A turn's connector client on the shared session of its service URL. The bot has one identity,
    so the session's ``Authorization`` header is the same for every turn (a refreshed token replaces
    it; the one it replaces is still valid)."""

    async def close(self) -> None:
        """Every turn closes its connector client; the session stays open for the next one."""


class _SharedUserTokenClient(UserTokenClient):
    async def close(self) -> None:
        """Every turn closes its user-token client; this one lives as long as the app."""

    async def close_session(self) -> None:
        await super().close()
