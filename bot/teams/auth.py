"""Who may post to ``/api/messages``: the Bot Connector service, proven by a signed JWT.

The Agents SDK validates tokens too (``jwt_authorization_middleware``), but fetches its keys from
Microsoft addresses written into it, so no test could reach them. This validator follows the same
Bot Framework rules with the OpenID metadata address as a setting
(``HRBOT_TEAMS_OPENID_METADATA_URL``, login.botframework.com by default): RS256 with a key from the
metadata's ``jwks_uri`` (refetched daily, and at most once a minute for a key id it does not know),
issuer as the metadata names it, audience the bot's app id, ``exp``/``nbf`` with five minutes'
leeway, the key endorsed for the activity's channel when the key lists endorsements, and the
token's ``serviceurl`` claim equal to the activity's ``serviceUrl``.

Validation is on unless ``HRBOT_TEAMS_AUTH_DISABLED=true`` says otherwise (local tests against a
fake connector); the app then logs a warning at start.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import jwt
from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp.web_exceptions import NotAppKeyWarning
from microsoft_agents.hosting.core import ClaimsIdentity

log = logging.getLogger(__name__)

LEEWAY_S = 300
METADATA_TTL_S = 24 * 3600.0
UNKNOWN_KID_REFRESH_S = 60.0
FETCH_TIMEOUT_S = 10.0
CLAIMS_KEY = "claims_identity"  # read by the SDK's AiohttpRequestAdapter.get_claims_identity()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TokenError(Exception):
    """The request's token is missing or not acceptable (answered 401)."""


class TokenValidator:
    """Validates the ``Authorization: Bearer`` JWT of the Bot Connector's requests."""

    def __init__(self, *, app_id: str, metadata_url: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.app_id = app_id
        self.metadata_url = metadata_url
        self.clock = clock
        self._issuer: str | None = None
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def validate(self, authorization: str | None, activity: dict[str, Any]) -> dict[str, Any]:
        """The token's claims, or :class:`TokenError`."""
        token = _bearer(authorization)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError("malformed token") from exc
        if header.get("alg") != "RS256":
            raise TokenError("unexpected algorithm")
        kid = str(header.get("kid") or "")
        jwk = await self._key(kid)
        endorsements = jwk.get("endorsements")
        channel = str(activity.get("channelId") or "")
        if isinstance(endorsements, list) and channel not in endorsements:
            raise TokenError("key not endorsed for the channel")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=jwt.PyJWK(jwk).key,
                algorithms=["RS256"],
                audience=self.app_id,
                issuer=self._issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenError(type(exc).__name__) from exc
        claimed = claims.get("serviceurl") or claims.get("serviceUrl")
        if claimed is not None and _norm_url(str(claimed)) != _norm_url(str(activity.get("serviceUrl") or "")):
            raise TokenError("serviceurl claim does not match the activity")
        return claims

    async def _key(self, kid: str) -> dict[str, Any]:
        async with self._lock:
            now = self.clock()
            stale = self._fetched_at is None or now - self._fetched_at > METADATA_TTL_S
            unknown = kid not in self._keys and (
                self._fetched_at is None or now - self._fetched_at > UNKNOWN_KID_REFRESH_S
            )
            if stale or unknown:
                await self._refresh()
            found = self._keys.get(kid)
        if found is None:
            raise TokenError("unknown signing key")
        return found

    async def _refresh(self) -> None:
        session = self._client()
        try:
            metadata = await _get_json(session, self.metadata_url)
            issuer = str(metadata["issuer"])  # no issuer named: nothing to check tokens against
            jwks = await _get_json(session, str(metadata["jwks_uri"]))
        except (TimeoutError, aiohttp.ClientError, KeyError, ValueError) as exc:
            log.warning("openid metadata fetch failed", extra={"url": self.metadata_url, "error": repr(exc)})
            if self._fetched_at is None:
                raise TokenError("signing keys unavailable") from exc
            return  # keep the keys we had
        self._issuer = issuer
        self._keys = {str(k["kid"]): k for k in jwks.get("keys", []) if isinstance(k, dict) and k.get("kid")}
        self._fetched_at = self.clock()
        log.info("signing keys fetched", extra={"url": self.metadata_url, "keys": len(self._keys)})

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def auth_middleware(validator: TokenValidator | None, path: str) -> Middleware:
    """aiohttp middleware for ``path``: the validated claims (or, with ``validator=None`` because
    validation is explicitly off, an anonymous identity) go to ``request["claims_identity"]``, where
    the SDK's adapter reads them; anything else is answered 401 before the bot sees it."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != path or request.method != "POST":
            return await handler(request)
        if validator is None:
            _set_identity(request, ClaimsIdentity())
            return await handler(request)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "invalid JSON"}, status=400)
        try:
            claims = await validator.validate(
                request.headers.get("Authorization"), body if isinstance(body, dict) else {}
            )
        except TokenError as exc:
            log.warning("refused a request", extra={"reason": str(exc), "remote": request.remote})
            return web.json_response({"error": "Invalid token or authentication failed."}, status=401)
        _set_identity(request, ClaimsIdentity(claims, authentication_type="Bearer"))
        return await handler(request)

    return middleware


def _set_identity(request: web.Request, identity: ClaimsIdentity) -> None:
    """Where the SDK's adapter reads it: a plain string key (aiohttp would rather have a RequestKey)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotAppKeyWarning)
        request[CLAIMS_KEY] = identity


def _bearer(authorization: str | None) -> str:
    parts = (authorization or "").split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise TokenError("no bearer token")
    return parts[1]


def _norm_url(url: str) -> str:
    return url.strip().rstrip("/").lower()


async def _get_json(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(url) as response:
        response.raise_for_status()
        data = await response.json(content_type=None)
    if not isinstance(data, dict):
        raise ValueError(f"{url} did not return a JSON object")
    return data
