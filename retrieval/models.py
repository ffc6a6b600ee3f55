"""Documents, their versions and their chunks.

A document is identified by its source and its path. Every distinct content (by hash) becomes a
version; the chunks of every version are kept, and ``chunks.is_current`` marks the ones search
sees. Replacing a document flips that flag for its old and new chunks in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, REAL, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from hr.models import Base

EMBEDDING_DIM = 384

TSV_EXPRESSION = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || coalesce(heading_path, '')), 'A')"
    " || setweight(to_tsvector('english'::regconfig, coalesce(body, '')), 'B')"
)


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(
        String(50), default="manual", doc="A connector kind (connectors.registry), or manual: `hrbot ingest` only."
    )
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, doc="Connector settings; never secrets.")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    interval_seconds: Mapped[int | None] = mapped_column(
        Integer, nullable=True, doc="How often beat syncs it; None: only on demand."
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    state: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb"), doc="The connector's cursor after the last good run."
    )
    last_success_started_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, doc="Start of the last successful sync: the next poll's 'since'."
    )


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("source_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(Text, default="", doc="The folder or system it was read from.")
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("document_versions.id", use_alter=True, name="fk_documents_current_version"),
        nullable=True,
    )
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    term_total: Mapped[float] = mapped_column(
        REAL, default=0.0, server_default="0", doc="Sum of document_terms.tf (written by a trigger)."
    )


class DocumentVersion(Base):
    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "content_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    version_no: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    uri: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    countries: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    entities: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    employment_types: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    content: Mapped[str] = mapped_column(Text, doc="The converted text, readable after it is superseded.")
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Chunk(Base):
    __tablename__ = "chunks"
    __table_args__ = (
        Index(
            "ix_chunks_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_with={"m": 16, "ef_construction": 64},
            postgresql_ops={"embedding": "vector_cosine_ops"},
            postgresql_where=text("is_current"),
        ),
        Index("ix_chunks_countries", "countries", postgresql_using="gin"),
        Index("ix_chunks_current_source", "source_id", postgresql_where=text("is_current")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("document_versions.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    heading_path: Mapped[str] = mapped_column(Text, default="")
    page: Mapped[int | None] = mapped_column(Integer, nullable=True, doc="The page the chunk's text starts on.")
    page_end: Mapped[int | None] = mapped_column(Integer, nullable=True, doc="The page its text runs to.")
    body: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64), index=True, doc="Hash of the embedded text.")
    embedding: Mapped[Any] = mapped_column(Vector(EMBEDDING_DIM))
    tsv: Mapped[Any] = mapped_column(TSVECTOR, Computed(TSV_EXPRESSION, persisted=True))
    countries: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    entities: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    employment_types: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)


class ChunkTerm(Base):
    """Keyword postings of current chunks, written by triggers on ``chunks`` (migration 0004) from the
    stored tsvector; never written by the application. ``tf`` weighs title and headings up."""

    __tablename__ = "chunk_terms"
    __table_args__ = (
        Index(
            "ix_chunk_terms_lexeme",
            "lexeme",
            "chunk_id",
            postgresql_include=["tf", "dl", "source_id", "countries", "entities", "employment_types"],
        ),
    )

    chunk_id: Mapped[int] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True)
    lexeme: Mapped[str] = mapped_column(Text, primary_key=True)
    tf: Mapped[float] = mapped_column(REAL)
    dl: Mapped[int] = mapped_column(Integer)
    source_id: Mapped[int] = mapped_column(Integer)
    countries: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    entities: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    employment_types: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)


class DocumentTerm(Base):
    """Lexeme counts of each document's current chunks (the sum of their ``chunk_terms.tf``), written
    by triggers on ``chunks`` (migration 0010): which candidate document a question is about."""

    __tablename__ = "document_terms"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    lexeme: Mapped[str] = mapped_column(Text, primary_key=True)
    tf: Mapped[float] = mapped_column(REAL)


class SearchTerm(Base):
    """Words of the current chunks and how many chunks hold each: typo correction and term weights."""

    __tablename__ = "search_terms"

    term: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(String(1), primary_key=True, doc="w: a word as typed, l: a lexeme")
    ndoc: Mapped[int] = mapped_column(Integer)


class SourceLexeme(Base):
    """How many of a source's current chunks hold each lexeme: keyword weights of a search
    restricted to some sources (rebuilt with ``search_terms``)."""

    __tablename__ = "source_lexemes"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    lexeme: Mapped[str] = mapped_column(Text, primary_key=True)
    ndoc: Mapped[int] = mapped_column(Integer)


class SearchGeneration(Base):
    """One row: bumped with every change to the current chunks (``store.refresh_search_terms``), in
    the same transaction, so a cache keyed by it never serves an answer from an older index."""

    __tablename__ = "search_generation"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
