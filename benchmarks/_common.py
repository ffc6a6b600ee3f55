"""Helpers shared by the benchmark scripts: a throwaway embedded database and the corpus path."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = Path(os.environ.get("HRBOT_CORPUS", ROOT.parent / "shared" / "corpus"))
COMPANIES = ["gitlab-handbook", "18f-tts-handbook", "clef-handbook", "contoso-hr-pdfs"]


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


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
