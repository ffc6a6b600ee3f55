"""``hrbot teams package``: the Teams app package (manifest.json and icons) to sideload the bot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Microsoft Teams: the app package to sideload the bot.", no_args_is_help=True)
err = Console(stderr=True)


@app.callback()
def _teams() -> None:
    """Microsoft Teams: the app package to sideload the bot."""


@app.command("package")
def package(
    out: Annotated[Path, typer.Option("--out", help="Where to write the zip.")] = Path("hrbot-teams.zip"),
    app_id: Annotated[
        str | None, typer.Option("--app-id", help="The bot's Microsoft App ID; default: HRBOT_TEAMS_APP_ID.")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Short name shown in Teams (30 characters).")] = "hrbot",
    developer: Annotated[str, typer.Option("--developer", help="Developer (company) name.")] = "Your company",
    website: Annotated[
        str, typer.Option("--website", help="Developer website (https).")
    ] = "https://github.com/hrbot/hrbot",
    privacy_url: Annotated[str, typer.Option("--privacy-url", help="Privacy statement (https).")] = (
        "https://github.com/hrbot/hrbot#privacy"
    ),
    terms_url: Annotated[str, typer.Option("--terms-url", help="Terms of use (https).")] = (
        "https://github.com/hrbot/hrbot#license"
    ),
    version: Annotated[str, typer.Option("--version", help="App version; raise it for each upload.")] = "1.0.0",
    accent_color: Annotated[str, typer.Option("--accent-color", help="Icon background, #RRGGBB.")] = "#3B5BDB",
    color_icon: Annotated[Path | None, typer.Option("--color-icon", help="Your own 192x192 PNG.")] = None,
    outline_icon: Annotated[Path | None, typer.Option("--outline-icon", help="Your own 32x32 white PNG.")] = None,
) -> None:
    """Build the Teams app package: manifest.json (the bot in personal chats, teams and group
    chats) and its colour and outline icons, zipped. Upload it in Teams: Apps > Manage your apps >
    Upload an app."""
    from bot.teams.package import AppInfo, PackageError, build_package
    from hr.settings import Settings

    bot_id = app_id or Settings().teams_app_id
    if not bot_id:
        err.print("set HRBOT_TEAMS_APP_ID (the Azure Bot's Microsoft App ID) or pass --app-id")
        raise typer.Exit(2)
    info = AppInfo(
        app_id=bot_id,
        name=name,
        developer=developer,
        website=website,
        privacy_url=privacy_url,
        terms_url=terms_url,
        version=version,
        accent_color=accent_color,
    )
    try:
        written = build_package(info, out, color=color_icon, outline=outline_icon)
    except (PackageError, OSError) as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
    typer.echo(f"wrote {written} (manifest.json, color.png, outline.png) for bot {bot_id}")
