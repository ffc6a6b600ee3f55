"""``hrbot serve slack``: the Slack bot over the Events API (HTTP) or Socket Mode (``--socket``);
``hrbot serve teams``: the Microsoft Teams bot (Bot Connector activities on ``/api/messages``);
``hrbot serve webhooks``: the Confluence and Microsoft Graph change webhooks; ``hrbot serve
graph-subscribe``: ask Graph to send a sharepoint source's changes to those webhooks."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from bot.cli.runtime import Runtime

app = typer.Typer(help="Run a chat surface.", no_args_is_help=True)
err = Console(stderr=True)


@app.command("slack")
def slack(
    http: Annotated[bool, typer.Option("--http", help="Receive events over HTTP (Events API).")] = True,
    socket: Annotated[
        bool, typer.Option("--socket", help="Socket Mode: connect out over a WebSocket (needs HRBOT_SLACK_APP_TOKEN).")
    ] = False,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (HTTP).")] = "0.0.0.0",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (HTTP).")] = 3000,
    path: Annotated[str, typer.Option("--path", help="Request URL path Slack posts to (HTTP).")] = "/slack/events",
    processes: Annotated[
        int, typer.Option("--processes", "-p", min=1, help="Serving processes on the port (HTTP); one per core.")
    ] = 1,
) -> None:
    """Serve the Slack bot. Needs HRBOT_SLACK_BOT_TOKEN, and HRBOT_SLACK_SIGNING_SECRET (HTTP) or
    HRBOT_SLACK_APP_TOKEN (--socket)."""
    if not (http or socket):
        err.print("choose --http or --socket")
        raise typer.Exit(2)
    from bot.engine import Engine
    from bot.slack.app import SlackConfigError, build_app, make_server
    from retrieval.pipeline import SearchService

    runtime = Runtime()
    needed = (
        ("HRBOT_SLACK_BOT_TOKEN", runtime.settings.slack_bot_token),
        ("HRBOT_SLACK_APP_TOKEN", runtime.settings.slack_app_token)
        if socket
        else ("HRBOT_SLACK_SIGNING_SECRET", runtime.settings.slack_signing_secret),
    )
    missing = [name for name, value in needed if value is None or not value.get_secret_value()]
    if missing:
        how = "Socket Mode" if socket else "the Events API (HTTP)"
        err.print(f"set {' and '.join(missing)} first (needed for {how})")
        raise typer.Exit(2)
    _ = runtime.engine  # migrate before anything reads the schema
    if processes > 1 and not socket:
        from bot.slack.serve import serve_processes

        runtime.engine.dispose()
        serve_processes(runtime.settings, host=host, port=port, path=path, processes=processes)
        return
    search = SearchService(runtime.settings, runtime.url)
    search.warm_up()
    engine = Engine(runtime.settings, search)
    engine.warm_up(runtime.sessions)  # first-use costs before the first event, not during it
    if socket:
        from bot.slack.socket import build_socket_handler, run

        try:
            handler = build_socket_handler(runtime.settings, engine, runtime.sessions)
        except SlackConfigError as exc:
            err.print(str(exc))
            raise typer.Exit(2) from None
        err.print("hrbot Slack app connecting over Socket Mode")
        run(handler)
        return
    try:
        bolt = build_app(runtime.settings, engine, runtime.sessions)
    except SlackConfigError as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
    server = make_server(bolt, host=host, port=port, path=path)
    err.print(f"hrbot Slack app listening on http://{host}:{server.server_port}{path}")
    try:
        server.serve_forever()
    finally:
        server.server_close()


@app.command("teams")
def teams(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 3978,
    path: Annotated[str, typer.Option("--path", help="Messaging endpoint path.")] = "/api/messages",
) -> None:
    """Serve the Microsoft Teams bot: the Bot Connector posts activities to PATH. Needs
    HRBOT_TEAMS_APP_ID and HRBOT_TEAMS_APP_PASSWORD (the Azure Bot's app registration); incoming
    tokens are validated unless HRBOT_TEAMS_AUTH_DISABLED=true (local tests against a fake connector)."""
    from bot.engine import Engine
    from bot.teams.app import TeamsConfigError, build_app, run
    from retrieval.pipeline import SearchService

    runtime = Runtime()
    settings = runtime.settings
    if not settings.teams_auth_disabled:
        password = settings.teams_app_password.get_secret_value() if settings.teams_app_password else None
        needed = (("HRBOT_TEAMS_APP_ID", settings.teams_app_id), ("HRBOT_TEAMS_APP_PASSWORD", password))
        missing = [name for name, value in needed if not value]
        if missing:
            err.print(
                f"set {' and '.join(missing)} first (or HRBOT_TEAMS_AUTH_DISABLED=true, only for local tests"
                " against a fake connector)"
            )
            raise typer.Exit(2)
    _ = runtime.engine  # migrate before anything reads the schema
    search = SearchService(settings, runtime.url)
    search.warm_up()
    engine = Engine(settings, search)
    engine.warm_up(runtime.sessions)  # first-use costs before the first activity, not during it
    try:
        web_app = build_app(settings, engine, runtime.sessions, path=path)
    except TeamsConfigError as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
    if settings.teams_auth_disabled:
        err.print("[bold red]token validation is OFF[/] (HRBOT_TEAMS_AUTH_DISABLED=true): local tests only")
    err.print(f"hrbot Teams bot listening on http://{host}:{port}{path}")
    run(web_app, host=host, port=port)


@app.command("webhooks")
def webhooks(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8090,
) -> None:
    """Serve the change webhooks: POST /webhooks/confluence/SOURCE, POST /webhooks/graph/SOURCE and
    GET /healthz. A changed page or file is synced at once: by the Celery workers when
    HRBOT_REDIS_URL is set, else in this process. HRBOT_WEBHOOK_SECRET signs Confluence webhooks
    (X-Hub-Signature) and is the clientState of Graph subscriptions."""
    from workers.webhook_dispatch import build_dispatcher
    from workers.webhooks import WebhookApp, make_webhook_server

    runtime = Runtime()
    settings = runtime.settings
    if settings.webhook_secret is None or not settings.webhook_secret.get_secret_value():
        err.print(
            "HRBOT_WEBHOOK_SECRET is not set: Confluence webhooks are accepted unsigned and"
            " Graph notifications are refused (503)"
        )
    dispatcher = build_dispatcher(settings, runtime.engine, runtime.sessions)
    server = make_webhook_server(WebhookApp(settings, runtime.sessions, dispatcher), host=host, port=port)
    where = "Celery workers" if settings.redis_url is not None else "this process"
    err.print(
        f"hrbot webhooks listening on http://{host}:{server.server_port}"
        f" (/webhooks/confluence/SOURCE, /webhooks/graph/SOURCE, /healthz); syncs run in {where}"
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
        dispatcher.close()


@app.command("graph-subscribe")
def graph_subscribe(
    source: Annotated[str, typer.Argument(help="A sharepoint source (name or id).")],
    url: Annotated[
        str,
        typer.Option(
            "--url",
            help="Public address of `hrbot serve webhooks`, e.g. https://hrbot.acme.com"
            " (/webhooks/graph/SOURCE is added unless given).",
        ),
    ],
    minutes: Annotated[
        int, typer.Option("--minutes", min=1, max=42300, help="Lifetime of the subscription (Graph allows < 30 days).")
    ] = 4230,
) -> None:
    """Create a Microsoft Graph change-notification subscription for a sharepoint source, with
    HRBOT_WEBHOOK_SECRET as its clientState. Graph validates the URL at once, so `hrbot serve
    webhooks` must be reachable there. Subscriptions expire: run this again before they do."""
    from urllib.parse import quote, urlsplit

    from connectors import registry
    from connectors.base import ConnectorError
    from hr.db import unit_of_work
    from workers import store

    runtime = Runtime()
    secret = runtime.settings.webhook_secret
    if secret is None or not secret.get_secret_value():
        err.print("set HRBOT_WEBHOOK_SECRET first: it is the clientState that proves a notification came from Graph")
        raise typer.Exit(2)
    with unit_of_work(runtime.sessions) as session:
        try:
            found = store.get_source(session, source)
        except store.SourceNotFound as exc:
            err.print(str(exc))
            raise typer.Exit(2) from None
        name, kind, settings, state = found.name, found.kind, dict(found.settings or {}), dict(found.state or {})
    if kind != "sharepoint":
        err.print(f"{name} is a {kind} source; Graph subscriptions are for sharepoint sources")
        raise typer.Exit(2)
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        err.print(f"--url must be an http(s) address, not {url!r}")
        raise typer.Exit(2)
    notification_url = url.strip().rstrip("/")
    if "/webhooks/graph/" not in parts.path:
        notification_url += f"/webhooks/graph/{quote(name, safe='')}"
    try:
        connector = registry.build(kind, settings, state=state)
        try:
            subscription_id = connector.subscribe(notification_url, secret.get_secret_value(), minutes)
        finally:
            connector.close()
    except ConnectorError as exc:
        err.print(f"cannot subscribe {name}: {exc}")
        raise typer.Exit(1) from None
    typer.echo(f"subscribed {name}: subscription {subscription_id} -> {notification_url}, for {minutes} minutes")
