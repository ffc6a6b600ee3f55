"""Where a webhook's sync goes: a Celery worker (``HRBOT_REDIS_URL`` set) or a thread of this process.

Both dispatchers keep the same promise: :meth:`SyncDispatcher.submit` never blocks on the sync, and
notifications that arrive for a source while a sync of it is queued or running are merged into one
pending follow-up per source (a "dirty" entry), so a burst of Graph notifications costs at most one
extra sync, not one each. A pending entry holds the page ids to fetch (Confluence page events) and/or
a flag asking for a "changes" sync (deletions, Graph notifications); page fetches run first, then the
changes sync. A sync that was skipped because another one held the source's lock, that could not be
enqueued, or (in-process) that failed because the source could not be reached is tried again a few
times with a growing delay, so a webhook is not lost to a scheduled run that happened to be busy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hr.settings import Settings
from workers.store import SourceNotFound

log = logging.getLogger(__name__)

TRIGGER = "webhook"
RETRY_DELAYS = (2.0, 5.0, 15.0, 30.0, 60.0)  # seconds before each new try of a skipped sync
CELERY_POLL_SECONDS = 0.5  # how often an enqueued sync's result is checked
CELERY_MAX_WAIT_SECONDS = 3600.0  # an enqueued sync not finished by then no longer holds its source back


class SyncDispatcher(Protocol):
    """What the webhook endpoints hand their work to."""

    def submit(self, source_id: int, *, page_ids: Sequence[str] | None = None) -> None:
        """Ask for a sync of the source: of these pages only, or (``None``) of its changes."""

    def healthy(self) -> bool:
        """False once the dispatcher can no longer run anything (its thread died)."""

    def close(self, timeout: float = 5.0) -> None: ...


class SyncRunner(Protocol):
    """The in-process side: :class:`workers.sync.Syncer` (or anything with its ``sync``)."""

    def sync(self, source_ref: str | int, *, trigger: str = ..., page_ids: list[str] | None = ...) -> Any: ...


@dataclass(frozen=True)
class SyncRequest:
    """One sync to run: of ``page_ids`` ("pages" mode), or of the source's changes when None."""

    source_id: int
    page_ids: tuple[str, ...] | None
    attempts: int = 0


@dataclass
class _Pending:
    pages: list[str] = field(default_factory=list)
    changes: bool = False
    page_attempts: int = 0
    change_attempts: int = 0
    not_before: float = 0.0


class PendingSyncs:
    """The syncs waiting to run, merged per source; not thread-safe (the dispatcher's lock guards it)."""

    def __init__(self) -> None:
        self._by_source: dict[int, _Pending] = {}

    def __len__(self) -> int:
        return len(self._by_source)

    def add(self, request: SyncRequest, *, not_before: float = 0.0) -> None:
        entry = self._by_source.setdefault(request.source_id, _Pending())
        if request.page_ids is None:
            entry.changes = True
            entry.change_attempts = max(entry.change_attempts, request.attempts)
        else:
            entry.pages.extend(p for p in request.page_ids if p not in entry.pages)
            entry.page_attempts = max(entry.page_attempts, request.attempts)
        entry.not_before = max(entry.not_before, not_before)

    def take(self, busy: Container[int], now: float) -> SyncRequest | None:
        """The oldest due sync of a source that is not busy; its pages before its changes."""
        for source_id, entry in self._by_source.items():
            if source_id in busy or entry.not_before > now:
                continue
            del self._by_source[source_id]
            if entry.pages:
                request = SyncRequest(source_id, tuple(entry.pages), entry.page_attempts)
                if entry.changes:  # the changes sync waits at the back: other sources get their turn
                    entry.pages, entry.page_attempts = [], 0
                    self._by_source[source_id] = entry
                return request
            return SyncRequest(source_id, None, entry.change_attempts)
        return None

    def next_due(self, busy: Container[int]) -> float | None:
        """When the earliest pending sync of a source that is not busy becomes due."""
        due = [e.not_before for s, e in self._by_source.items() if s not in busy]
        return min(due) if due else None


class _DispatcherThread:
    """One thread taking merged requests off :class:`PendingSyncs`; subclasses start them."""

    def __init__(self, *, name: str, retry_delays: Sequence[float] = RETRY_DELAYS) -> None:
        self.retry_delays = tuple(retry_delays)
        self._cond = threading.Condition()
        self._pending = PendingSyncs()
        self._busy: set[int] = set()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, source_id: int, *, page_ids: Sequence[str] | None = None) -> None:
        request = SyncRequest(source_id, tuple(page_ids) if page_ids is not None else None)
        with self._cond:
            self._pending.add(request)
            self._cond.notify_all()

    def healthy(self) -> bool:
        return self._thread.is_alive() and not self._closed

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is pending or running; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def close(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # --- the loop --------------------------------------------------------------------------------

    def _loop(self) -> None:
        self._prepare()
        while True:
            finished = self._finished()
            with self._cond:
                for ended, status in finished:
                    self._done(ended, status)
                if self._closed:
                    return
                request = self._pending.take(self._busy, time.monotonic())
                if request is None:
                    self._cond.wait(self._wait_seconds())
                    continue
                self._busy.add(request.source_id)
            try:
                self._start(request)
            except Exception:
                log.exception("webhook sync could not be started", extra={"source_id": request.source_id})
                with self._cond:
                    self._done(request, "error")

    def _wait_seconds(self) -> float | None:
        due = self._pending.next_due(self._busy)
        return None if due is None else max(0.0, due - time.monotonic())

    def _done(self, request: SyncRequest, status: str) -> None:
        """Called with the lock held once a sync ended: free its source; one that was skipped (the
        source was busy) or could not run ("error") is tried again after a delay."""
        self._busy.discard(request.source_id)
        if status in ("skipped", "error"):
            if request.attempts < len(self.retry_delays):
                delay = self.retry_delays[request.attempts]
                retry = SyncRequest(request.source_id, request.page_ids, request.attempts + 1)
                self._pending.add(retry, not_before=time.monotonic() + delay)
                log.info(
                    "webhook sync will be tried again",
                    extra={"source_id": request.source_id, "status": status, "retry_in": delay},
                )
            else:
                log.error(
                    "webhook sync given up", extra={"source_id": request.source_id, "attempts": request.attempts + 1}
                )
        self._cond.notify_all()

    def _prepare(self) -> None:
        """Runs once on the thread before the first request (e.g. loading the model)."""

    def _finished(self) -> list[tuple[SyncRequest, str]]:
        """Requests started earlier that have ended since, with their status (called without the lock)."""
        return []

    def _start(self, request: SyncRequest) -> None:
        raise NotImplementedError


class InProcessDispatcher(_DispatcherThread):
    """Runs the syncs one at a time on a thread of this process (the default, without Redis)."""

    def __init__(
        self,
        runner: SyncRunner,
        *,
        warm_up: Callable[[], None] | None = None,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        super().__init__(name="hrbot-webhook-sync", retry_delays=retry_delays)
        self.runner = runner
        self.warm_up = warm_up

    def _prepare(self) -> None:
        if self.warm_up is not None:
            try:
                self.warm_up()
            except Exception:
                log.exception("warming up the webhook syncs failed; the first sync will try again")

    def _start(self, request: SyncRequest) -> None:
        page_ids = list(request.page_ids) if request.page_ids is not None else None
        try:
            result = self.runner.sync(request.source_id, trigger=TRIGGER, page_ids=page_ids)
            status = str(getattr(result, "status", "succeeded"))
            if status == "failed" and getattr(result, "retryable", False):
                status = "error"  # the source could not be reached: try again, as the Celery task would
        except SourceNotFound:
            log.warning("webhook sync of a source that is gone", extra={"source_id": request.source_id})
            status = "failed"
        except Exception:
            log.exception("webhook sync crashed", extra={"source_id": request.source_id})
            status = "error"
        log.info(
            "webhook sync ended",
            extra={"source_id": request.source_id, "status": status, "pages": len(page_ids or [])},
        )
        with self._cond:
            self._done(request, status)


@dataclass
class _InFlight:
    request: SyncRequest
    result: Any  # celery.result.AsyncResult
    started: float


class CeleryDispatcher(_DispatcherThread):
    """Enqueues the syncs for the Celery workers, one in flight per source: what arrives meanwhile
    waits here, merged, until the enqueued sync has finished."""

    def __init__(
        self,
        enqueue: Callable[[int, list[str] | None], Any],
        *,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        max_wait: float = CELERY_MAX_WAIT_SECONDS,
    ) -> None:
        super().__init__(name="hrbot-webhook-enqueue", retry_delays=retry_delays)
        self.enqueue = enqueue
        self.max_wait = max_wait
        self._in_flight: dict[int, _InFlight] = {}  # touched by the dispatcher thread only

    def _start(self, request: SyncRequest) -> None:
        page_ids = list(request.page_ids) if request.page_ids is not None else None
        result = self.enqueue(request.source_id, page_ids)
        self._in_flight[request.source_id] = _InFlight(request, result, time.monotonic())
        log.info(
            "webhook sync enqueued",
            extra={
                "source_id": request.source_id,
                "task_id": getattr(result, "id", None),
                "pages": len(page_ids or []),
            },
        )

    def _wait_seconds(self) -> float | None:
        if self._in_flight:
            due = super()._wait_seconds()
            return CELERY_POLL_SECONDS if due is None else min(due, CELERY_POLL_SECONDS)
        return super()._wait_seconds()

    def _finished(self) -> list[tuple[SyncRequest, str]]:
        done: list[tuple[SyncRequest, str]] = []
        for source_id, flight in list(self._in_flight.items()):
            status = _celery_status(flight.result)
            if status is None and time.monotonic() - flight.started < self.max_wait:
                continue
            del self._in_flight[source_id]
            done.append((flight.request, status or "lost"))
        return done


def _celery_status(result: Any) -> str | None:
    """The sync status of a finished task ("skipped", "succeeded", ...); None while it runs."""
    try:
        if not result.ready():
            return None
        if not result.successful():
            return "failed"
        payload = result.result
    except Exception:
        log.warning("could not read a webhook sync's result", exc_info=True)
        return None
    return str(payload.get("status", "succeeded")) if isinstance(payload, dict) else "succeeded"


def build_dispatcher(settings: Settings, engine: Engine, sessions: sessionmaker[Session]) -> _DispatcherThread:
    """A started dispatcher: Celery when ``HRBOT_REDIS_URL`` is set, else an in-process thread
    (which loads the embedding model at once, so that the first webhook's sync does not wait for it)."""
    dispatcher: _DispatcherThread
    if settings.redis_url is not None:
        from workers.dispatch import enqueue_sync

        def enqueue(source_id: int, page_ids: list[str] | None) -> Any:
            return enqueue_sync(settings, source_id, trigger=TRIGGER, page_ids=page_ids)

        dispatcher = CeleryDispatcher(enqueue)
    else:
        from retrieval.ingest import Embedder, embedder_from_settings
        from workers.sync import Syncer

        loaded: list[Embedder] = []

        def load() -> None:
            if not loaded:
                loaded.append(embedder_from_settings(settings))

        def factory() -> Embedder:
            load()
            return loaded[0]

        dispatcher = InProcessDispatcher(Syncer(settings, engine, sessions, embed_factory=factory), warm_up=load)
    dispatcher.start()
    return dispatcher
