"""The Teams bot: an aiohttp app serving ``/api/messages`` with the Microsoft 365 Agents SDK's
``CloudAdapter``, wired to the engine. Only this package imports the Agents SDK.

Every request passes :func:`bot.teams.auth.auth_middleware` first (the Bot Connector's JWT, unless
``HRBOT_TEAMS_AUTH_DISABLED=true`` says otherwise, which is logged as a warning). Replies go to the
activity's ``serviceUrl`` (the tests' fake connector on loopback) with the bot's token from
:mod:`bot.teams.credentials`. ``GET /healthz`` answers 200.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiohttp import web
from microsoft_agents.hosting.aiohttp import CloudAdapter
from sqlalchemy.orm import Session, sessionmaker

from bot.chatstate.store import AnsweredThreads, SeenEvents, SharedRateLimiter, state_engine
from bot.engine import Engine
from bot.teams.auth import TokenValidator, auth_middleware
from bot.teams.clients import BotClientFactory
from bot.teams.credentials import BotConnections, ClientCredentials, token_url
from bot.teams.handlers import Deps, TeamsBot, on_turn_error
from bot.teams.identity import TeamsIdentity
from hr.db import make_sessionmaker
from hr.settings import Settings

log = logging.getLogger(__name__)

MESSAGES_PATH = "/api/messages"
MAX_BODY = 1024 * 1024
BOT_KEY = web.AppKey("hrbot_teams_bot", TeamsBot)


class TeamsConfigError(ValueError):
    """A setting the Teams bot cannot run without is missing."""


def build_app(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session], *, path: str = MESSAGES_PATH
) -> web.Application:
    """The aiohttp app. Validation of incoming tokens needs ``HRBOT_TEAMS_APP_ID``; replies with a
    token need ``HRBOT_TEAMS_APP_PASSWORD`` too. Neither is needed when validation is explicitly
    off (local tests against a fake connector)."""
    _cache_product_info()
    validator = _validator(settings)
    credentials = _credentials(settings)
    clients = BotClientFactory(BotConnections(credentials))
    adapter = CloudAdapter(channel_service_client_factory=clients)
    adapter.on_turn_error = on_turn_error
    executor = ThreadPoolExecutor(max_workers=max(settings.teams_answer_threads, 1), thread_name_prefix="teams-answer")
    state = make_sessionmaker(state_engine(sessions))  # shared by every bot process, through PostgreSQL
    deps = Deps(
        settings=settings,
        engine=engine,
        sessions=sessions,
        identity=TeamsIdentity(),
        limiter=SharedRateLimiter(state, "teams", settings.teams_rate_limit_per_minute),
        executor=executor,
        seen=SeenEvents(state, "teams"),
        threads=AnsweredThreads(state, "teams"),
    )
    bot = TeamsBot(deps, adapter)

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await adapter.process(request, bot)
        return response if response is not None else web.Response(status=202)

    async def healthz(request: web.Request) -> web.StreamResponse:
        return web.json_response({"ok": True})

    async def cleanup(app: web.Application) -> None:
        await bot.drain()
        if validator is not None:
            await validator.close()
        await clients.close()
        executor.shutdown(wait=False, cancel_futures=True)

    app = web.Application(middlewares=[auth_middleware(validator, path)], client_max_size=MAX_BODY)
    app[BOT_KEY] = bot
    app.router.add_post(path, messages)
    app.router.add_get("/healthz", healthz)
    app.on_cleanup.append(cleanup)
    return app


def _cache_product_info() -> None:
    """The SDK builds its User-Agent with ``importlib.metadata.version()`` of a distribution that is
    not installed, for every connector and token client it creates (four a message): a scan of
    ``sys.path`` each time, about a fifth of the event loop's time under load
    (benchmarks/teams_load.py). The string cannot change while the process runs: compute it once."""
    from microsoft_agents.hosting.core.connector import get_product_info

    product = get_product_info()
    for name in ("connector_client", "user_token_client"):
        client_module = importlib.import_module(f"microsoft_agents.hosting.core.connector.client.{name}")
        if callable(getattr(client_module, "get_product_info", None)):
            setattr(client_module, "get_product_info", lambda: product)  # noqa: B010 (a module global)


def _validator(settings: Settings) -> TokenValidator | None:
    if settings.teams_auth_disabled:
        log.warning(
            "Teams token validation is OFF (HRBOT_TEAMS_AUTH_DISABLED=true): anyone who can reach the "
            "endpoint can post as anyone. Use this only for local tests against a fake connector.",
            extra={"setting": "HRBOT_TEAMS_AUTH_DISABLED"},
        )
        return None
    if not settings.teams_app_id:
        raise TeamsConfigError(
            "HRBOT_TEAMS_APP_ID is not set (set HRBOT_TEAMS_AUTH_DISABLED=true only for local tests)"
        )
    return TokenValidator(app_id=settings.teams_app_id, metadata_url=settings.teams_openid_metadata_url)


def _credentials(settings: Settings) -> ClientCredentials | None:
    password = settings.teams_app_password.get_secret_value() if settings.teams_app_password else ""
    if not settings.teams_app_id or not password:
        if not settings.teams_auth_disabled:
            raise TeamsConfigError("HRBOT_TEAMS_APP_PASSWORD is not set: the bot could not sign its replies")
        return None
    return ClientCredentials(
        settings.teams_app_id,
        password,
        url=settings.teams_token_url or token_url(settings.teams_tenant_id),
        tenant_id=settings.teams_tenant_id,
    )


def run(app: web.Application, *, host: str = "0.0.0.0", port: int = 3978) -> None:
    """Serve until interrupted (``hrbot serve teams``)."""
    web.run_app(app, host=host, port=port, print=None, access_log=None, backlog=512)


@dataclass
class BackgroundServer:
    """The app on its own event loop in a daemon thread (tests, benchmarks). ``port=0`` picks a
    free port: read :attr:`port` after :meth:`start`."""

    app: web.Application
    host: str = "127.0.0.1"
    port: int = 0

    def start(self) -> BackgroundServer:
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(self.app, access_log=None)
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port, backlog=512)
            self._loop.run_until_complete(site.start())
            addresses = self._runner.addresses
            self.port = int(addresses[0][1]) if addresses else self.port
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="teams-server", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the Teams app did not start")
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{MESSAGES_PATH}"

    def stop(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        future.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
