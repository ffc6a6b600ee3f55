"""The same Bolt app over Socket Mode: no public request URL, Slack pushes envelopes down a WebSocket.

``apps.connections.open`` (with the app-level token, ``xapp-…``) returns a one-off WebSocket URL;
the built-in client of ``slack_sdk`` connects there, receives ``hello`` and then envelopes
(``events_api``, ``slash_commands``, ``interactive``), and acknowledges each with its
``envelope_id`` (plus a payload when the listener's ``ack`` carries one). The Web API client is the
app's own, so its base URL (``HRBOT_SLACK_API_URL``, a fake on loopback in tests) serves both the
replies and ``apps.connections.open``. Requests arriving over the socket are not signed, so the
signing secret is optional here.
"""

from __future__ import annotations

import secrets

from pydantic import SecretStr
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.engine import Engine
from bot.slack.app import SlackConfigError, build_app
from hr.settings import Settings

APP_TOKEN_SETTING = "HRBOT_SLACK_APP_TOKEN"


def app_token(settings: Settings) -> str:
    """The app-level token Socket Mode connects with; :class:`SlackConfigError` when it is missing."""
    secret = settings.slack_app_token
    if secret is None or not secret.get_secret_value():
        raise SlackConfigError(f"{APP_TOKEN_SETTING} is not set (an app-level token, xapp-…, with connections:write)")
    return secret.get_secret_value()


def build_socket_handler(
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    *,
    client: WebClient | None = None,
    ping_interval: float = 10,
) -> SocketModeHandler:
    """The Bolt app of :func:`bot.slack.app.build_app` behind a Socket Mode handler (not yet
    connected: call ``connect()`` to run in the background, or ``start()`` to block)."""
    token = app_token(settings)
    if settings.slack_signing_secret is None or not settings.slack_signing_secret.get_secret_value():
        # Bolt wants a secret, but socket envelopes are never signature-checked and no HTTP
        # endpoint is served: a random one keeps the HTTP path closed.
        settings = settings.model_copy(update={"slack_signing_secret": SecretStr(secrets.token_hex(32))})
    app = build_app(settings, engine, sessions, client=client)
    return SocketModeHandler(app, app_token=token, web_client=app.client, ping_interval=ping_interval)


def run(handler: SocketModeHandler) -> None:
    """Connect and block until interrupted; the connection and its threads are closed on the way out."""
    try:
        handler.start()  # type: ignore[no-untyped-call]
    finally:
        handler.close()  # type: ignore[no-untyped-call]
