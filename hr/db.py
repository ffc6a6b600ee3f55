"""Database engines and sessions.

``HRBOT_DATABASE_URL`` selects a PostgreSQL server. Without it an embedded PostgreSQL 16 with
pgvector (the ``pgserver`` package) is started under ``HRBOT_DATA_DIR`` on first use and left
running, so that later commands reuse it in milliseconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from hr.settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "hrbot"
MIGRATION_LOCK_ID = 7_210_001


def start_embedded_postgres(pgdata: Path, database: str = EMBEDDED_DATABASE) -> str:
    """Start (or find running) the embedded server in ``pgdata``; return a psycopg SQLAlchemy URL."""
    from pgserver.postgres_server import get_server

    pgdata.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    url = make_url(server.get_uri(database))
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def database_url(settings: Settings) -> str:
    """The URL to connect to: the configured server, or the embedded one (started on demand)."""
    if settings.database_url is not None:
        url = make_url(settings.database_url.get_secret_value())
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)
    return start_embedded_postgres(settings.embedded_pgdata())


def make_engine(settings: Settings, *, url: str | None = None) -> Engine:
    return shared_engine(url or database_url(settings))


_ENGINES: dict[str, Engine] = {}


def shared_engine(url: str) -> Engine:
    """One engine (one pool) per URL in this process, for components that only hold a URL."""
    engine = _ENGINES.get(url)
    if engine is None:
        engine = _ENGINES[url] = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    return engine


_HOT_ENGINES: dict[tuple[str, bool], Engine] = {}


def hot_path_engine(url: str, *, durable: bool = True) -> Engine:
    """An engine for the per-question hot path (search, chat state): no ping on each checkout (one
    round trip saved per query), connections recycled after five minutes instead. A connection the
    server dropped fails one query; SQLAlchemy then replaces the whole pool. ``durable=False``:
    commits skip the WAL flush (for state whose last writes may be lost in a crash)."""
    key = (url, durable)
    engine = _HOT_ENGINES.get(key)
    if engine is None:
        options = {} if durable else {"connect_args": {"options": "-c synchronous_commit=off"}}
        engine = _HOT_ENGINES[key] = create_engine(url, pool_pre_ping=False, pool_recycle=300, pool_size=10, **options)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One session per unit of work: commit on success, roll back on error. Used at the edges only."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def pgvector_version(conn: Session | Connection) -> tuple[int, ...]:
    row = conn.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
    if row is None:
        return (0,)
    return tuple(int(part) for part in str(row).split(".") if part.isdigit())
