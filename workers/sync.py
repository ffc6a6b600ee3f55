"""Sync one source: read what changed through its connector, write it, prune what is gone, record the run.

This is the whole sync, with no Celery in it: ``hrbot sources sync`` calls it in-process and the
``sync_source`` task calls it in a worker. Guarantees:

- **one at a time per source**: a PostgreSQL advisory lock held by a dedicated connection (a killed
  worker's lock dies with its connection); a second sync of a busy source records a skipped run;
- **incremental**: after a good run only what changed since it (less an overlap) is read, and the
  content hash decides what is converted and embedded; the listing of ids prunes deletions;
- **atomic per document, idempotent per run**: each document is replaced in its own transaction,
  so a run killed half-way leaves every document either old or new, and the next run (the same
  task redelivered, or the next schedule) finishes the job: the cursor only moves after a run
  that read every document it was given;
- **failures are contained**: one bad document is reported and skipped; a source that cannot be
  reached fails its run (and is retried by the task) without touching the index.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connectors import registry
from connectors.base import (
    Batch,
    ConnectorAuthError,
    ConnectorConfigError,
    ConnectorError,
    ListConnector,
    PollConnector,
    SkippedDocument,
)
from connectors.filesystem import FilesystemConnector
from hr.db import unit_of_work
from hr.hrdata.importer import ImportRejected, import_parsed
from hr.settings import Settings
from retrieval.ingest import Embedder, Ingestor, IngestSummary, Progress
from workers import store

log = logging.getLogger(__name__)

FINISHED = ("succeeded", "partial", "failed", "skipped")


@dataclass
class SyncResult:
    source: str
    source_id: int
    run_id: int
    status: str  # succeeded | partial | failed | skipped
    mode: str  # full | changes | pages
    counts: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    retryable: bool = False

    def summary(self) -> str:
        if self.status == "skipped":
            return f"{self.source}: skipped, another sync of it is running"
        shown = ", ".join(f"{k} {v}" for k, v in self.counts.items() if isinstance(v, int | float) and k != "seconds")
        line = f"{self.source}: {self.status} ({self.mode}) in {self.seconds:.1f}s: {shown}"
        if self.errors:
            line += f"; {len(self.errors)} problem(s): " + "; ".join(self.errors[:3])
        return line

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class _Snapshot:
    id: int
    name: str
    kind: str
    settings: dict[str, Any]
    state: dict[str, Any]
    since: datetime | None
    origins: tuple[str, ...]


class _Counting:
    """Passes batches through, counting the entries the connector could not fetch."""

    def __init__(self, batches: Iterable[Batch]) -> None:
        self.batches = batches
        self.fetch_failures = 0

    def __iter__(self) -> Iterator[Batch]:
        for batch in self.batches:
            self.fetch_failures += sum(isinstance(item, SkippedDocument) for item in batch)
            yield batch


class Syncer:
    """Syncs sources of one database. ``embed`` is built on first use (HR-only syncs never load the model)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        sessions: sessionmaker[Session],
        *,
        embed: Embedder | None = None,
        embed_factory: Callable[[], Embedder] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = sessions
        self._embed = embed
        self._embed_factory = embed_factory
        self._ingestor: Ingestor | None = None
        self._model_lock = threading.Lock()

    def ingestor(self) -> Ingestor:
        if self._ingestor is None:
            self._ingestor = Ingestor(self.settings, self.sessions, self._embed_texts)
        return self._ingestor

    def warm_up(self) -> None:
        """Load the model now (a worker does this at start, so its first sync is not 9 s slower)."""
        self._embed_texts(["warm up"])

    def _embed_texts(self, texts: list[str]) -> list[list[float]]:
        """Loads the model on the first text to embed: a sync that changes nothing never loads it."""
        if self._embed is None:
            with self._model_lock:
                if self._embed is None:
                    if self._embed_factory is not None:
                        self._embed = self._embed_factory()
                    else:
                        from retrieval.ingest import embedder_from_settings

                        self._embed = embedder_from_settings(self.settings)
        return self._embed(texts)

    # --- one run ---------------------------------------------------------------------------------

    def sync(
        self,
        source_ref: str | int,
        *,
        trigger: str = "cli",
        full: bool = False,
        page_ids: list[str] | None = None,
        task_id: str | None = None,
        progress: Progress | None = None,
    ) -> SyncResult:
        snap = self._snapshot(source_ref)
        mode = "pages" if page_ids else ("full" if full or snap.since is None else "changes")
        lock = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            if not store.try_lock(lock, snap.id):
                with unit_of_work(self.sessions) as session:
                    run = store.record_skipped(session, snap.id, trigger=trigger, mode=mode, task_id=task_id)
                log.info("sync skipped: source busy", extra={"source": snap.name})
                return SyncResult(snap.name, snap.id, run.id, "skipped", mode)
            try:
                return self._locked_sync(snap, mode, trigger, page_ids, task_id, progress)
            finally:
                store.unlock(lock, snap.id)
        finally:
            lock.close()

    def _locked_sync(
        self,
        snap: _Snapshot,
        mode: str,
        trigger: str,
        page_ids: list[str] | None,
        task_id: str | None,
        progress: Progress | None,
    ) -> SyncResult:
        with unit_of_work(self.sessions) as session:
            interrupted = store.mark_interrupted(session, snap.id)
            run = store.start_run(session, snap.id, trigger=trigger, mode=mode, task_id=task_id)
        if interrupted:
            log.warning("earlier sync runs were interrupted", extra={"source": snap.name, "runs": interrupted})
        result = SyncResult(snap.name, snap.id, run.id, "failed", mode)
        started = time.perf_counter()
        new_state: dict[str, Any] | None = None
        try:
            new_state, mode = self._run(snap, mode, page_ids, result, progress)
            result.mode = mode
        except ConnectorAuthError as exc:
            result.errors.append(f"credentials refused: {exc}")
        except ConnectorConfigError as exc:
            result.errors.append(f"bad settings: {exc}")
        except ConnectorError as exc:
            result.errors.append(f"source unreachable: {exc}")
            result.retryable = True
        except Exception as exc:
            log.exception("sync failed", extra={"source": snap.name})
            result.errors.append(f"{type(exc).__name__}: {exc}")
            result.retryable = True
        result.seconds = time.perf_counter() - started
        with unit_of_work(self.sessions) as session:
            store.finish_run(
                session,
                run.id,
                status=result.status,
                counts=result.counts,
                errors=result.errors,
                seconds=result.seconds,
            )
            if new_state is not None:
                store.save_success(session, snap.id, started_at=run.started_at, state=new_state)
        log.info(
            "sync finished",
            extra={"source": snap.name, "status": result.status, "mode": result.mode, "counts": result.counts},
        )
        return result

    def _run(
        self, snap: _Snapshot, mode: str, page_ids: list[str] | None, result: SyncResult, progress: Progress | None
    ) -> tuple[dict[str, Any] | None, str]:
        """Do the work; return the state to save (None: do not move the cursor) and the mode used."""
        if snap.kind == "manual":
            self._sync_manual(snap, result, progress)
            return None, "full"
        spec = registry.kind(snap.kind)
        connector = registry.build(snap.kind, snap.settings, state=snap.state)
        try:
            if spec.target == "hr":
                clean = self._sync_hr(connector, snap, result)
                return (dict(connector.state) if clean else None), "full"
            return self._sync_policies(connector, snap, mode, page_ids, result, progress)
        finally:
            close = getattr(connector, "close", None)
            if callable(close):
                close()

    def _sync_policies(
        self,
        connector: Any,
        snap: _Snapshot,
        mode: str,
        page_ids: list[str] | None,
        result: SyncResult,
        progress: Progress | None,
    ) -> tuple[dict[str, Any] | None, str]:
        if mode == "changes" and not (isinstance(connector, PollConnector) and isinstance(connector, ListConnector)):
            mode = "full"
        listed: set[str] | None = None
        if mode == "pages":
            batches: Iterable[Batch] = connector.fetch(page_ids or [])
            prune = False
        elif mode == "changes":
            assert snap.since is not None
            listed = connector.list_ids()
            since = snap.since - timedelta(seconds=self.settings.sync_poll_overlap_seconds)
            batches = connector.poll(since)
            prune = True
        else:
            if isinstance(connector, ListConnector) and progress is not None:
                listed = connector.list_ids()
            batches = connector.load_all()
            prune = True
        counting = _Counting(batches)
        summary = self.ingestor().ingest(
            counting,
            source_name=snap.name,
            origin=connector.origin,
            listed_ids=listed,
            prune=prune,
            progress=progress,
        )
        self._record(result, summary)
        clean = counting.fetch_failures == 0
        return (dict(connector.state) if clean and mode != "pages" else None), mode

    def _sync_manual(self, snap: _Snapshot, result: SyncResult, progress: Progress | None) -> None:
        """A source made by ``hrbot ingest``: read the folders its documents came from again."""
        folders = [Path(origin) for origin in snap.origins if origin and Path(origin).is_dir()]
        if not folders:
            raise ConnectorConfigError(
                "this source was made by `hrbot ingest` and none of its folders exists here;"
                " give it a connector with `hrbot sources add`"
            )
        total = IngestSummary(source=snap.name)
        for folder in folders:
            connector = FilesystemConnector(folder)
            summary = self.ingestor().ingest(
                connector.load_all(),
                source_name=snap.name,
                origin=connector.origin,
                listed_ids=connector.list_ids() if progress else None,
                progress=progress,
            )
            for key in ("seen", "new", "changed", "unchanged", "removed", "failed"):
                setattr(total, key, getattr(total, key) + getattr(summary, key))
            total.chunks_written += summary.chunks_written
            total.chunks_embedded += summary.chunks_embedded
            total.failures.extend(summary.failures)
        self._record(result, total)

    def _sync_hr(self, connector: Any, snap: _Snapshot, result: SyncResult) -> bool:
        counts = {"files": 0, "inserted": 0, "updated": 0, "unchanged": 0, "deactivated": 0, "rejected": 0}
        for parsed in connector.load_hr():
            counts["files"] += 1
            try:
                with unit_of_work(self.sessions) as session:
                    imported = import_parsed(parsed, session=session)
            except ImportRejected as rejected:
                counts["rejected"] += 1
                result.errors.extend(f"{parsed.name}: {error}" for error in rejected.errors[:20])
                continue
            counts["inserted"] += imported.inserted
            counts["updated"] += imported.updated
            counts["unchanged"] += imported.unchanged
            counts["deactivated"] += imported.deactivated
            mark_done = getattr(connector, "mark_done", None)
            if callable(mark_done):
                mark_done(parsed.name)
        problems = [str(p) for p in getattr(connector, "problems", [])]
        result.errors.extend(problems)
        result.counts = counts
        result.status = "partial" if counts["rejected"] or problems else "succeeded"
        return counts["rejected"] == 0

    @staticmethod
    def _record(result: SyncResult, summary: IngestSummary) -> None:
        result.counts = {k: v for k, v in summary.as_dict().items() if k not in ("source", "failures", "seconds")}
        result.errors.extend(f"{path}: {reason}" for path, reason in summary.failures)
        result.status = "partial" if summary.failed else "succeeded"

    def _snapshot(self, source_ref: str | int) -> _Snapshot:
        with unit_of_work(self.sessions) as session:
            source = store.get_source(session, source_ref)
            origins = tuple(store.document_origins(session, source.id)) if source.kind == "manual" else ()
            return _Snapshot(
                source.id,
                source.name,
                source.kind,
                dict(source.settings or {}),
                dict(source.state or {}),
                source.last_success_started_at,
                origins,
            )
