"""``hrbot``: one console script for every job."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.console import Console

from bot.cli import (
    ask_commands,
    audit_commands,
    db_commands,
    people_commands,
    search_commands,
    serve_commands,
    sources_commands,
    teams_commands,
    worker_commands,
)

app = typer.Typer(
    name="hrbot",
    help="hrbot: an HR assistant that answers from your policies, with citations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db_commands.app, name="db")
app.add_typer(audit_commands.app, name="audit")
app.add_typer(people_commands.app, name="people")
app.add_typer(serve_commands.app, name="serve")
app.add_typer(sources_commands.app, name="sources")
app.add_typer(teams_commands.app, name="teams")
app.command("ingest")(search_commands.ingest)
app.command("search")(search_commands.search)
app.command("eval")(search_commands.evaluate_command)
app.command("ask")(ask_commands.ask)
app.command("demo")(ask_commands.demo)
app.command("reindex")(sources_commands.reindex)
app.command("worker")(worker_commands.worker)
app.command("beat")(worker_commands.beat)

err = Console(stderr=True)


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "sentence_transformers", "haystack", "transformers", "pgserver", "celery", "kombu"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        raise SystemExit(130) from None
