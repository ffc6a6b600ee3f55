"""What a worker process holds: settings, one engine, sessions, and a Syncer whose model loads once."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hr.db import database_url, make_engine, make_sessionmaker
from hr.migrate import ensure_schema
from hr.settings import Settings
from workers.sync import Syncer


@dataclass
class WorkerRuntime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    syncer: Syncer


_lock = threading.Lock()
_runtime: WorkerRuntime | None = None


def get_runtime() -> WorkerRuntime:
    """The process's runtime, built on first use from the environment (the worker is an edge)."""
    global _runtime
    with _lock:
        if _runtime is None:
            settings = Settings()
            engine = make_engine(settings, url=database_url(settings))
            ensure_schema(engine)
            sessions = make_sessionmaker(engine)
            _runtime = WorkerRuntime(settings, engine, sessions, Syncer(settings, engine, sessions))
        return _runtime
