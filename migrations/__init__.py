"""Alembic migrations: the only place the schema changes."""
