"""``hrbot worker`` and ``hrbot beat``: the Celery side (needs HRBOT_REDIS_URL)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from hr.settings import Settings

err = Console(stderr=True)


def _configured() -> tuple[Settings, object]:
    from workers.celery_app import RedisNotConfigured, configure

    settings = Settings()
    try:
        return settings, configure(settings)
    except RedisNotConfigured as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None


def worker(
    queues: Annotated[str, typer.Option("--queues", "-Q", help="Queues to consume.")] = "hrbot.sync,hrbot.chat",
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", help="Tasks at once.")] = 2,
    pool: Annotated[str, typer.Option("--pool", help="threads (one model in memory), prefork or solo.")] = "threads",
    loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "info",
    hostname: Annotated[str | None, typer.Option("--hostname", "-n", help="Worker node name.")] = None,
) -> None:
    """Run a Celery worker: syncs on hrbot.sync, Slack reports on hrbot.chat."""
    from hr.db import database_url, make_engine
    from hr.migrate import ensure_schema
    from workers.celery_app import app

    settings, _ = _configured()
    ensure_schema(make_engine(settings, url=database_url(settings)))
    argv = ["worker", "-Q", queues, "-c", str(concurrency), "-P", pool, "-l", loglevel, "--without-gossip"]
    if hostname:
        argv += ["-n", hostname]
    app.worker_main(argv)


def beat(
    loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "info",
) -> None:
    """Run Celery beat: enqueue each source's sync on its interval (sources re-read every HRBOT_BEAT_RELOAD_SECONDS)."""
    from workers.celery_app import app
    from workers.schedule import SourceScheduler

    settings, _ = _configured()
    app.Beat(scheduler=SourceScheduler, loglevel=loglevel.upper(), max_interval=settings.beat_reload_seconds).run()
