"""Tables of the chat adapters' shared state (see :mod:`bot.chatstate`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from hr.models import Base


class ChatEvent(Base):
    """An event id the platform delivered (Slack ``event_id``, Teams activity id), kept for a day."""

    __tablename__ = "chat_events"
    __table_args__ = (Index("ix_chat_events_seen_at", "seen_at"),)

    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ChatThread(Base):
    """A conversation thread the bot answered in: follow-ups there are answered without a mention."""

    __tablename__ = "chat_threads"
    __table_args__ = (Index("ix_chat_threads_created_at", "created_at"),)

    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    channel: Mapped[str] = mapped_column(Text, primary_key=True)
    thread: Mapped[str] = mapped_column(Text, primary_key=True)
    question: Mapped[str | None] = mapped_column(
        Text, nullable=True, doc="The question that opened the thread (context for short follow-ups)."
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ChatAllowance(Base):
    """A user's token bucket of questions (refilled continuously, ``per_minute`` a minute)."""

    __tablename__ = "chat_allowances"

    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
