"""Ingest: read a source, convert, chunk, embed what is new, and write each document atomically.

Unchanged documents (same content hash) cost one dictionary lookup; embeddings of unchanged chunk
texts are reused, so an edit re-embeds only the chunks it touched. Every document is written in
its own transaction, so a failure part-way leaves the previous index answering.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Batch, SkippedDocument, SourceDocument
from hr.db import unit_of_work
from hr.settings import Settings
from retrieval import store
from retrieval.audience import Audience, resolve_audience
from retrieval.chunking import Chunk, Chunker, TokenCounter
from retrieval.converters import ConversionError, ParsedDocument, convert

log = logging.getLogger(__name__)

# Bump when conversion or chunking changes in a way that should rebuild every document.
PIPELINE_VERSION = "4"  # bump when conversion or chunking changes: documents are re-read (not re-embedded)
EMBED_GROUP_CHUNKS = 256


class Progress(Protocol):
    def files_total(self, total: int) -> None: ...
    def file_done(self, path: str) -> None: ...


Embedder = Callable[[list[str]], list[list[float]]]


@dataclass
class IngestSummary:
    source: str
    seen: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    chunks_written: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class _Pending:
    doc: SourceDocument
    content_hash: str
    parsed: ParsedDocument
    meta: dict[str, Any]
    audience: Audience
    chunks: list[Chunk]
    is_new: bool


def content_hash(data: bytes, meta: dict[str, Any], model_id: str, max_tokens: int) -> str:
    h = hashlib.sha256(data)
    h.update(json.dumps(meta, sort_keys=True, default=str).encode())
    h.update(f"|{PIPELINE_VERSION}|{model_id}|{max_tokens}".encode())
    return h.hexdigest()


def text_hash(model_id: str, embed_text: str) -> str:
    return hashlib.sha256(f"{model_id}\n{embed_text}".encode()).hexdigest()


def document_uri(doc: SourceDocument, meta: dict[str, Any]) -> str:
    for key in ("url", "source_url", "canonical_url"):
        value = meta.get(key)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return value
    base = meta.get("base_url")
    if isinstance(base, str) and base:
        return f"{base.rstrip('/')}/{doc.path}"
    return doc.uri


class Ingestor:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        embed: Embedder,
        *,
        counter: TokenCounter | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.embed = embed
        self.model_id = settings.model_id()
        self.chunker = Chunker(counter or TokenCounter(settings.resolved_model_path()), settings.max_chunk_tokens)

    def ingest(
        self,
        batches: Iterable[Batch],
        *,
        source_name: str,
        origin: str,
        listed_ids: set[str] | None = None,
        extra_meta: dict[str, Any] | None = None,
        prune: bool = True,
        progress: Progress | None = None,
    ) -> IngestSummary:
        """Ingest every document of ``batches`` into ``source_name``. When ``prune`` is set, documents
        of this source and origin that were neither seen nor in ``listed_ids`` (the source's listing,
        for a sync that reads only what changed) are taken out of search."""
        started = time.perf_counter()
        summary = IngestSummary(source=source_name)
        with unit_of_work(self.sessions) as session:
            source_id = store.get_or_create_source(session, source_name).id
            known = store.known_documents(session, source_id)
        if progress and listed_ids is not None:
            progress.files_total(len(listed_ids))
        seen: set[str] = set()
        pending: list[_Pending] = []
        for batch in batches:
            for item in batch:
                seen.add(item.path)
                summary.seen += 1
                if isinstance(item, SkippedDocument):
                    self._fail(summary, item.path, item.reason, progress)
                    continue
                prepared = self._prepare(item, source_id, known, extra_meta or {}, summary, progress)
                if prepared is not None:
                    pending.append(prepared)
                if sum(len(p.chunks) for p in pending) >= EMBED_GROUP_CHUNKS:
                    self._write(pending, source_id, summary, progress)
                    pending = []
        self._write(pending, source_id, summary, progress)

        if prune:
            keep = seen if listed_ids is None else seen | listed_ids
            gone = [k.id for path, k in known.items() if k.origin == origin and path not in keep and not k.removed]
            with unit_of_work(self.sessions) as session:
                summary.removed = store.remove_documents(session, gone)
        if summary.new or summary.changed or summary.removed:
            with unit_of_work(self.sessions) as session:
                store.refresh_search_terms(session)
                bind = session.get_bind()
            store.vacuum_postings(bind)
        summary.seconds = time.perf_counter() - started
        log.info("ingest finished", extra={"summary": summary.as_dict()})
        return summary

    def _fail(self, summary: IngestSummary, path: str, reason: str, progress: Progress | None) -> None:
        summary.failed += 1
        summary.failures.append((path, reason))
        log.warning("document skipped: %s (%s)", path, reason, extra={"path": path, "reason": reason})
        if progress:
            progress.file_done(path)

    def _prepare(
        self,
        doc: SourceDocument,
        source_id: int,
        known: dict[str, store.KnownDocument],
        extra_meta: dict[str, Any],
        summary: IngestSummary,
        progress: Progress | None,
    ) -> _Pending | None:
        digest = content_hash(doc.data, {**extra_meta, **doc.meta}, self.model_id, self.settings.max_chunk_tokens)
        previous = known.get(doc.path)
        is_new = previous is None or previous.removed
        if previous is not None and not previous.removed and previous.content_hash == digest:
            summary.unchanged += 1
            if progress:
                progress.file_done(doc.path)
            return None
        with unit_of_work(self.sessions) as session:
            if previous is not None and store.reactivate_version(session, source_id, doc.path, doc.origin, digest):
                summary.new += is_new
                summary.changed += not is_new
                if progress:
                    progress.file_done(doc.path)
                return None
        try:
            parsed = convert(doc.data, doc.path, fmt=doc.format)
            meta = {**extra_meta, **doc.meta, **parsed.meta}
            audience = resolve_audience(meta, parsed.title, doc.path)
            chunks = self.chunker.chunk(parsed)
        except ConversionError as exc:
            self._fail(summary, doc.path, str(exc), progress)
            return None
        except ValueError as exc:
            self._fail(summary, doc.path, f"bad metadata: {exc}", progress)
            return None
        return _Pending(doc, digest, parsed, _jsonable(meta), audience, chunks, is_new)

    def _write(
        self, pending: list[_Pending], source_id: int, summary: IngestSummary, progress: Progress | None
    ) -> None:
        if not pending:
            return
        hashes = [[text_hash(self.model_id, c.embed_text) for c in p.chunks] for p in pending]
        with unit_of_work(self.sessions) as session:
            vectors: dict[str, Any] = store.embeddings_by_text_hash(session, (h for hs in hashes for h in hs))
        missing: dict[str, str] = {}
        for p, hs in zip(pending, hashes, strict=True):
            for c, h in zip(p.chunks, hs, strict=True):
                if h not in vectors:
                    missing.setdefault(h, c.embed_text)
        if missing:
            embedded = self.embed(list(missing.values()))
            vectors.update(zip(missing.keys(), embedded, strict=True))
            summary.chunks_embedded += len(missing)
        for p, hs in zip(pending, hashes, strict=True):
            with unit_of_work(self.sessions) as session:
                store.write_version(
                    session,
                    source_id=source_id,
                    path=p.doc.path,
                    origin=p.doc.origin,
                    content_hash=p.content_hash,
                    title=p.parsed.title,
                    uri=document_uri(p.doc, p.meta),
                    meta=p.meta,
                    audience=p.audience,
                    content=p.parsed.full_text(),
                    chunks=p.chunks,
                    text_hashes=hs,
                    embeddings=[vectors[h] for h in hs],
                )
            summary.new += p.is_new
            summary.changed += not p.is_new
            summary.chunks_written += len(p.chunks)
            if progress:
                progress.file_done(p.doc.path)


def _jsonable(meta: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(meta, default=str))


def embedder_from_settings(settings: Settings) -> Callable[[list[str]], list[list[float]]]:
    from retrieval.embedding import document_embedder, embed_texts

    component = document_embedder(settings)
    component.warm_up()
    return lambda texts: embed_texts(component, texts)
