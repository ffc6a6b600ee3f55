"""Documents, versions and chunks with pgvector and a stored tsvector.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TSV = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || coalesce(heading_path, '')), 'A')"
    " || setweight(to_tsvector('english'::regconfig, coalesce(body, '')), 'B')"
)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(50), nullable=False, server_default="folder"),
        sa.Column("settings", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("origin", sa.Text, nullable=False, server_default=""),
        sa.Column("current_version_id", sa.Integer, nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("source_id", "path"),
    )
    op.create_index("ix_documents_source_id", "documents", ["source_id"])
    op.create_table(
        "document_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("document_id", sa.Integer, sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version_no", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("meta", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column("countries", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("entities", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("employment_types", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("chunk_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("document_id", "content_hash"),
    )
    op.create_index("ix_document_versions_document_id", "document_versions", ["document_id"])
    op.create_foreign_key(
        "fk_documents_current_version", "documents", "document_versions", ["current_version_id"], ["id"]
    )
    op.create_table(
        "chunks",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "version_id", sa.Integer, sa.ForeignKey("document_versions.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("document_id", sa.Integer, sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("heading_path", sa.Text, nullable=False, server_default=""),
        sa.Column("page", sa.Integer, nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("embedding", Vector(384), nullable=False),
        sa.Column("tsv", postgresql.TSVECTOR, sa.Computed(TSV, persisted=True)),
        sa.Column("countries", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("entities", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("employment_types", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("is_current", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_chunks_version_id", "chunks", ["version_id"])
    op.create_index("ix_chunks_document_id", "chunks", ["document_id"])
    op.create_index("ix_chunks_text_hash", "chunks", ["text_hash"])
    op.create_index(
        "ix_chunks_embedding_hnsw",
        "chunks",
        ["embedding"],
        postgresql_using="hnsw",
        postgresql_with={"m": 16, "ef_construction": 64},
        postgresql_ops={"embedding": "vector_cosine_ops"},
        postgresql_where=sa.text("is_current"),
    )
    op.create_index("ix_chunks_tsv", "chunks", ["tsv"], postgresql_using="gin", postgresql_where=sa.text("is_current"))
    op.create_index("ix_chunks_countries", "chunks", ["countries"], postgresql_using="gin")
    op.create_index("ix_chunks_current_source", "chunks", ["source_id"], postgresql_where=sa.text("is_current"))
    op.create_table(
        "search_terms",
        sa.Column("term", sa.Text, primary_key=True),
        sa.Column("kind", sa.String(1), primary_key=True),
        sa.Column("ndoc", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("search_terms")
    op.drop_table("chunks")
    op.drop_constraint("fk_documents_current_version", "documents", type_="foreignkey")
    op.drop_table("document_versions")
    op.drop_table("documents")
    op.drop_table("sources")
