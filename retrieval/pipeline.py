"""The one place search pipelines are built, and the typed search service around them."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from haystack import Document, Pipeline
from haystack.utils import Secret

from hr.settings import Settings
from retrieval.components import (
    ChunkHydrator,
    HybridRankFusion,
    PgvectorChunkEmbeddingRetriever,
    PgvectorChunkKeywordRetriever,
    QueryAnalyzer,
    Ranking,
)
from retrieval.embedding import CachedQueryEmbedder


def build_search_pipeline(settings: Settings, database_url: str) -> Pipeline:
    """analyzer -> (query embedder -> HNSW retriever) + (keyword retriever) -> RRF -> hydrate."""
    url = Secret.from_token(database_url)
    pipe = Pipeline()
    pipe.add_component(
        "analyzer",
        QueryAnalyzer(
            url,
            glossary_path=str(settings.glossary_path) if settings.glossary_path else None,
            dictionary_path=_model_vocabulary(settings),
        ),
    )
    pipe.add_component(
        "embedder",
        CachedQueryEmbedder(
            settings.resolved_model_path(),
            device=settings.embedding_device,
            cache_size=settings.query_cache_size,
            threads=settings.query_threads,
        ),
    )
    pipe.add_component(
        "embedding_retriever",
        PgvectorChunkEmbeddingRetriever(url, top_k=settings.search_candidates, ef_search=settings.hnsw_ef_search),
    )
    pipe.add_component(
        "keyword_retriever",
        PgvectorChunkKeywordRetriever(
            url,
            top_k=settings.search_candidates,
            max_term_share=settings.keyword_max_term_share,
            k1=settings.bm25_k1,
            b=settings.bm25_b,
            postings_budget=settings.keyword_postings_budget,
        ),
    )
    pipe.add_component(
        "fusion",
        HybridRankFusion(
            k=settings.rrf_k,
            embedding_weight=settings.embedding_weight,
            keyword_weight=settings.keyword_weight,
        ),
    )
    pipe.add_component(
        "hydrator",
        ChunkHydrator(
            url,
            audience_boost=settings.audience_boost,
            max_per_document=settings.max_chunks_per_document,
            document_boost=settings.document_boost,
        ),
    )
    pipe.connect("analyzer.embedding_text", "embedder.text")
    pipe.connect("embedder.embedding", "embedding_retriever.query_embedding")
    pipe.connect("analyzer.audience", "embedding_retriever.audience")
    pipe.connect("analyzer.in_scope", "embedding_retriever.in_scope")
    pipe.connect("analyzer.keyword_text", "keyword_retriever.query")
    pipe.connect("analyzer.audience", "keyword_retriever.audience")
    pipe.connect("embedding_retriever.hits", "fusion.embedding_hits")
    pipe.connect("keyword_retriever.hits", "fusion.keyword_hits")
    pipe.connect("fusion.hits", "hydrator.hits")
    pipe.connect("analyzer.audience", "hydrator.audience")
    pipe.connect("keyword_retriever.lexemes", "hydrator.lexemes")
    pipe.connect("embedder.embedding", "hydrator.query_embedding")  # cosine of each result, for answer confidence
    return pipe


def _model_vocabulary(settings: Settings) -> str | None:
    """The embedding model's word list: real words that typo correction must leave alone."""
    vocab = Path(settings.resolved_model_path()) / "vocab.txt"
    return str(vocab) if vocab.is_file() else None


@dataclass(frozen=True)
class SearchResult:
    rank: int
    score: float
    text: str
    title: str
    heading_path: str
    page: int | None
    uri: str
    source: str
    path: str
    chunk_id: int
    document_id: int
    version_id: int
    version_no: int
    content_hash: str
    # cosine similarity of the chunk's embedding to the query's (None where unknown); not used for ranking
    similarity: float | None = None
    page_end: int | None = None  # the page the text runs to, when it runs over a page break

    def covers_page(self, page: int) -> bool:
        """Whether the chunk's text comes (in part) from ``page``."""
        if self.page is None:
            return False
        return self.page <= page <= (self.page_end if self.page_end is not None else self.page)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchResponse:
    query: str
    results: list[SearchResult]
    latency_ms: float
    analysis: dict[str, Any]
    # the highest cosine similarity of any chunk in the audience (the HNSW retriever's first hit)
    top_similarity: float | None = None


class SearchService:
    """Hybrid search as a typed call: ``search(query, k=5, country='DE')``."""

    def __init__(self, settings: Settings, database_url: str, *, concurrent: bool | None = None) -> None:
        self.pipeline = build_search_pipeline(settings, database_url)
        self.database_url = database_url
        self.concurrent = settings.search_overlap if concurrent is None else concurrent
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_lock = threading.Lock()
        self._warm = False

    def generation(self) -> int:
        """The index's change counter (``search_generation``), read on every call (one indexed row):
        a cache keyed by it never serves an answer from before a change committed."""
        from hr.db import hot_path_engine
        from retrieval.store import search_generation

        with hot_path_engine(self.database_url).connect() as conn:
            value = search_generation(conn)
            conn.rollback()
        return value

    def warm_up(self) -> None:
        if not self._warm:
            self.pipeline.warm_up()
            self._warm = True

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        countries: list[str] | None = None,
        entities: list[str] | None = None,
        employment_types: list[str] | None = None,
        sources: list[str] | None = None,
    ) -> SearchResponse:
        if not query.strip():
            raise ValueError("the question is empty")
        self.warm_up()
        started = time.perf_counter()
        data = {
            "analyzer": {
                "query": query,
                "countries": countries,
                "entities": entities,
                "employment_types": employment_types,
                "sources": sources,
            },
            "hydrator": {"top_k": k},
        }
        extra = {"analyzer", "embedding_retriever"}
        if self.concurrent:
            # the query embedding (torch) and the keyword search (PostgreSQL) overlap
            coroutine = self.pipeline.run_async(data, include_outputs_from=extra)
            out = asyncio.run_coroutine_threadsafe(coroutine, self._event_loop()).result()
        else:
            out = self.pipeline.run(data, include_outputs_from=extra)
        latency = (time.perf_counter() - started) * 1000
        docs: list[Document] = out["hydrator"]["documents"]
        results = [_to_result(i, d) for i, d in enumerate(docs, start=1)]
        nearest: Ranking = out.get("embedding_retriever", {}).get("hits") or Ranking()
        top = max((h.score for h in nearest.hits), default=None)
        return SearchResponse(query, results, latency, out["analyzer"]["analysis"], top_similarity=top)

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        """One long-lived loop (and thread pool) per service: a loop per search costs ~10 ms."""
        with self._loop_lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="hrbot-search", daemon=True).start()
            return self._loop


def _to_result(rank: int, d: Document) -> SearchResult:
    m = d.meta
    return SearchResult(
        rank=rank,
        score=round(float(d.score or 0.0), 6),
        text=d.content or "",
        title=m["title"],
        heading_path=m["heading_path"],
        page=m["page"],
        uri=m["uri"],
        source=m["source"],
        path=m["path"],
        chunk_id=m["chunk_id"],
        document_id=m["document_id"],
        version_id=m["version_id"],
        version_no=m["version_no"],
        content_hash=m["content_hash"],
        similarity=None if m.get("similarity") is None else round(float(m["similarity"]), 6),
        page_end=m.get("page_end"),
    )
