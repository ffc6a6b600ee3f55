"""Per-user rate limiting and "seen it already" memory, shared by every chat surface.

Platform-free and thread-safe: the Slack listeners run on a thread pool, the Teams handlers on an
event loop with the engine on threads. Keys are whatever the adapter says identifies a user (a Slack
user id, a Teams AAD object id) or a delivery (an event id, a conversation + activity id).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

RATE_LIMITED_TEXT = "You're asking faster than I can keep up. Please wait a minute and ask again."


class RateLimiter:
    """A token bucket per user: ``per_minute`` questions, refilled continuously."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(max(per_minute, 1))
        self.refill_per_s = self.capacity / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Take one token from ``key``'s bucket; ``False`` (and nothing taken) when it is empty."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.refill_per_s)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            return allowed


class TTLSet:
    """Keys remembered for ``ttl`` seconds (at most ``max_size`` of them); thread-safe."""

    def __init__(self, ttl: float, *, max_size: int = 50_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self.clock = clock
        self._items: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, key: str) -> bool:
        """Remember ``key``; ``True`` when it was not remembered already."""
        now = self.clock()
        with self._lock:
            self._expire(now)
            if key in self._items:
                return False
            self._items[key] = now + self.ttl
            while len(self._items) > self.max_size:
                self._items.popitem(last=False)
            return True

    def __contains__(self, key: object) -> bool:
        with self._lock:
            self._expire(self.clock())
            return key in self._items

    def _expire(self, now: float) -> None:
        while self._items:
            key, expires = next(iter(self._items.items()))
            if expires > now:
                break
            del self._items[key]


class ThreadMemory:
    """Threads the bot answered in, and the question that opened each (kept once), for ``ttl``
    seconds (at most ``max_size`` threads); thread-safe. In-memory, so one process's: the same
    interface as ``bot.chatstate.store.AnsweredThreads`` (add / question / in), which keeps them in
    the database for several processes."""

    def __init__(self, ttl: float, *, max_size: int = 50_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self.clock = clock
        self._items: OrderedDict[str, tuple[float, str | None]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, key: str, question: str | None = None) -> None:
        """Remember the thread ``key`` (and the question that opened it, unless one is kept already)."""
        now = self.clock()
        with self._lock:
            kept = self._live(key, now)
            self._items.pop(key, None)
            self._items[key] = (now + self.ttl, kept if kept is not None else question)
            while len(self._items) > self.max_size:
                self._items.popitem(last=False)

    def question(self, key: str) -> str | None:
        """The question that opened the thread, if it was recorded (and not forgotten)."""
        with self._lock:
            return self._live(key, self.clock())

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        with self._lock:
            found = self._items.get(key)
            return found is not None and found[0] > self.clock()

    def _live(self, key: str, now: float) -> str | None:
        found = self._items.get(key)
        if found is None:
            return None
        if found[0] <= now:
            del self._items[key]
            return None
        return found[1]
