"""Keyword postings: one row per (lexeme, current chunk), kept in step with ``chunks`` by triggers.

Ranking full-text matches with ``ts_rank`` reads and decompresses every matching row's tsvector:
at 100k chunks a common word matches tens of thousands of rows and a query takes 100+ ms. BM25
over this table is an index-only scan of the query's lexemes. The tsvector stays the one source
of the words: the triggers unnest it when a chunk becomes current and drop its rows when it stops.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# title and headings (weight A) count 2.5 times as much as body words, as in ts_rank's defaults
_POSTINGS = """
    SELECT t.lexeme, n.id,
           (coalesce(cardinality(t.positions), 1) + 1.5 * cardinality(array_positions(t.weights, 'A')))::real,
           length(n.tsv), n.source_id, n.countries, n.entities, n.employment_types
    FROM {rows} n CROSS JOIN LATERAL unnest(n.tsv) AS t
"""
_COLUMNS = "(lexeme, chunk_id, tf, dl, source_id, countries, entities, employment_types)"


def upgrade() -> None:
    op.create_table(
        "chunk_terms",
        sa.Column("lexeme", sa.Text, nullable=False),
        sa.Column("chunk_id", sa.BigInteger, sa.ForeignKey("chunks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("tf", sa.REAL, nullable=False),
        sa.Column("dl", sa.Integer, nullable=False),
        sa.Column("source_id", sa.Integer, nullable=False),
        sa.Column("countries", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("entities", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("employment_types", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.PrimaryKeyConstraint("chunk_id", "lexeme"),
    )
    op.execute(f"INSERT INTO chunk_terms {_COLUMNS} {_POSTINGS.format(rows='chunks')} WHERE n.is_current")
    op.create_index(
        "ix_chunk_terms_lexeme",
        "chunk_terms",
        ["lexeme", "chunk_id"],
        postgresql_include=["tf", "dl", "source_id", "countries", "entities", "employment_types"],
    )
    op.execute(
        f"""
        CREATE FUNCTION chunk_terms_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO chunk_terms {_COLUMNS} {_POSTINGS.format(rows="new_rows")} WHERE n.is_current;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION chunk_terms_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM chunk_terms ct USING old_rows o JOIN new_rows n ON n.id = o.id
            WHERE ct.chunk_id = o.id AND o.is_current AND NOT n.is_current;
            INSERT INTO chunk_terms {_COLUMNS} {_POSTINGS.format(rows="new_rows")}
            JOIN old_rows o ON o.id = n.id WHERE n.is_current AND NOT o.is_current;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER chunks_terms_insert AFTER INSERT ON chunks REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION chunk_terms_on_insert()"
    )
    op.execute(
        "CREATE TRIGGER chunks_terms_update AFTER UPDATE ON chunks "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION chunk_terms_on_update()"
    )
    # the postings answer keyword search now; the tsvector's GIN index only cost write time
    op.drop_index("ix_chunks_tsv", table_name="chunks")


def downgrade() -> None:
    op.create_index("ix_chunks_tsv", "chunks", ["tsv"], postgresql_using="gin", postgresql_where=sa.text("is_current"))
    op.execute("DROP TRIGGER chunks_terms_update ON chunks")
    op.execute("DROP TRIGGER chunks_terms_insert ON chunks")
    op.execute("DROP FUNCTION chunk_terms_on_update()")
    op.execute("DROP FUNCTION chunk_terms_on_insert()")
    op.drop_table("chunk_terms")
