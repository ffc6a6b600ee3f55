"""``hrbot sources add|list|show|remove|sync`` and ``hrbot reindex``: sources that sync on their own."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.cli.runtime import Runtime

app = typer.Typer(help="Sources: where policies and HR data come from, and how often they sync.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

DURATION = re.compile(r"^(\d+)\s*([smhd]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(value: str) -> int | None:
    """``15m``, ``1h``, ``900`` (seconds) or ``off`` (only on demand)."""
    if value.strip().lower() in ("off", "none", "manual", "0"):
        return None
    match = DURATION.match(value.strip().lower())
    if not match:
        raise typer.BadParameter(f"give an interval like 15m, 1h, 900 or off (got {value!r})")
    seconds = int(match.group(1)) * UNITS[match.group(2)]
    if seconds < 10:
        raise typer.BadParameter("the shortest interval is 10 seconds")
    return seconds


def parse_settings(pairs: list[str], raw_json: str | None) -> dict[str, Any]:
    settings: dict[str, Any] = json.loads(raw_json) if raw_json else {}
    if not isinstance(settings, dict):
        raise typer.BadParameter("--json takes a JSON object")
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"--set takes key=value, got {pair!r}")
        settings[key.strip()] = value.strip()
    for key in settings:
        if any(word in key.lower() for word in ("secret", "token", "password", "api_key")) and not key.endswith("_env"):
            raise typer.BadParameter(
                f"{key!r} looks like a secret: secrets come from the environment only"
                f" (name the variable with --set {key}_env=VARIABLE)"
            )
    return settings


def _interval_text(seconds: int | None) -> str:
    if seconds is None:
        return "on demand"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"every {seconds // size}{unit}"
    return f"every {seconds}s"


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="A short unique name, e.g. confluence-hr.")],
    kind: Annotated[str, typer.Option("--kind", help="folder, confluence, sharepoint, website, hr-csv, bamboohr.")],
    set_: Annotated[list[str], typer.Option("--set", help="A connector setting key=value.")] = [],  # noqa: B006
    raw_json: Annotated[str | None, typer.Option("--json", help="Settings as a JSON object.")] = None,
    every: Annotated[str | None, typer.Option("--every", help="Sync interval: 15m, 1h, off.")] = None,
    check: Annotated[bool, typer.Option(help="Build the connector now to check the settings.")] = True,
) -> None:
    """Add a source. Secrets are read from the environment (see `hrbot sources kinds`)."""
    from connectors import registry
    from connectors.base import ConnectorConfigError
    from hr.db import unit_of_work
    from workers import store

    settings = parse_settings(set_, raw_json)
    try:
        registry.kind(kind)
        if check:
            connector = registry.build(kind, settings)
            close = getattr(connector, "close", None)
            if callable(close):
                close()
    except ConnectorConfigError as exc:
        err.print(f"cannot add {name}: {exc}")
        raise typer.Exit(2) from None
    runtime = Runtime()
    interval = parse_interval(every) if every else runtime.settings.sync_interval_seconds
    with unit_of_work(runtime.sessions) as session:
        try:
            source = store.add_source(session, name, kind, settings, interval)
        except ValueError as exc:
            err.print(str(exc))
            raise typer.Exit(2) from None
    out.print(
        f"added source {source.name} ({kind}), {_interval_text(interval)}; sync it now with `hrbot sources sync {name}`"
    )


@app.command("kinds")
def kinds() -> None:
    """The connector kinds and their settings."""
    from connectors.registry import KINDS

    table = Table("kind", "feeds", "what", "settings")
    for spec in KINDS.values():
        table.add_row(spec.name, spec.target, spec.description, spec.settings_help)
    out.print(table)


@app.command("list")
def list_() -> None:
    """Every source, its schedule and its last sync."""
    from hr.db import unit_of_work
    from workers import store

    runtime = Runtime()
    table = Table("source", "kind", "schedule", "documents", "last sync", "status")
    with unit_of_work(runtime.sessions) as session:
        last = store.last_runs(session)
        for source in store.list_sources(session):
            live, _ = store.document_counts(session, source.id)
            run = last.get(source.id)
            when = run.started_at.strftime("%Y-%m-%d %H:%M") if run else "never"
            schedule = _interval_text(source.interval_seconds) if source.enabled else "disabled"
            table.add_row(source.name, source.kind, schedule, str(live), when, run.status if run else "")
    out.print(table)


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="Source name.")]) -> None:
    """A source's settings, documents and recent sync runs (status, counts, errors, duration)."""
    from hr.db import unit_of_work
    from workers import store

    runtime = Runtime()
    with unit_of_work(runtime.sessions) as session:
        try:
            source = store.get_source(session, name)
        except store.SourceNotFound as exc:
            err.print(str(exc))
            raise typer.Exit(2) from None
        live, removed = store.document_counts(session, source.id)
        runs = store.recent_runs(session, source.id)
        out.print(f"[bold]{source.name}[/bold] ({source.kind}), {_interval_text(source.interval_seconds)}")
        out.print(f"settings: {json.dumps(source.settings, sort_keys=True)}")
        out.print(f"documents: {live} in search, {removed} removed at the source")
        good = source.last_success_started_at
        out.print(f"last good sync started: {good.strftime('%Y-%m-%d %H:%M:%S %Z') if good else 'never'}")
        table = Table("run", "trigger", "mode", "status", "started", "seconds", "counts", "errors")
        for run in runs:
            counts = ", ".join(f"{k} {v}" for k, v in run.counts.items() if v)
            table.add_row(
                str(run.id),
                run.trigger,
                run.mode,
                run.status,
                run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                f"{run.seconds:.1f}" if run.seconds is not None else "",
                counts,
                "\n".join(str(e) for e in run.errors[:5])
                + (f"\n… {len(run.errors) - 5} more" if len(run.errors) > 5 else ""),
            )
        out.print(table)


def _errors_text(errors: list[Any]) -> str:
    text = "\n".join(str(e) for e in errors[:5])
    return text + (f"\n… {len(errors) - 5} more" if len(errors) > 5 else "")


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="Source name.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Delete a source with its documents and chunks (answers already given keep their audit text)."""
    from hr.db import unit_of_work
    from retrieval.store import refresh_search_terms
    from workers import store

    runtime = Runtime()
    if not yes:
        typer.confirm(f"delete source {name} and everything indexed from it?", abort=True)
    with unit_of_work(runtime.sessions) as session:
        try:
            source = store.get_source(session, name)
        except store.SourceNotFound as exc:
            err.print(str(exc))
            raise typer.Exit(2) from None
        store.remove_source(session, source)
        refresh_search_terms(session)
    out.print(f"removed source {name}")


class _Bar:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("syncing", total=None)

    def files_total(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def file_done(self, path: str) -> None:
        self.progress.update(self.task, advance=1, description=f"[dim]{path[-50:]}")


@app.command("sync")
def sync(
    name: Annotated[str, typer.Argument(help="Source name.")],
    full: Annotated[bool, typer.Option("--full", help="Read everything, not only what changed.")] = False,
) -> None:
    """Sync one source now, in this process (no worker needed)."""
    from workers.store import SourceNotFound
    from workers.sync import Syncer

    runtime = Runtime()
    syncer = Syncer(runtime.settings, runtime.engine, runtime.sessions)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err, transient=True) as progress:
            result = syncer.sync(name, trigger="cli", full=full, progress=_Bar(progress))
    except SourceNotFound as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
    out.print(result.summary())
    if result.status == "failed":
        raise typer.Exit(1)


def reindex(
    source: Annotated[str | None, typer.Argument(help="Source name (default: every source).")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the workers to finish and print the results.")] = False,
) -> None:
    """Re-read a source (or all) from scratch: on the Celery workers when HRBOT_REDIS_URL is set, else here."""
    from hr.db import unit_of_work
    from workers import store

    runtime = Runtime()
    with unit_of_work(runtime.sessions) as session:
        try:
            sources = [store.get_source(session, source)] if source else store.list_sources(session)
        except store.SourceNotFound as exc:
            err.print(str(exc))
            raise typer.Exit(2) from None
        targets = [(s.id, s.name) for s in sources]
    if not targets:
        err.print("no sources yet: `hrbot sources add` or `hrbot ingest`")
        raise typer.Exit(2)
    if runtime.settings.redis_url is None:
        from workers.sync import Syncer

        syncer = Syncer(runtime.settings, runtime.engine, runtime.sessions)
        failed = False
        for source_id, _ in targets:
            result = syncer.sync(source_id, trigger="cli", full=True)
            out.print(result.summary())
            failed |= result.status == "failed"
        raise typer.Exit(1 if failed else 0)
    from workers.dispatch import enqueue_reindex

    handle = enqueue_reindex(runtime.settings, [i for i, _ in targets], trigger="cli")
    out.print(f"queued a full sync of {', '.join(n for _, n in targets)} (task group {handle.id})")
    if wait:
        for payload in handle.get(disable_sync_subtasks=False):
            from workers.sync import SyncResult

            out.print(SyncResult(**payload).summary())
