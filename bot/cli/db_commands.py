"""``hrbot db``: the schema."""

from __future__ import annotations

import typer
from rich.console import Console

from bot.cli.runtime import Runtime
from hr.migrate import current_revision, head_revision, upgrade

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
out = Console()


@app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations (they also apply on first use)."""
    runtime = Runtime(migrate=False)
    upgrade(runtime.engine, revision)
    out.print(f"database at revision {current_revision(runtime.engine)}")


@app.command("status")
def db_status() -> None:
    """Show which database is used and its schema revision."""
    runtime = Runtime(migrate=False)
    embedded = runtime.settings.database_url is None
    where = f"embedded PostgreSQL in {runtime.settings.embedded_pgdata()}" if embedded else "HRBOT_DATABASE_URL"
    current, head = current_revision(runtime.engine), head_revision(runtime.engine)
    out.print(f"database: {where}\nrevision: {current or '(empty)'} (code: {head})")
    if current != head:
        out.print("run `hrbot db upgrade` (or any command) to migrate")
