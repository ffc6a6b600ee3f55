"""Alembic environment. The engine comes from hrbot (``cfg.attributes['engine']``) or the settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from hr.db import MIGRATION_LOCK_ID, make_engine
from hr.models import load_all_models
from hr.settings import Settings

config = context.config
target_metadata = load_all_models().metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or make_engine(Settings())
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()
        try:
            context.configure(connection=connection, target_metadata=target_metadata)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()


run_migrations_online()
