"""``hrbot beat``: a Celery beat scheduler whose entries are the sources in the database.

Every enabled source with an interval gets an entry ``sync-source:<name>`` that enqueues
``sync_source`` on the sync queue. The scheduler re-reads the sources every
``HRBOT_BEAT_RELOAD_SECONDS``, so a source added, changed or removed with ``hrbot sources`` is
picked up without restarting beat. A sync that is not picked up before the next one is due expires,
so a stopped worker does not come back to a pile of identical syncs. Nothing is kept on disk: a
new beat starts each source from its last successful sync.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import schedules
from celery.beat import ScheduleEntry, Scheduler

from hr.db import database_url, make_engine, make_sessionmaker, unit_of_work
from hr.migrate import ensure_schema
from hr.settings import Settings
from workers import store
from workers.celery_app import SYNC_QUEUE
from workers.tasks import SYNC_SOURCE

log = logging.getLogger(__name__)

ENTRY_PREFIX = "sync-source:"


def source_entries(app: Any, sources: list[Any], previous: dict[str, ScheduleEntry]) -> dict[str, ScheduleEntry]:
    """One entry per scheduled source; an unchanged source keeps its entry (and its last run)."""
    entries: dict[str, ScheduleEntry] = {}
    for source in sources:
        name = ENTRY_PREFIX + source.name
        every = timedelta(seconds=max(10, int(source.interval_seconds)))
        kwargs = {"source_id": source.id, "trigger": "schedule"}
        old = previous.get(name)
        if old is not None and old.schedule.run_every == every and old.kwargs == kwargs:
            entries[name] = old
            continue
        last = source.last_success_started_at
        entries[name] = ScheduleEntry(
            name=name,
            task=SYNC_SOURCE,
            schedule=schedules.schedule(every),
            kwargs=kwargs,
            options={"queue": SYNC_QUEUE, "expires": every.total_seconds()},
            last_run_at=last.astimezone(UTC) if last is not None else datetime.now(UTC) - every,
            app=app,
        )
    return entries


class SourceScheduler(Scheduler):
    """Beat entries from the ``sources`` table, reloaded every ``beat_reload_seconds``."""

    def __init__(self, *args: Any, settings: Settings | None = None, **kwargs: Any) -> None:
        self.settings = settings or Settings()
        self._sessions: Any = None
        self._loaded_at = 0.0
        super().__init__(*args, **kwargs)
        self.max_interval = min(float(self.max_interval), float(self.settings.beat_reload_seconds))  # type: ignore[has-type]

    def _sessionmaker(self) -> Any:
        if self._sessions is None:
            engine = make_engine(self.settings, url=database_url(self.settings))
            ensure_schema(engine)
            self._sessions = make_sessionmaker(engine)
        return self._sessions

    def setup_schedule(self) -> None:
        self.install_default_entries(self.data)
        self.reload()

    def reload(self) -> None:
        with unit_of_work(self._sessionmaker()) as session:
            sources = store.scheduled_sources(session)
        mine = {k: v for k, v in self.data.items() if k.startswith(ENTRY_PREFIX)}
        fresh = source_entries(self.app, sources, mine)
        for name in set(mine) - set(fresh):
            del self.data[name]
        self.data.update(fresh)
        self._loaded_at = time.monotonic()
        log.info("beat schedule loaded", extra={"sources": sorted(n[len(ENTRY_PREFIX) :] for n in fresh)})

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if time.monotonic() - self._loaded_at >= self.settings.beat_reload_seconds:
            try:
                self.reload()
            except Exception:
                log.exception("beat could not read the sources; keeping the schedule it has")
                self._loaded_at = time.monotonic()
        return float(super().tick(*args, **kwargs))

    @property
    def schedule(self) -> dict[str, ScheduleEntry]:
        return self.data
