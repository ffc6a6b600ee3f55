"""SQL of the chat adapters' shared state: one statement per check, safe across processes."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from hr.db import hot_path_engine

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 600.0
_REFILLED = "least(%(cap)s, a.tokens + extract(epoch FROM clock_timestamp() - a.updated_at) * %(rate)s)"
ALLOW_SQL = (
    "INSERT INTO chat_allowances AS a (platform, user_id, tokens, updated_at) "
    "VALUES (%(p)s, %(u)s, %(cap)s - 1, clock_timestamp()) "
    f"ON CONFLICT (platform, user_id) DO UPDATE SET tokens = {_REFILLED} - 1, "
    f"updated_at = clock_timestamp() WHERE {_REFILLED} >= 1 RETURNING a.tokens"
)


def state_engine(sessions: sessionmaker[Session]) -> Engine:
    """The engine for the chat state, on the sessions' database (one per process and URL): losing the
    last of these writes in a crash costs at most a repeated answer, so they skip the WAL flush."""
    url = sessions.kw["bind"].url.render_as_string(hide_password=False)
    return hot_path_engine(url, durable=False)


def _pruner(sessions: sessionmaker[Session], statement: str, every_s: float) -> Callable[[], None]:
    """Delete expired rows now and then (one process at a time does it; a race only repeats a delete)."""
    state = {"next": time.monotonic() + random.uniform(0, every_s)}
    lock = threading.Lock()

    def prune() -> None:
        now = time.monotonic()
        with lock:
            if now < state["next"]:
                return
            state["next"] = now + every_s
        try:
            with sessions() as session:
                session.execute(text(statement))
                session.commit()
        except Exception:
            log.exception("pruning chat state failed")

    return prune


class SeenEvents:
    """Event ids already delivered; ``add`` is true only for the first delivery of an id."""

    def __init__(self, sessions: sessionmaker[Session], platform: str, *, keep_hours: int = 24) -> None:
        self.sessions = sessions
        self.platform = platform
        self._prune = _pruner(
            sessions,
            f"DELETE FROM chat_events WHERE seen_at < now() - interval '{int(keep_hours)} hours'",
            PRUNE_EVERY_S,
        )

    def add(self, event_id: str) -> bool:
        with self.sessions() as session:
            first = session.execute(
                text("INSERT INTO chat_events (platform, event_id) VALUES (:p, :e) ON CONFLICT DO NOTHING RETURNING 1"),
                {"p": self.platform, "e": event_id},
            ).first()
            session.commit()
        self._prune()
        return first is not None


class AnsweredThreads:
    """Threads the bot answered in (kept ``keep_days``)."""

    def __init__(self, sessions: sessionmaker[Session], platform: str, *, keep_days: int = 7) -> None:
        self.sessions = sessions
        self.platform = platform
        self.keep_days = keep_days
        self._prune = _pruner(
            sessions,
            f"DELETE FROM chat_threads WHERE created_at < now() - interval '{int(keep_days)} days'",
            PRUNE_EVERY_S,
        )

    def add(self, key: str, question: str | None = None) -> None:
        """Remember the thread ``channel:thread`` (and the question that opened it, kept once)."""
        channel, _, thread = key.partition(":")
        with self.sessions() as session:
            session.connection().exec_driver_sql(
                "INSERT INTO chat_threads (platform, channel, thread, question) VALUES (%(p)s, %(c)s, %(t)s, %(q)s) "
                "ON CONFLICT (platform, channel, thread) DO UPDATE SET created_at = now(), "
                "question = coalesce(chat_threads.question, excluded.question)",
                {"p": self.platform, "c": channel, "t": thread, "q": question},
            )
            session.commit()
        self._prune()

    def question(self, key: str) -> str | None:
        """The question that opened a thread the bot answered in, if it was recorded."""
        channel, _, thread = key.partition(":")
        with self.sessions() as session:
            return session.execute(
                text(
                    "SELECT question FROM chat_threads WHERE platform = :p AND channel = :c AND thread = :t "
                    f"AND created_at > now() - interval '{int(self.keep_days)} days'"
                ),
                {"p": self.platform, "c": channel, "t": thread},
            ).scalar()

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        channel, _, thread = key.partition(":")
        with self.sessions() as session:
            found = session.execute(
                text(
                    "SELECT 1 FROM chat_threads WHERE platform = :p AND channel = :c AND thread = :t "
                    f"AND created_at > now() - interval '{int(self.keep_days)} days'"
                ),
                {"p": self.platform, "c": channel, "t": thread},
            ).first()
        return found is not None


class SharedRateLimiter:
    """A token bucket per user, ``per_minute`` questions refilled continuously, in one statement:
    the row is updated only when a token is left, so a refused question costs the user nothing."""

    def __init__(self, sessions: sessionmaker[Session], platform: str, per_minute: int) -> None:
        self.sessions = sessions
        self.platform = platform
        self.capacity = float(max(per_minute, 1))
        self.refill_per_s = self.capacity / 60.0

    def allow(self, user_id: str) -> bool:
        with self.sessions() as session:
            row = (
                session.connection()
                .exec_driver_sql(
                    ALLOW_SQL, {"p": self.platform, "u": user_id, "cap": self.capacity, "rate": self.refill_per_s}
                )
                .first()
            )
            session.commit()
        return row is not None
