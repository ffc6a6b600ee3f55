"""Alembic, driven from code: ``hrbot db upgrade`` and the automatic upgrade on first use."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

import migrations

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (under an advisory lock, so concurrent starts are safe)."""
    command.upgrade(alembic_config(engine), revision)


def ensure_schema(engine: Engine) -> None:
    """Upgrade when the database is behind the code; a no-op (one query) otherwise."""
    if current_revision(engine) != head_revision(engine):
        upgrade(engine)
