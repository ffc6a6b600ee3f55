"""All SQL of the ingest side: sources, documents, versions, chunks, search terms.

Functions take the caller's session and only flush; the edge (CLI command, task) commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from retrieval.audience import Audience
from retrieval.chunking import Chunk as TextChunk
from retrieval.models import Chunk, Document, DocumentVersion, SearchTerm, Source, SourceLexeme


@dataclass(frozen=True)
class KnownDocument:
    id: int
    path: str
    origin: str
    content_hash: str | None
    removed: bool


def get_or_create_source(session: Session, name: str, kind: str = "manual") -> Source:
    source = session.scalar(select(Source).where(Source.name == name))
    if source is None:
        source = Source(name=name, kind=kind, settings={})
        session.add(source)
        session.flush()
    return source


def known_documents(session: Session, source_id: int) -> dict[str, KnownDocument]:
    rows = session.execute(
        select(Document.id, Document.path, Document.origin, DocumentVersion.content_hash, Document.removed_at)
        .outerjoin(DocumentVersion, DocumentVersion.id == Document.current_version_id)
        .where(Document.source_id == source_id)
    )
    return {r.path: KnownDocument(r.id, r.path, r.origin, r.content_hash, r.removed_at is not None) for r in rows}


def embeddings_by_text_hash(session: Session, hashes: Iterable[str]) -> dict[str, Any]:
    """Embeddings already computed for identical embedded texts (any document, any version)."""
    wanted = list(set(hashes))
    if not wanted:
        return {}
    rows = session.execute(
        select(Chunk.text_hash, Chunk.embedding).where(Chunk.text_hash.in_(wanted)).distinct(Chunk.text_hash)
    )
    return {r.text_hash: r.embedding for r in rows}


def _lock_document(session: Session, source_id: int, path: str, origin: str) -> Document:
    stmt = select(Document).where(Document.source_id == source_id, Document.path == path).with_for_update()
    document = session.scalar(stmt)
    if document is None:
        document = Document(source_id=source_id, path=path, origin=origin)
        session.add(document)
        session.flush()
    return document


def reactivate_version(session: Session, source_id: int, path: str, origin: str, content_hash: str) -> bool:
    """Point a document back at an earlier version with this exact content; False if there is none."""
    document = _lock_document(session, source_id, path, origin)
    version_id = session.scalar(
        select(DocumentVersion.id).where(
            DocumentVersion.document_id == document.id, DocumentVersion.content_hash == content_hash
        )
    )
    if version_id is None:
        return False
    _switch_current(session, document, version_id, origin)
    return True


def write_version(
    session: Session,
    *,
    source_id: int,
    path: str,
    origin: str,
    content_hash: str,
    title: str,
    uri: str,
    meta: dict[str, Any],
    audience: Audience,
    content: str,
    chunks: Sequence[TextChunk],
    text_hashes: Sequence[str],
    embeddings: Sequence[Any],
) -> int:
    """Store a new version with its chunks and make it the one search sees, all in the caller's
    transaction: a search sees the old chunks or the new ones, never a mix."""
    document = _lock_document(session, source_id, path, origin)
    version_no = (
        session.scalar(select(func.max(DocumentVersion.version_no)).where(DocumentVersion.document_id == document.id))
        or 0
    ) + 1
    version = DocumentVersion(
        document_id=document.id,
        version_no=version_no,
        content_hash=content_hash,
        title=title,
        uri=uri,
        meta=meta,
        countries=list(audience.countries),
        entities=list(audience.entities),
        employment_types=list(audience.employment_types),
        content=content,
        chunk_count=len(chunks),
    )
    session.add(version)
    session.flush()
    if chunks:
        session.execute(
            insert(Chunk),
            [
                {
                    "version_id": version.id,
                    "document_id": document.id,
                    "source_id": source_id,
                    "ordinal": c.ordinal,
                    "title": c.title,
                    "heading_path": c.heading_path,
                    "page": c.page,
                    "page_end": c.page_end,
                    "body": c.body,
                    "text_hash": h,
                    "embedding": e,
                    "countries": list(audience.countries),
                    "entities": list(audience.entities),
                    "employment_types": list(audience.employment_types),
                    "is_current": False,
                }
                for c, h, e in zip(chunks, text_hashes, embeddings, strict=True)
            ],
        )
    _switch_current(session, document, version.id, origin)
    return version.id


def bump_generation(session: Session) -> None:
    """Mark, in the caller's transaction, that what search sees has changed (answer caches drop)."""
    session.execute(text("UPDATE search_generation SET generation = generation + 1, changed_at = now() WHERE id = 1"))


def search_generation(conn: Connection) -> int:
    row = conn.exec_driver_sql("SELECT generation FROM search_generation WHERE id = 1").first()
    return int(row[0]) if row else 0


def _switch_current(session: Session, document: Document, version_id: int, origin: str) -> None:
    session.execute(
        update(Chunk)
        .where(Chunk.document_id == document.id, Chunk.is_current, Chunk.version_id != version_id)
        .values(is_current=False)
    )
    session.execute(update(Chunk).where(Chunk.version_id == version_id).values(is_current=True))
    document.current_version_id = version_id
    document.removed_at = None
    document.origin = origin
    document.updated_at = datetime.now(UTC)
    session.flush()
    bump_generation(session)


def remove_documents(session: Session, document_ids: Sequence[int]) -> int:
    """Take documents out of search; their versions and chunks stay readable for the audit trail."""
    if not document_ids:
        return 0
    bump_generation(session)
    session.execute(update(Chunk).where(Chunk.document_id.in_(document_ids)).values(is_current=False))
    result = session.execute(
        update(Document)
        .where(Document.id.in_(document_ids), Document.removed_at.is_(None))
        .values(removed_at=datetime.now(UTC), current_version_id=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


SEARCH_TERMS_LOCK_ID = 7_210_200


def refresh_search_terms(session: Session) -> int:
    """Rebuild the word list of current chunks (typo correction and term weights, in all and per
    source) and the planner's statistics of the chunks. Two syncs finishing at once take turns (the
    rebuild is not additive)."""
    session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": SEARCH_TERMS_LOCK_ID})
    bump_generation(session)  # term weights change what keyword search ranks
    session.execute(delete(SearchTerm))
    session.execute(
        text(
            "INSERT INTO search_terms (term, kind, ndoc) "
            "SELECT word, 'w', ndoc FROM ts_stat($$SELECT to_tsvector('simple', title || ' ' || heading_path "
            "|| ' ' || body) FROM chunks WHERE is_current$$) WHERE length(word) BETWEEN 2 AND 40"
        )
    )
    session.execute(
        text(
            "INSERT INTO search_terms (term, kind, ndoc) "
            "SELECT word, 'l', ndoc FROM ts_stat($$SELECT tsv FROM chunks WHERE is_current$$)"
        )
    )
    session.execute(delete(SourceLexeme))
    session.execute(
        text(
            "INSERT INTO source_lexemes (source_id, lexeme, ndoc) "
            "SELECT source_id, lexeme, count(*) FROM chunk_terms GROUP BY source_id, lexeme"
        )
    )
    # fresh planner statistics: how many chunks are for everyone decides HNSW vs a sorted scan
    session.execute(text("ANALYZE chunks"))
    return int(session.scalar(select(func.count()).select_from(SearchTerm)) or 0)


def vacuum_postings(bind: Engine | Connection) -> None:
    """Mark the keyword postings all-visible, so a query reads them from the index alone (an
    index-only scan; before a vacuum each posting also costs a heap visit: 2-5x slower)."""
    engine = bind if isinstance(bind, Engine) else bind.engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) chunk_terms"))


def current_chunk_count(session: Session, source_id: int | None = None) -> int:
    stmt = select(func.count()).select_from(Chunk).where(Chunk.is_current)
    if source_id is not None:
        stmt = stmt.where(Chunk.source_id == source_id)
    return int(session.scalar(stmt) or 0)


@dataclass(frozen=True)
class SourceStats:
    """One source as an admin sees it: what is in search and when it last changed."""

    name: str
    documents: int
    chunks: int
    last_ingest: datetime | None
    origins: tuple[str, ...]


def source_stats(session: Session) -> list[SourceStats]:
    """Every source with its searchable documents and current chunks, the folders (origins) its
    documents were read from and its last ingest (the newest document version). Read-only."""
    docs = {
        r.source_id: (int(r.documents), r.last_ingest)
        for r in session.execute(
            select(
                Document.source_id,
                func.count(func.distinct(Document.id)).filter(Document.removed_at.is_(None)).label("documents"),
                func.max(DocumentVersion.created_at).label("last_ingest"),
            )
            .outerjoin(DocumentVersion, DocumentVersion.document_id == Document.id)
            .group_by(Document.source_id)
        )
    }
    chunks = {
        r.source_id: int(r.n)
        for r in session.execute(
            select(Chunk.source_id, func.count().label("n")).where(Chunk.is_current).group_by(Chunk.source_id)
        )
    }
    origins: dict[int, list[str]] = {}
    for r in session.execute(
        select(Document.source_id, Document.origin)
        .where(Document.removed_at.is_(None))
        .distinct()
        .order_by(Document.source_id, Document.origin)
    ):
        origins.setdefault(r.source_id, []).append(r.origin)
    out: list[SourceStats] = []
    for source_id, name in session.execute(select(Source.id, Source.name).order_by(Source.name)):
        count, last = docs.get(source_id, (0, None))
        out.append(SourceStats(name, count, chunks.get(source_id, 0), last, tuple(origins.get(source_id, ()))))
    return out
