from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from hr.migrate import current_revision, head_revision, upgrade


def test_schema_is_at_head_with_pgvector(database_url) -> None:
    engine = create_engine(database_url)
    assert current_revision(engine) == head_revision(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
        indexes = {i["name"] for i in inspect(conn).get_indexes("chunks")}
        postings = {i["name"] for i in inspect(conn).get_indexes("chunk_terms")}
    assert "ix_chunks_embedding_hnsw" in indexes
    assert "ix_chunk_terms_lexeme" in postings
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


def test_employees_imported_by_bamboohr_before_0012_get_its_source(database_url) -> None:
    from alembic import command

    from hr.migrate import alembic_config

    engine = create_engine(database_url)
    command.downgrade(alembic_config(engine), "0011")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO employees (id, email, name, country) VALUES "
                "(1, 'maya@acme.example', 'Maya', 'US'), (2, 'cora@agency.example', 'Cora', 'US');"
                "INSERT INTO leave_types (id, code, name) VALUES (1, 'vacation', 'Vacation');"
                "INSERT INTO leave_balances (employee_id, leave_type_id, period, entitled, taken, as_of, source) "
                "VALUES (1, 1, '2026', 20, 2, '2026-05-04', 'bamboohr:acme'),"
                " (2, 1, '2026', 10, 0, '2026-05-04', 'csv:balances.csv')"
            )
        )
    upgrade(engine)
    with engine.connect() as conn:
        sources = dict(conn.execute(text("SELECT email, source FROM employees")).all())
    engine.dispose()
    assert sources == {"maya@acme.example": "bamboohr:acme", "cora@agency.example": ""}


def test_models_match_the_migrations(database_url) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from hr.models import load_all_models

    engine = create_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, load_all_models().metadata)
    engine.dispose()
    assert diff == []


def test_hr_data_tables_exist_at_head(database_url) -> None:
    engine = create_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"employees", "leave_types", "leave_balances", "leave_requests", "public_holidays"} <= tables
