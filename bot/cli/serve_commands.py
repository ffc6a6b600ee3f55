"""``hrbot serve slack``: the Slack bot over the Events API (HTTP) or Socket Mode (``--socket``)."""

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
    search = SearchService(runtime.settings, runtime.url)
    search.warm_up()
    engine = Engine(runtime.settings, search)
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
