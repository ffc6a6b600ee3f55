"""Integration fixtures: a real PostgreSQL with pgvector (embedded pgserver, or
``HRBOT_TEST_DATABASE_URL`` for a server of your own) and the real embedding model.

Each test gets a fresh database cloned from a migrated template, so tests that commit (ingest does,
one transaction per document) stay independent without mocking anything.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from hr.db import make_sessionmaker, shared_engine
from hr.migrate import ensure_schema
from hr.settings import Settings

TEMPLATE = "hrbot_test_template"


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    configured = os.environ.get("HRBOT_TEST_DATABASE_URL")
    if configured:
        yield make_url(configured).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        return
    import pgserver

    # not under pytest's basetemp: another pytest run on the machine rotates (deletes) old basetemps
    pgdata = Path(tempfile.mkdtemp(prefix="hrbot-test-pgdata-"))
    server = pgserver.get_server(pgdata, cleanup_mode="delete")
    url = make_url(server.get_uri("postgres")).set(drivername="postgresql+psycopg")
    yield url.render_as_string(hide_password=False)
    server.cleanup()


@pytest.fixture(scope="session")
def template_url(pg_admin_url: str) -> str:
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{TEMPLATE}"'))
    url = make_url(pg_admin_url).set(database=TEMPLATE).render_as_string(hide_password=False)
    engine = create_engine(url)
    ensure_schema(engine)
    engine.dispose()
    admin.dispose()
    return url


@pytest.fixture
def database_url(pg_admin_url: str, template_url: str) -> Iterator[str]:
    name = f"hrbot_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"'))
    url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    yield url
    shared_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data")


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    return make_sessionmaker(shared_engine(database_url))


@pytest.fixture(scope="session")
def embed() -> Callable[[list[str]], list[list[float]]]:
    """The real all-MiniLM-L6-v2, loaded once for the whole run."""
    from retrieval.ingest import embedder_from_settings

    return embedder_from_settings(Settings())


class CountingEmbedder:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, inner: Callable[[list[str]], list[list[float]]]) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def __call__(self, texts: list[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return self.inner(texts)


@pytest.fixture
def counting_embed(embed: Callable[[list[str]], list[list[float]]]) -> CountingEmbedder:
    return CountingEmbedder(embed)


@pytest.fixture
def policies(tmp_path: Path, sample_policies: Path) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(sample_policies, folder)
    return folder


SAMPLE_PEOPLE = Path(__file__).resolve().parents[2] / "bot" / "demo" / "data" / "people"
SAMPLE_TODAY = date(2026, 11, 21)


@pytest.fixture(scope="module")
def company_url(
    pg_admin_url: str,
    template_url: str,
    embed: Callable[[list[str]], list[list[float]]],
    sample_policies: Path,
) -> Iterator[str]:
    """One database per test module holding the sample company: its policies ingested as source
    "brightwave" and its people imported as of ``SAMPLE_TODAY`` (both committed)."""
    from hr.hrdata.importer import import_files
    from tests.integration.helpers import ingest_folder

    name = f"hrbot_company_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"'))
    url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    sessions = make_sessionmaker(shared_engine(url))
    ingest_folder(
        Settings(database_url=url, data_dir=Path("/nonexistent")), sessions, embed, sample_policies, "brightwave"
    )
    with sessions() as session:
        import_files(sorted(SAMPLE_PEOPLE.glob("*.csv")), session=session, today=SAMPLE_TODAY)
        session.commit()
    yield url
    shared_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
