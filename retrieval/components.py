"""Haystack components of the hybrid search pipeline.

pgvector-haystack's stock keyword retriever recomputes ``to_tsvector`` for every row; these
retrievers read BM25 postings made from the stored tsvector and the HNSW index over current chunks
instead, and apply the audience filter (the asker's country plus documents for everyone).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict
from haystack.utils import Secret, deserialize_secrets_inplace
from sqlalchemy import Engine

from hr.db import hot_path_engine
from retrieval import search_store as sql
from retrieval.embedding import QueryVector
from retrieval.query import Glossary, Speller, analyze, dictionary_words, merge_countries
from retrieval.search_store import AudienceFilter, Hit


class _DatabaseComponent:
    """Light ``__init__``; the engine is made in ``warm_up``."""

    def __init__(self, database_url: Secret) -> None:
        self.database_url = database_url
        self._engine: Engine | None = None

    def warm_up(self) -> None:
        if self._engine is None:
            url = self.database_url.resolve_value()
            if not url:
                raise ValueError("the database URL secret resolved to nothing")
            self._engine = hot_path_engine(str(url))

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self.warm_up()
        assert self._engine is not None
        return self._engine

    def _to_dict(self, **params: Any) -> dict[str, Any]:
        return default_to_dict(self, database_url=self.database_url.to_dict(), **params)


def _from_dict(cls: Any, data: dict[str, Any]) -> Any:
    deserialize_secrets_inplace(data["init_parameters"], keys=["database_url"])
    return default_from_dict(cls, data)


class TermStatistics:
    """Word counts of the index, in all and per source, reloaded when the index changes (checked at
    most every ``ttl_s``). :meth:`keyword_weights` gives the statistics a search over some sources
    weighs its words by. The speller and the per-source counts are built on first use after a
    reload: the keyword retriever never spells, and only a search restricted to sources needs them."""

    def __init__(self, engine: Engine, ttl_s: float = 15.0, known_words: frozenset[str] = frozenset()) -> None:
        self.engine = engine
        self.known_words = known_words
        self.ttl_s = ttl_s
        self.words: dict[str, int] = {}
        self.lexemes: dict[str, int] = {}
        self.total = 0
        self.average_length = 0.0
        self._speller: Speller | None = None
        self._sources: dict[str, sql.SourceStatistics] | None = None
        self._views: dict[tuple[str, ...], sql.SourceStatistics] = {}
        self._generation: tuple[Any, ...] | None = None
        self._checked = 0.0

    def refresh(self) -> TermStatistics:
        now = time.monotonic()
        if self._generation is not None and now - self._checked < self.ttl_s:
            return self
        self._checked = now
        with self.engine.connect() as conn:
            generation = sql.index_generation(conn)
            if generation != self._generation:
                self.words, self.lexemes, self.total, self.average_length = sql.term_statistics(conn)
                self._speller, self._sources, self._views = None, None, {}
                self._generation = generation
        return self

    @property
    def speller(self) -> Speller:
        if self._speller is None:
            self._speller = Speller(self.words, known=self.known_words)
        return self._speller

    @property
    def sources(self) -> dict[str, sql.SourceStatistics]:
        if self._sources is None:
            with self.engine.connect() as conn:
                self._sources = sql.source_statistics(conn)
        return self._sources

    def share(self, sources: tuple[str, ...]) -> float | None:
        """The share of current chunks that ``sources`` hold (None: no sources named, or none indexed)."""
        if not sources or not self.total:
            return None
        return sum(self.sources[name].total for name in set(sources) if name in self.sources) / self.total

    def keyword_weights(self, sources: tuple[str, ...] = ()) -> sql.SourceStatistics:
        """The lexeme counts, chunk count and average length of the named sources together (of
        everything with none): a search restricted to one company weighs words by that company's
        documents, not by everything indexed."""
        known = tuple(sorted(s for s in set(sources) if s in self.sources)) if sources else ()
        if not known:
            return sql.SourceStatistics(self.lexemes, self.total, self.average_length)
        view = self._views.get(known)
        if view is None:
            parts = [self.sources[name] for name in known]
            if len(parts) == 1:
                view = parts[0]
            else:
                lexemes: dict[str, int] = {}
                for part in parts:
                    for lexeme, ndoc in part.lexemes.items():
                        lexemes[lexeme] = lexemes.get(lexeme, 0) + ndoc
                total = sum(p.total for p in parts)
                average = sum(p.average_length * p.total for p in parts) / max(total, 1)
                view = sql.SourceStatistics(lexemes, total, average)
            self._views[known] = view
        return view


@component
class QueryAnalyzer(_DatabaseComponent):
    """Glossary expansion, typo correction and country detection; outputs the texts for each
    retriever, the audience filter and the share of the index its sources hold (``in_scope``)."""

    def __init__(
        self, database_url: Secret, glossary_path: str | None = None, dictionary_path: str | None = None
    ) -> None:
        _DatabaseComponent.__init__(self, database_url)
        self.glossary_path = glossary_path
        self.dictionary_path = dictionary_path
        self._glossary: Glossary | None = None
        self._stats: TermStatistics | None = None

    def warm_up(self) -> None:
        _DatabaseComponent.warm_up(self)
        if self._glossary is None:
            from pathlib import Path

            self._glossary = Glossary.load(Path(self.glossary_path) if self.glossary_path else None)
        if self._stats is None:
            known = dictionary_words(self.dictionary_path) if self.dictionary_path else frozenset()
            self._stats = TermStatistics(self.engine, known_words=known)

    @component.output_types(
        embedding_text=str, keyword_text=str, audience=AudienceFilter, in_scope=float | None, analysis=dict
    )
    def run(
        self,
        query: str,
        countries: list[str] | None = None,
        entities: list[str] | None = None,
        employment_types: list[str] | None = None,
        sources: list[str] | None = None,
    ) -> dict[str, Any]:
        self.warm_up()
        assert self._glossary is not None and self._stats is not None
        stats = self._stats.refresh()
        analyzed = analyze(query, self._glossary, stats.speller)
        audience = AudienceFilter(
            countries=merge_countries(countries, analyzed.countries),
            entities=tuple(entities or ()) if not analyzed.countries else (),
            employment_types=tuple(employment_types or ()),
            sources=tuple(sources or ()),
        )
        return {
            "embedding_text": analyzed.embedding_text,
            "keyword_text": analyzed.keyword_text,
            "audience": audience,
            "in_scope": stats.share(audience.sources),
            "analysis": {
                "corrections": analyzed.corrections,
                "expansions": list(analyzed.expansions),
                "countries": list(audience.countries),
            },
        }

    def term_stats(self) -> TermStatistics:
        self.warm_up()
        assert self._stats is not None
        return self._stats.refresh()

    def to_dict(self) -> dict[str, Any]:
        return self._to_dict(glossary_path=self.glossary_path, dictionary_path=self.dictionary_path)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueryAnalyzer:
        return _from_dict(cls, data)


@dataclass(frozen=True)
class Ranking:
    """Chunk ids with scores, best first: what the retrievers hand the fusion step and the fusion
    step hands the hydrator. Haystack deep-copies every component input element by element (with a
    slow Protocol check per element); a hundred candidate Documents cost ~10 ms a search, this
    immutable object is passed as itself. Only the hydrator's output is Documents."""

    hits: tuple[Hit, ...] = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> Ranking:
        return self

    def __len__(self) -> int:
        return len(self.hits)

    def ids(self) -> list[int]:
        return [h.chunk_id for h in self.hits]


@component
class PgvectorChunkEmbeddingRetriever(_DatabaseComponent):
    """Cosine search with the HNSW index over current chunks, honouring the audience filter."""

    def __init__(self, database_url: Secret, top_k: int = 50, ef_search: int = 100) -> None:
        _DatabaseComponent.__init__(self, database_url)
        self.top_k = top_k
        self.ef_search = ef_search
        self._iterative: bool | None = None

    def warm_up(self) -> None:
        _DatabaseComponent.warm_up(self)
        if self._iterative is None:
            with self.engine.connect() as conn:
                self._iterative = sql.supports_iterative_scan(conn)

    @component.output_types(hits=Ranking)
    def run(
        self,
        query_embedding: QueryVector,
        audience: AudienceFilter | None = None,
        top_k: int | None = None,
        in_scope: float | None = None,
    ) -> dict[str, Any]:
        """``in_scope``: the share of the index in the audience's sources (``QueryAnalyzer``), for
        pgvector 0.6 to see when HNSW cannot find enough of them."""
        self.warm_up()
        with self.engine.connect() as conn:
            hits = sql.vector_search(
                conn,
                query_embedding,
                audience or AudienceFilter(),
                top_k or self.top_k,
                ef_search=self.ef_search,
                iterative=bool(self._iterative),
                in_scope=in_scope,
            )
        return {"hits": Ranking(tuple(hits))}

    def to_dict(self) -> dict[str, Any]:
        return self._to_dict(top_k=self.top_k, ef_search=self.ef_search)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PgvectorChunkEmbeddingRetriever:
        return _from_dict(cls, data)


@component
class PgvectorChunkKeywordRetriever(_DatabaseComponent):
    """BM25 over the keyword postings of current chunks (``chunk_terms``, made from the stored
    tsvector). ``k1`` and ``b`` were chosen on the evaluation sets: short HR chunks want a quickly
    saturating term frequency and little length normalisation."""

    def __init__(
        self,
        database_url: Secret,
        top_k: int = 50,
        max_term_share: float = 0.2,
        k1: float = 0.6,
        b: float = 0.2,
        postings_budget: int = 20_000,
    ) -> None:
        _DatabaseComponent.__init__(self, database_url)
        self.top_k = top_k
        self.max_term_share = max_term_share
        self.postings_budget = postings_budget
        self.k1 = k1
        self.b = b
        self._stats: TermStatistics | None = None

    def warm_up(self) -> None:
        _DatabaseComponent.warm_up(self)
        if self._stats is None:
            self._stats = TermStatistics(self.engine)

    @component.output_types(hits=Ranking, lexemes=list[str])
    def run(self, query: str, audience: AudienceFilter | None = None, top_k: int | None = None) -> dict[str, Any]:
        """``hits``: BM25 over the selective lexemes; ``lexemes``: all of the query's (for the
        hydrator's document prior)."""
        self.warm_up()
        assert self._stats is not None
        stats = self._stats.refresh()
        audience = audience or AudienceFilter()
        scope = stats.keyword_weights(audience.sources)
        with self.engine.connect() as conn:
            lexemes = list(dict.fromkeys(sql.query_lexemes(conn, query)))
            weighted = self._weights(lexemes, scope, stats)
            hits = sql.keyword_search(
                conn,
                weighted,
                audience,
                top_k or self.top_k,
                average_length=scope.average_length,
                k1=self.k1,
                b=self.b,
            )
        return {"hits": Ranking(tuple(hits)), "lexemes": lexemes}

    def _weights(
        self, lexemes: list[str], scope: sql.SourceStatistics, stats: TermStatistics
    ) -> list[tuple[str, float]]:
        """IDF weights from the searched sources' statistics (``scope``). A word in many of their
        chunks says little, and all its postings are read (at 100k chunks most of a query's time): a
        question of common words only keeps its two rarest; searching some sources, a word in over
        half of everything indexed is not read either."""
        total = max(scope.total, 1)
        everything = max(stats.total, 1)
        known = [(lex, scope.lexemes.get(lex, 0)) for lex in lexemes]
        known = [(lex, n) for lex, n in known if n > 0]
        if scope.total != stats.total:
            known = [(lex, n) for lex, n in known if stats.lexemes.get(lex, n) / everything <= 0.5]
        selective = [(lex, n) for lex, n in known if n / total <= self.max_term_share] or sorted(
            known, key=lambda item: item[1]
        )[:2]
        return [(lex, sql.idf(n, total)) for lex, n in self._within_budget(selective, stats)]

    def _within_budget(self, selective: list[tuple[str, int]], stats: TermStatistics) -> list[tuple[str, int]]:
        """Rarest words first while the postings they read (all of a word's, in every source) fit
        ``postings_budget``; the rarest two always. Aggregating the postings is the search's cost: at
        100k chunks a question of everyday words reads ~50k. A word dropped here is in thousands of
        chunks, so it weighs least; at the size of a company's handbooks the budget is never reached."""
        if not self.postings_budget:
            return selective
        kept: list[tuple[str, int]] = []
        read = 0
        for lex, n in sorted(selective, key=lambda item: item[1]):
            read += stats.lexemes.get(lex, n)
            if len(kept) >= 2 and read > self.postings_budget:
                break
            kept.append((lex, n))
        return kept

    def to_dict(self) -> dict[str, Any]:
        return self._to_dict(
            top_k=self.top_k,
            max_term_share=self.max_term_share,
            k1=self.k1,
            b=self.b,
            postings_budget=self.postings_budget,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PgvectorChunkKeywordRetriever:
        return _from_dict(cls, data)


@component
class HybridRankFusion:
    """Weighted reciprocal rank fusion of the embedding and keyword result lists; hands the best
    ``candidates`` on for hydration, boosting and the per-document cap."""

    def __init__(
        self, k: int = 60, embedding_weight: float = 1.0, keyword_weight: float = 1.0, candidates: int = 40
    ) -> None:
        self.k = k
        self.embedding_weight = embedding_weight
        self.keyword_weight = keyword_weight
        self.candidates = candidates

    @component.output_types(hits=Ranking)
    def run(self, embedding_hits: Ranking, keyword_hits: Ranking) -> dict[str, Any]:
        scores: dict[int, float] = {}
        for weight, ranking in ((self.embedding_weight, embedding_hits), (self.keyword_weight, keyword_hits)):
            for rank, hit in enumerate(ranking.hits):
                scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + weight / (self.k + rank + 1)
        ranked = sorted(scores.items(), key=lambda item: -item[1])
        return {"hits": Ranking(tuple(Hit(i, s) for i, s in ranked[: self.candidates]))}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            k=self.k,
            embedding_weight=self.embedding_weight,
            keyword_weight=self.keyword_weight,
            candidates=self.candidates,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HybridRankFusion:
        return default_from_dict(cls, data)


@component
class ChunkHydrator(_DatabaseComponent):
    """Loads text, title, heading path, page, link and version of the fused candidates, boosts the
    ones written for the asker's audience and the ones of the document the question is about, and
    keeps the top ``top_k`` (at most ``max_per_document`` from one document, or from one page of a
    PDF). Given the query embedding, each document's ``meta["similarity"]`` is its cosine
    similarity to the query (for answer confidence; the ranking does not use it).

    Document prior: given the query's ``lexemes``, each candidate's score is multiplied by
    ``1 + document_boost * P(its document | query)`` (``search_store.document_posterior`` over the
    candidates' documents). Chunks embed and match locally; two near-identical plan booklets differ
    in the words each uses throughout ("Standard", "Plus"), which a chunk may not repeat."""

    def __init__(
        self,
        database_url: Secret,
        audience_boost: float = 0.25,
        max_per_document: int = 2,
        document_boost: float = 0.1,
    ) -> None:
        _DatabaseComponent.__init__(self, database_url)
        self.audience_boost = audience_boost
        self.max_per_document = max_per_document
        self.document_boost = document_boost

    @component.output_types(documents=list[Document])
    def run(
        self,
        hits: Ranking,
        audience: AudienceFilter | None = None,
        top_k: int = 5,
        query_embedding: QueryVector | None = None,
        lexemes: list[str] | None = None,
    ) -> dict[str, Any]:
        self.warm_up()
        posterior: dict[int, float] = {}
        with self.engine.connect() as conn:
            records = sql.fetch_chunks(conn, hits.ids(), query_embedding)
            if lexemes and self.document_boost:
                documents = list(dict.fromkeys(r.document_id for r in records.values()))
                counts, totals = sql.document_term_counts(conn, documents, lexemes)
                posterior = sql.document_posterior(counts, totals, lexemes)
        wanted = set(audience.countries) if audience else set()
        scored: list[tuple[float, sql.ChunkRecord]] = []
        for hit in hits.hits:
            record = records.get(hit.chunk_id)
            if record is None:
                continue
            score = hit.score
            if wanted and wanted.intersection(record.countries):
                score *= 1 + self.audience_boost
            score *= 1 + self.document_boost * posterior.get(record.document_id, 0.0)
            scored.append((score, record))
        kept = diversify(scored, top_k, self.max_per_document)
        return {"documents": [_record_to_document(r, score) for score, r in kept]}

    def to_dict(self) -> dict[str, Any]:
        return self._to_dict(
            audience_boost=self.audience_boost,
            max_per_document=self.max_per_document,
            document_boost=self.document_boost,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkHydrator:
        return _from_dict(cls, data)


def diversify(
    scored: list[tuple[float, sql.ChunkRecord]], top_k: int, max_per_document: int
) -> list[tuple[float, sql.ChunkRecord]]:
    """The best ``top_k`` by score, at most ``max_per_document`` from one document: the cap is per
    citable unit, a document or one page of a paged document (a 100-page PDF), where one citation
    per page is enough."""
    per_unit: dict[tuple[int, int | None], int] = {}
    out: list[tuple[float, sql.ChunkRecord]] = []
    for score, r in sorted(scored, key=lambda item: -item[0]):
        unit = (r.document_id, r.page)
        cap = max_per_document if r.page is None else 1
        if per_unit.get(unit, 0) >= cap:
            continue
        per_unit[unit] = per_unit.get(unit, 0) + 1
        out.append((score, r))
        if len(out) >= top_k:
            break
    return out


def _record_to_document(r: sql.ChunkRecord, score: float) -> Document:
    uri = f"{r.uri}#page={r.page}" if r.page and "#" not in r.uri else r.uri
    return Document(
        id=str(r.chunk_id),
        content=r.body,
        score=score,
        meta={
            "chunk_id": r.chunk_id,
            "title": r.title,
            "heading_path": r.heading_path,
            "page": r.page,
            "page_end": r.page_end,
            "uri": uri,
            "source": r.source,
            "path": r.path,
            "document_id": r.document_id,
            "version_id": r.version_id,
            "version_no": r.version_no,
            "content_hash": r.content_hash,
            "countries": list(r.countries),
            "similarity": None if r.similarity is None else float(r.similarity),
        },
    )
