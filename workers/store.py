"""SQL for configured sources and their sync runs. Services only flush; the caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.orm import Session

from retrieval.models import Document, Source
from workers.models import SyncRun

LOCK_NAMESPACE = 0x68726274  # "hrbt": the first key of the per-source advisory locks


class SourceNotFound(LookupError):
    pass


def get_source(session: Session, name_or_id: str | int) -> Source:
    if isinstance(name_or_id, int) or (isinstance(name_or_id, str) and name_or_id.isdigit()):
        source = session.get(Source, int(name_or_id))
    else:
        source = session.scalar(select(Source).where(Source.name == name_or_id))
    if source is None:
        raise SourceNotFound(f"no source {name_or_id!r}; `hrbot sources list` shows them")
    return source


def list_sources(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.name)))


def add_source(
    session: Session, name: str, kind: str, settings: dict[str, Any], interval_seconds: int | None
) -> Source:
    if session.scalar(select(Source.id).where(Source.name == name)) is not None:
        raise ValueError(f"a source named {name!r} exists already")
    source = Source(name=name, kind=kind, settings=settings, interval_seconds=interval_seconds, enabled=True)
    source.state = {}
    session.add(source)
    session.flush()
    return source


def remove_source(session: Session, source: Source) -> None:
    """Delete the source with its documents, versions and chunks (its audit rows keep their text)."""
    session.delete(source)
    session.flush()


def document_counts(session: Session, source_id: int) -> tuple[int, int]:
    """(documents in search, documents removed at the source)."""
    row = session.execute(
        select(
            func.count().filter(Document.removed_at.is_(None)),
            func.count().filter(Document.removed_at.is_not(None)),
        ).where(Document.source_id == source_id)
    ).one()
    return int(row[0]), int(row[1])


def document_origins(session: Session, source_id: int) -> list[str]:
    """The folders (or systems) a source's documents were read from."""
    return list(session.scalars(select(Document.origin).where(Document.source_id == source_id).distinct()))


def try_lock(conn: Connection, source_id: int) -> bool:
    """A session-level advisory lock on the source, held by this (dedicated, autocommit) connection
    until :func:`unlock` or until the connection dies: a SIGKILLed worker's lock goes with it."""
    return bool(conn.scalar(text("SELECT pg_try_advisory_lock(:ns, :id)"), {"ns": LOCK_NAMESPACE, "id": source_id}))


def unlock(conn: Connection, source_id: int) -> None:
    conn.execute(text("SELECT pg_advisory_unlock(:ns, :id)"), {"ns": LOCK_NAMESPACE, "id": source_id})


def start_run(session: Session, source_id: int, *, trigger: str, mode: str, task_id: str | None) -> SyncRun:
    run = SyncRun(source_id=source_id, trigger=trigger, mode=mode, status="running", task_id=task_id)
    run.counts, run.errors = {}, []
    session.add(run)
    session.flush()
    session.refresh(run)
    return run


def mark_interrupted(session: Session, source_id: int, *, except_run: int | None = None) -> int:
    """Runs left 'running' by a worker that died: called while holding the source's lock, so no live
    run of this source can be among them."""
    stmt = (
        update(SyncRun)
        .where(SyncRun.source_id == source_id, SyncRun.status == "running")
        .values(status="interrupted", finished_at=datetime.now(UTC))
    )
    if except_run is not None:
        stmt = stmt.where(SyncRun.id != except_run)
    result = session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


def finish_run(
    session: Session, run_id: int, *, status: str, counts: dict[str, Any], errors: Sequence[Any], seconds: float
) -> None:
    session.execute(
        update(SyncRun)
        .where(SyncRun.id == run_id)
        .values(status=status, counts=counts, errors=list(errors), seconds=seconds, finished_at=datetime.now(UTC))
    )


def record_skipped(session: Session, source_id: int, *, trigger: str, mode: str, task_id: str | None) -> SyncRun:
    run = start_run(session, source_id, trigger=trigger, mode=mode, task_id=task_id)
    run.status, run.finished_at, run.seconds = "skipped", datetime.now(UTC), 0.0
    run.errors = ["another sync of this source was running"]
    session.flush()
    return run


def save_success(session: Session, source_id: int, *, started_at: datetime, state: dict[str, Any]) -> None:
    session.execute(
        update(Source).where(Source.id == source_id).values(last_success_started_at=started_at, state=state)
    )


def get_run(session: Session, run_id: int) -> SyncRun | None:
    return session.get(SyncRun, run_id)


def recent_runs(session: Session, source_id: int, limit: int = 10) -> list[SyncRun]:
    return list(
        session.scalars(
            select(SyncRun).where(SyncRun.source_id == source_id).order_by(SyncRun.started_at.desc()).limit(limit)
        )
    )


def last_runs(session: Session) -> dict[int, SyncRun]:
    """The newest run of every source."""
    latest = select(SyncRun.source_id, func.max(SyncRun.id).label("id")).group_by(SyncRun.source_id).subquery()
    rows = session.scalars(select(SyncRun).join(latest, latest.c.id == SyncRun.id))
    return {run.source_id: run for run in rows}


def scheduled_sources(session: Session) -> list[Source]:
    return list(
        session.scalars(
            select(Source)
            .where(Source.enabled.is_(True), Source.interval_seconds.is_not(None), Source.kind != "manual")
            .order_by(Source.name)
        )
    )
