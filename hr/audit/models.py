"""The audit tables.

``audit_log`` is append-only and hash-chained: every row stores the hash of the row before it
(``prev_hash``) and its own ``row_hash`` over its id, seq, time and content (``hr.audit.chain``).
``seq`` is gap-free, assigned under a transaction-level advisory lock.

``audit_head`` is one row holding the last seq and hash, updated in the same transaction as each
append: deleting rows at the tail of the log leaves the head pointing past the end, so that
truncation is as visible as a deletion in the middle.

``audit_feedback`` is kept out of the chain on purpose: chat surfaces fill it in later (a thumbs
up or down, a comment), and changing it must not look like tampering. It is keyed by the audit row.

``generation`` (which model wrote the answer, its prompt and completion tokens, whether it fell back
to the extractive answer) is outside the chain too: it was added later (0009), and leaving it out
of the hash keeps the older rows verifying unchanged.

``employee_id`` is a plain column, not a foreign key, so the log outlives the people it names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from hr.models import Base


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(20), doc="answer, refusal, abstain, lookup, error")
    surface: Mapped[str] = mapped_column(String(20), doc="cli, slack, teams, api")
    platform_user_id: Mapped[str | None] = mapped_column(Text, nullable=True, index=True)
    employee_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    employee_email: Mapped[str | None] = mapped_column(Text, nullable=True, index=True)
    channel: Mapped[str | None] = mapped_column(Text, nullable=True)
    thread: Mapped[str | None] = mapped_column(Text, nullable=True)
    question: Mapped[str] = mapped_column(Text)
    answer_text: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    lookups: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, doc="Which query, for whom; no figures.")
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    generation: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, nullable=True, doc="LLM model, prompt and completion tokens, fallback; not hashed (0009)."
    )
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64), index=True)


class AuditHead(Base):
    """The single row (id 1) that records the end of the chain."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="ck_audit_head_single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    row_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AuditFeedback(Base):
    """A reader's verdict on one answer, outside the hash chain (it changes after the fact)."""

    __tablename__ = "audit_feedback"
    __table_args__ = (CheckConstraint("value IN ('up', 'down')", name="ck_audit_feedback_value"),)

    audit_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("audit_log.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    value: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
