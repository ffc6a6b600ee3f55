"""Every query of the audit log. Services flush; the edge (engine, chat handler, CLI) commits.

``append`` serialises writers with a transaction-level advisory lock, continues the chain from
``audit_head`` (not from the last row: if the tail was deleted, the next append must not reuse its
seq and hide the deletion) and moves the head in the same transaction. ``verify`` walks the rows by
seq and reports rows that were edited, removed, reordered or inserted behind the service's back.
Feedback lives in ``audit_feedback``, outside the chain, so that recording it never breaks
``verify``.

A hash chain without an outside anchor proves the log was not changed *by someone who did not
rewrite every later hash*. Keep the head (``hrbot audit verify`` prints it) somewhere else to
catch a full rewrite as well.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, Select, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from hr.audit.chain import GENESIS_HASH, row_hash
from hr.audit.models import AuditEntry, AuditFeedback, AuditHead
from hr.audit.records import (
    FEEDBACK_VALUES,
    AuditCitation,
    AuditEntryView,
    AuditKind,
    AuditLookup,
    AuditProblem,
    AuditRecord,
    CitedChunk,
    FeedbackValue,
    FeedbackView,
    ProblemKind,
    Surface,
    VerifyReport,
)
from retrieval.models import Chunk

__all__ = [
    "AuditChainError",
    "AuditCitation",
    "AuditEntryNotFoundError",
    "AuditEntryView",
    "AuditKind",
    "AuditLookup",
    "AuditProblem",
    "AuditRecord",
    "CitedChunk",
    "FeedbackValue",
    "FeedbackView",
    "Surface",
    "VerifyReport",
    "append",
    "cited_chunks",
    "get",
    "iter_export",
    "list_entries",
    "record_feedback",
    "verify",
]

HEAD_ID = 1
APPEND_SQL = (
    "WITH inserted AS (INSERT INTO audit_log (id, seq, created_at, kind, surface, platform_user_id, employee_id,"
    " employee_email, channel, thread, question, answer_text, citations, lookups, latency_ms, generation,"
    " prev_hash, row_hash)"
    " VALUES (%(id)s, %(seq)s, %(created_at)s, %(kind)s, %(surface)s, %(platform_user_id)s, %(employee_id)s,"
    " %(employee_email)s, %(channel)s, %(thread)s, %(question)s, %(answer_text)s, %(citations)s::jsonb,"
    " %(lookups)s::jsonb, %(latency_ms)s, %(generation)s::jsonb, %(prev_hash)s, %(row_hash)s) RETURNING id)"
    " UPDATE audit_head SET seq = %(seq)s, row_hash = %(row_hash)s, updated_at = %(created_at)s"
    " WHERE id = %(head)s AND EXISTS (SELECT 1 FROM inserted)"
)
_EXPORT_BATCH = 500


class AuditChainError(RuntimeError):
    """The chain cannot be continued (its head row is gone): run ``hrbot audit verify``."""


class AuditEntryNotFoundError(LookupError):
    def __init__(self, audit_id: int) -> None:
        super().__init__(f"no audit entry {audit_id}")
        self.audit_id = audit_id


def append(record: AuditRecord, *, session: Session) -> AuditEntryView:
    """Append one row to the chain. The head row's lock (``FOR UPDATE``) serialises appends and is
    held until the caller's transaction ends, so the section other answers wait on is kept to two
    statements: read the head (with the new id and time), then insert the row and move the head."""
    head = session.execute(
        text(
            "SELECT h.seq, h.row_hash, nextval(pg_get_serial_sequence('audit_log', 'id')) AS id,"
            " clock_timestamp() AS now FROM audit_head h WHERE h.id = :head FOR UPDATE"
        ),
        {"head": HEAD_ID},
    ).one_or_none()
    if head is None:
        raise AuditChainError("audit_head is missing: the audit chain cannot be continued")
    entry = AuditEntry(
        id=head.id,
        seq=head.seq + 1,
        created_at=head.now,
        kind=record.kind,
        surface=record.surface,
        platform_user_id=record.platform_user_id,
        employee_id=record.employee_id,
        employee_email=_normal_email(record.employee_email),
        channel=record.channel,
        thread=record.thread,
        question=record.question,
        answer_text=record.answer_text,
        citations=[c.to_json() for c in record.citations],
        lookups=[lookup.to_json() for lookup in record.lookups],
        latency_ms=record.latency_ms,
        generation=record.generation,
        prev_hash=head.row_hash,
    )
    entry.row_hash = row_hash(entry)
    # one driver-level statement (no ORM compile per answer): insert the row, move the head
    session.connection().exec_driver_sql(
        APPEND_SQL,
        {
            "id": entry.id,
            "seq": entry.seq,
            "created_at": entry.created_at,
            "kind": entry.kind,
            "surface": entry.surface,
            "platform_user_id": entry.platform_user_id,
            "employee_id": entry.employee_id,
            "employee_email": entry.employee_email,
            "channel": entry.channel,
            "thread": entry.thread,
            "question": entry.question,
            "answer_text": entry.answer_text,
            "citations": json.dumps(entry.citations),
            "lookups": json.dumps(entry.lookups),
            "latency_ms": entry.latency_ms,
            "generation": None if entry.generation is None else json.dumps(entry.generation),
            "prev_hash": entry.prev_hash,
            "row_hash": entry.row_hash,
            "head": HEAD_ID,
        },
    )
    return _view(entry, None)


def record_feedback(
    audit_id: int, value: FeedbackValue, comment: str | None = None, *, session: Session
) -> FeedbackView:
    """Record (or replace) the feedback on one entry. The chain does not cover it."""
    if value not in FEEDBACK_VALUES:
        raise ValueError(f"feedback is one of {sorted(FEEDBACK_VALUES)}, not {value!r}")
    if session.scalar(select(AuditEntry.id).where(AuditEntry.id == audit_id)) is None:
        raise AuditEntryNotFoundError(audit_id)
    now = func.clock_timestamp()
    insert = pg_insert(AuditFeedback).values(audit_id=audit_id, value=value, comment=comment, at=now)
    upsert = insert.on_conflict_do_update(
        index_elements=[AuditFeedback.audit_id],
        set_={"value": insert.excluded.value, "comment": insert.excluded.comment, "at": insert.excluded.at},
    ).returning(AuditFeedback.value, AuditFeedback.comment, AuditFeedback.at)
    row = session.execute(upsert).one()
    return _feedback_view(row.value, row.comment, row.at)


def get(audit_id: int, *, session: Session) -> AuditEntryView | None:
    row = session.execute(_entries().where(AuditEntry.id == audit_id)).tuples().one_or_none()
    return None if row is None else _view(*row)


def list_entries(
    *,
    session: Session,
    since: datetime | None = None,
    user: str | None = None,
    limit: int = 50,
    conversation: tuple[str, str | None, str] | None = None,
) -> list[AuditEntryView]:
    """The newest entries first, optionally from ``since`` on, for one user (email, employee or
    platform id) and in one chat thread (``conversation``: surface, channel, thread)."""
    stmt = _filtered(_entries(), since, user)
    if conversation is not None:
        surface, channel, thread = conversation
        stmt = stmt.where(
            AuditEntry.surface == surface,
            AuditEntry.channel.is_(None) if channel is None else AuditEntry.channel == channel,
            AuditEntry.thread == thread,
        )
    stmt = stmt.order_by(AuditEntry.seq.desc()).limit(limit)
    return [_view(entry, feedback) for entry, feedback in session.execute(stmt).tuples()]


def iter_export(
    *, session: Session, since: datetime | None = None, user: str | None = None
) -> Iterator[AuditEntryView]:
    """Every matching entry in chain order, streamed in batches."""
    stmt = (
        _filtered(_entries(), since, user)
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=_EXPORT_BATCH, populate_existing=True)
    )
    for entry, feedback in session.execute(stmt).tuples():
        yield _view(entry, feedback)


def cited_chunks(audit_id: int, *, session: Session) -> list[CitedChunk]:
    """The exact chunk texts an entry cited, from the cited version even after the policy changed."""
    stored = session.scalar(select(AuditEntry.citations).where(AuditEntry.id == audit_id))
    if stored is None:
        raise AuditEntryNotFoundError(audit_id)
    citations = [AuditCitation.from_json(c) for c in stored]
    wanted = {chunk_id for c in citations for chunk_id in c.chunk_ids}
    rows = session.execute(
        select(
            Chunk.id, Chunk.version_id, Chunk.title, Chunk.heading_path, Chunk.page, Chunk.body, Chunk.is_current
        ).where(Chunk.id.in_(wanted))
    ).all()
    by_id = {row.id: row for row in rows}
    found: list[CitedChunk] = []
    for citation in citations:
        for chunk_id in citation.chunk_ids:
            row = by_id.get(chunk_id)
            if row is None or row.version_id != citation.version_id:  # purged: say so, show no other text
                found.append(_unreadable(citation, chunk_id))
                continue
            found.append(
                CitedChunk(
                    n=citation.n,
                    chunk_id=chunk_id,
                    version_id=citation.version_id,
                    content_hash=citation.content_hash,
                    title=row.title,
                    heading_path=row.heading_path,
                    page=row.page,
                    body=row.body,
                    is_current=bool(row.is_current),
                )
            )
    return found


def _unreadable(citation: AuditCitation, chunk_id: int) -> CitedChunk:
    return CitedChunk(
        n=citation.n,
        chunk_id=chunk_id,
        version_id=citation.version_id,
        content_hash=citation.content_hash,
        title=citation.title,
        heading_path="",
        page=citation.page,
        body=None,
        is_current=False,
    )


def verify(*, session: Session) -> VerifyReport:
    """Walk the chain by seq; report every row that was edited, removed, reordered or inserted."""
    problems: list[AuditProblem] = []
    links: list[tuple[AuditEntry, int, int | None]] = []  # rows whose prev_hash is not the row before
    prev_seq, prev_hash, prev_id, checked = 0, GENESIS_HASH, None, 0
    stmt = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000, populate_existing=True)
    for entry in session.scalars(stmt):
        checked += 1
        if row_hash(entry) != entry.row_hash:
            problems.append(_problem(entry.seq, entry.id, "edited", "its content does not match its row_hash"))
        if entry.seq > prev_seq + 1:
            problems.append(_missing(prev_seq + 1, entry.seq - 1, f"missing before seq {entry.seq}"))
        elif entry.seq < 1:
            problems.append(_problem(entry.seq, entry.id, "edited", "its seq is out of range"))
        elif entry.prev_hash != prev_hash:
            links.append((entry, prev_seq, prev_id))
        prev_seq, prev_hash, prev_id = entry.seq, entry.row_hash, entry.id
    problems.extend(_broken_links(links, session=session))
    head = session.execute(select(AuditHead.seq, AuditHead.row_hash).where(AuditHead.id == HEAD_ID)).one_or_none()
    if head is None:
        problems.append(_problem(prev_seq, None, "removed", "audit_head is missing: truncation cannot be ruled out"))
    elif head.seq > prev_seq:
        problems.append(_missing(prev_seq + 1, head.seq, f"missing at the tail (audit_head records seq {head.seq})"))
    elif head.seq < prev_seq:
        detail = f"seq {head.seq + 1}-{prev_seq} were not written by append (audit_head records seq {head.seq})"
        problems.append(_problem(head.seq + 1, None, "inserted", detail))
    elif head.row_hash != prev_hash:
        problems.append(_problem(prev_seq, prev_id, "edited", "its row_hash differs from the one audit_head records"))
    problems.sort(key=lambda p: (p.seq, p.kind))
    return VerifyReport(
        checked=checked,
        head_seq=None if head is None else head.seq,
        head_hash=None if head is None else head.row_hash,
        problems=tuple(problems),
    )


def _broken_links(links: list[tuple[AuditEntry, int, int | None]], *, session: Session) -> list[AuditProblem]:
    problems: list[AuditProblem] = []
    for entry, before_seq, before_id in links:
        target = session.scalar(
            select(AuditEntry.seq).where(AuditEntry.row_hash == entry.prev_hash).order_by(AuditEntry.seq).limit(1)
        )
        if target is not None:
            detail = f"it links to seq {target}, not to seq {before_seq}: rows were swapped or moved"
            problems.append(_problem(entry.seq, entry.id, "reordered", detail))
        elif before_seq == 0:
            problems.append(_problem(entry.seq, entry.id, "edited", "the first row does not link to the genesis hash"))
        else:
            detail = f"seq {entry.seq} links to a hash no row has: this row's row_hash was rewritten"
            problems.append(_problem(before_seq, before_id, "edited", detail))
    return problems


def _problem(seq: int, entry_id: int | None, kind: ProblemKind, detail: str) -> AuditProblem:
    return AuditProblem(seq=seq, entry_id=entry_id, kind=kind, detail=detail)


def _missing(first: int, last: int, where: str) -> AuditProblem:
    span = f"seq {first}" if first == last else f"seq {first}-{last}"
    return _problem(first, None, "removed", f"{span} {where}")


_EntrySelect = Select[AuditEntry, AuditFeedback]


def _entries() -> _EntrySelect:
    return (
        select(AuditEntry, AuditFeedback)
        .outerjoin(AuditFeedback, AuditFeedback.audit_id == AuditEntry.id)
        .execution_options(populate_existing=True)
    )


def _filtered(stmt: _EntrySelect, since: datetime | None, user: str | None) -> _EntrySelect:
    if since is not None:
        stmt = stmt.where(AuditEntry.created_at >= since)
    if user:
        stmt = stmt.where(_user_clause(user))
    return stmt


def _user_clause(user: str) -> ColumnElement[bool]:
    value = user.strip()
    if "@" in value:
        return AuditEntry.employee_email == _normal_email(value)
    clauses: list[ColumnElement[bool]] = [AuditEntry.platform_user_id == value]
    if value.isdigit():
        clauses.append(AuditEntry.employee_id == int(value))
    return or_(*clauses)


def _normal_email(email: str | None) -> str | None:
    return None if email is None else email.strip().lower()


def _view(entry: AuditEntry, feedback: AuditFeedback | None) -> AuditEntryView:
    return AuditEntryView(
        id=entry.id,
        seq=entry.seq,
        created_at=entry.created_at,
        kind=entry.kind,
        surface=entry.surface,
        platform_user_id=entry.platform_user_id,
        employee_id=entry.employee_id,
        employee_email=entry.employee_email,
        channel=entry.channel,
        thread=entry.thread,
        question=entry.question,
        answer_text=entry.answer_text,
        citations=tuple(AuditCitation.from_json(c) for c in entry.citations),
        lookups=tuple(AuditLookup.from_json(lookup) for lookup in entry.lookups),
        latency_ms=entry.latency_ms,
        prev_hash=entry.prev_hash,
        row_hash=entry.row_hash,
        feedback=None if feedback is None else _feedback_view(feedback.value, feedback.comment, feedback.at),
        generation=entry.generation,
    )


def _feedback_view(value: str, comment: str | None, at: datetime) -> FeedbackView:
    if value not in FEEDBACK_VALUES:
        raise ValueError(f"unexpected feedback value {value!r}")
    return FeedbackView(value=cast(FeedbackValue, value), comment=comment, at=at)
