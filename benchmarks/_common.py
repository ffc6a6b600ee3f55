"""Helpers shared by the benchmark scripts: a throwaway embedded database (empty, or holding the
sample company) and the corpus path."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, make_url, text

if TYPE_CHECKING:
    from hr.hrdata.store import Person

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = Path(os.environ.get("HRBOT_CORPUS", ROOT.parent / "shared" / "corpus"))
COMPANIES = ["gitlab-handbook", "18f-tts-handbook", "clef-handbook", "contoso-hr-pdfs"]
SAMPLE = ROOT / "bot" / "demo" / "data"
SAMPLE_TODAY = date(2026, 11, 21)


def require_corpus() -> Path:
    if not CORPUS.is_dir():
        sys.exit(f"the shared corpus is not at {CORPUS}; set HRBOT_CORPUS")
    return CORPUS


def fresh_database(name: str) -> str:
    """A new, migrated database: on HRBOT_BENCH_DATABASE_URL's server, or a temporary embedded one."""
    from hr.migrate import ensure_schema

    admin_url = os.environ.get("HRBOT_BENCH_DATABASE_URL")
    if admin_url is None:
        from pgserver.postgres_server import get_server

        server = get_server(Path(tempfile.mkdtemp(prefix="hrbot-bench-")), cleanup_mode="delete")
        admin_url = server.get_uri("postgres")
    admin = make_url(admin_url).set(drivername="postgresql+psycopg")
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    ensure_schema(create_engine(url))
    return url


def sample_company(name: str, settings_kwargs: dict[str, Any]) -> tuple[str, list[Person]]:
    """A fresh database holding the sample company: its policies ingested as source "brightwave",
    its people imported. Returns the URL and the employees."""
    from connectors.filesystem import FilesystemConnector
    from hr.db import make_sessionmaker, shared_engine
    from hr.hrdata import store
    from hr.hrdata.importer import import_files
    from hr.settings import Settings
    from retrieval.ingest import Ingestor, embedder_from_settings

    url = fresh_database(name)
    settings = Settings(database_url=url, **settings_kwargs)
    sessions = make_sessionmaker(shared_engine(url))
    started = time.perf_counter()
    connector = FilesystemConnector(SAMPLE / "policies")
    Ingestor(settings, sessions, embedder_from_settings(settings)).ingest(
        connector.load_all(), source_name="brightwave", origin=connector.origin, listed_ids=connector.list_ids()
    )
    with sessions() as session:
        import_files(sorted((SAMPLE / "people").glob("*.csv")), session=session, today=SAMPLE_TODAY)
        session.commit()
        people = store.list_employees(session=session)
    print(f"database ready in {time.perf_counter() - started:.1f} s: sample policies + {len(people)} employees")
    return url, people


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
