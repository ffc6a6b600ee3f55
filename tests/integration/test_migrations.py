from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from hr.migrate import current_revision, head_revision, upgrade


def test_schema_is_at_head_with_pgvector(database_url) -> None:
    engine = create_engine(database_url)
    assert current_revision(engine) == head_revision(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
        indexes = {i["name"] for i in inspect(conn).get_indexes("chunks")}
    assert {"ix_chunks_embedding_hnsw", "ix_chunks_tsv"} <= indexes
    engine.dispose()


def test_downgrade_and_upgrade_round_trip(database_url) -> None:
    engine = create_engine(database_url)
    from alembic import command

    from hr.migrate import alembic_config

    command.downgrade(alembic_config(engine), "base")
    assert "chunks" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert "chunks" in inspect(engine).get_table_names()
    engine.dispose()
