"""All SQL of the search side. Read-only; each function takes an open connection."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from hr.db import pgvector_version


@dataclass(frozen=True)
class AudienceFilter:
    countries: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    employment_types: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    def sql(self) -> tuple[str, dict[str, Any]]:
        """Documents for this audience plus the ones that apply to everyone (within ``sources``)."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if self.sources:
            clauses.append("c.source_id IN (SELECT id FROM sources WHERE name = ANY(:f_sources))")
            params["f_sources"] = list(self.sources)
        for column, values in (
            ("countries", self.countries),
            ("entities", self.entities),
            ("employment_types", self.employment_types),
        ):
            if values:
                clauses.append(f"(cardinality(c.{column}) = 0 OR c.{column} && CAST(:f_{column} AS text[]))")
                params[f"f_{column}"] = list(values)
        return (" AND " + " AND ".join(clauses) if clauses else ""), params

    @property
    def active(self) -> bool:
        return bool(self.countries or self.entities or self.employment_types or self.sources)


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    score: float


@dataclass(frozen=True)
class ChunkRecord:
    chunk_id: int
    body: str
    title: str
    heading_path: str
    page: int | None
    page_end: int | None
    countries: list[str]
    document_id: int
    version_id: int
    version_no: int
    content_hash: str
    path: str
    source: str
    uri: str
    similarity: float | None = None  # cosine to the query embedding, when fetch_chunks was given one


def vector_search(
    conn: Connection,
    embedding: Sequence[float],
    audience: AudienceFilter,
    limit: int,
    *,
    ef_search: int,
    iterative: bool,
    in_scope: float | None = None,
) -> list[Hit]:
    """HNSW search over current chunks. A selective audience filter can leave HNSW short of
    ``limit`` rows: pgvector 0.8+ scans on iteratively; 0.6 gets a raised ef_search and, if still
    short, an exact search. ``in_scope`` (the share of current chunks in the audience's sources,
    when known; ignored by 0.8+) lets 0.6 go straight to the exact search when HNSW's ef_search candidates cannot
    hold ``limit`` of them (a small source among large ones)."""
    where, params = audience.sql()
    params |= {"q": _vector_literal(embedding), "n": limit}
    sql = (
        "SELECT c.id, 1 - (c.embedding <=> CAST(:q AS vector)) AS score FROM chunks c "
        f"WHERE c.is_current{where} ORDER BY c.embedding <=> CAST(:q AS vector) LIMIT :n"
    )
    # exact: an ORDER BY the index cannot serve, so the filter's own indexes are used
    exact = sql.replace(
        "ORDER BY c.embedding <=> CAST(:q AS vector)", "ORDER BY (c.embedding <=> CAST(:q AS vector)) + 0"
    )
    filtered_ef = max(ef_search, 4 * limit, 200)
    with conn.begin():
        if audience.active and not iterative and in_scope is not None and filtered_ef * in_scope < limit:
            rows = conn.execute(text(exact), params).all()
        else:
            if audience.active:
                if iterative:
                    conn.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
                conn.execute(text(f"SET LOCAL hnsw.ef_search = {filtered_ef:d}"))
            else:
                conn.execute(text(f"SET LOCAL hnsw.ef_search = {max(ef_search, limit):d}"))
            rows = conn.execute(text(sql), params).all()
            if audience.active and len(rows) < limit:
                rows = conn.execute(text(exact), params).all()
    hits = [Hit(int(r[0]), float(r[1])) for r in rows]
    hits.sort(key=lambda h: -h.score)  # relaxed_order may return rows slightly out of order
    return hits


def query_lexemes(conn: Connection, query: str) -> list[str]:
    rows = conn.execute(text("SELECT unnest(tsvector_to_array(to_tsvector('english'::regconfig, :q)))"), {"q": query})
    return [str(r[0]) for r in rows]


def keyword_search(
    conn: Connection,
    lexemes: Sequence[tuple[str, float]],
    audience: AudienceFilter,
    limit: int,
    *,
    average_length: float,
    k1: float = 1.2,
    b: float = 0.75,
) -> list[Hit]:
    """BM25 over the keyword postings (``chunk_terms``, an index-only scan per query lexeme): any
    term may match, each counts by its weight (its IDF), title and headings count more than body."""
    if not lexemes:
        return []
    where, params = audience.sql()
    params |= {
        "lex": [lex for lex, _ in lexemes],
        "w": [weight for _, weight in lexemes],
        "n": limit,
        "k1": k1,
        "b": b,
        "avgdl": max(average_length, 1.0),
    }
    sql = (
        "SELECT c.chunk_id, sum(q.w * c.tf * (:k1 + 1) / (c.tf + :k1 * (1 - :b + :b * c.dl / :avgdl))) AS score "
        "FROM unnest(CAST(:lex AS text[]), CAST(:w AS float8[])) AS q(lexeme, w) "
        f"JOIN chunk_terms c ON c.lexeme = q.lexeme WHERE true{where} "
        "GROUP BY c.chunk_id ORDER BY score DESC LIMIT :n"
    )
    return [Hit(int(r[0]), float(r[1])) for r in conn.execute(text(sql), params)]


def fetch_chunks(
    conn: Connection, chunk_ids: Sequence[int], query_embedding: Sequence[float] | None = None
) -> dict[int, ChunkRecord]:
    """The chunks' text and citation fields; with ``query_embedding``, also their cosine similarity to it."""
    if not chunk_ids:
        return {}
    params: dict[str, Any] = {"ids": list(chunk_ids)}
    similarity = "NULL::float8"
    if query_embedding is not None:
        similarity = "1 - (c.embedding <=> CAST(:q AS vector))"
        params["q"] = _vector_literal(query_embedding)
    rows = conn.execute(
        text(
            "SELECT c.id, c.body, c.title, c.heading_path, c.page, c.page_end, c.countries, c.document_id, "
            f"c.version_id, v.version_no, v.content_hash, d.path, s.name AS source, v.uri, {similarity} AS similarity "
            "FROM chunks c JOIN document_versions v ON v.id = c.version_id "
            "JOIN documents d ON d.id = c.document_id JOIN sources s ON s.id = c.source_id "
            "WHERE c.id = ANY(:ids)"
        ),
        params,
    )
    return {int(r[0]): ChunkRecord(*r) for r in rows}


def document_term_counts(
    conn: Connection, document_ids: Sequence[int], lexemes: Sequence[str]
) -> tuple[dict[int, dict[str, float]], dict[int, float]]:
    """For each document: how often each of ``lexemes`` occurs in its current chunks, and its total
    (``document_terms`` and ``documents.term_total``: primary-key lookups, one round trip)."""
    if not document_ids or not lexemes:
        return {}, {}
    counts: dict[int, dict[str, float]] = {}
    totals: dict[int, float] = {}
    for doc, lexeme, tf in conn.execute(
        text(
            "SELECT id, NULL, term_total FROM documents WHERE id = ANY(:docs) UNION ALL "
            "SELECT document_id, lexeme, tf FROM document_terms WHERE document_id = ANY(:docs) AND lexeme = ANY(:lex)"
        ),
        {"docs": list(document_ids), "lex": list(lexemes)},
    ):
        if lexeme is None:
            totals[int(doc)] = float(tf)
        else:
            counts.setdefault(int(doc), {})[str(lexeme)] = float(tf)
    return counts, totals


def document_posterior(
    counts: dict[int, dict[str, float]], totals: dict[int, float], lexemes: Sequence[str], mu: float = 2000.0
) -> dict[int, float]:
    """Which of these documents the query is about: P(document | query lexemes) under a unigram
    language model of each document with Dirichlet smoothing (``mu``) towards the candidates taken
    together, uniform prior. Near-twin documents ("Northwind Standard" and "Northwind Health Plus")
    split by the words that one uses and the other does not; lexemes no candidate has are ignored."""
    docs = [d for d in totals if totals[d] > 0]
    if len(docs) < 2:
        return {d: 1.0 for d in docs}
    present = [lex for lex in dict.fromkeys(lexemes) if any(counts.get(d, {}).get(lex) for d in docs)]
    if not present:
        return {d: 1.0 / len(docs) for d in docs}
    whole = sum(totals[d] for d in docs)
    background = {lex: sum(counts.get(d, {}).get(lex, 0.0) for d in docs) / whole for lex in present}
    loglik = {
        d: sum(math.log((counts.get(d, {}).get(lex, 0.0) + mu * background[lex]) / (totals[d] + mu)) for lex in present)
        for d in docs
    }
    top = max(loglik.values())
    weights = {d: math.exp(v - top) for d, v in loglik.items()}
    norm = sum(weights.values())
    return {d: w / norm for d, w in weights.items()}


def term_statistics(conn: Connection) -> tuple[dict[str, int], dict[str, int], int, float]:
    """(words as typed -> chunk count, lexemes -> chunk count, number of current chunks, their
    average number of distinct lexemes)."""
    words: dict[str, int] = {}
    lexemes: dict[str, int] = {}
    for term, kind, ndoc in conn.execute(text("SELECT term, kind, ndoc FROM search_terms")):
        (words if kind == "w" else lexemes)[str(term)] = int(ndoc)
    total, average = conn.execute(text("SELECT count(*), avg(length(tsv)) FROM chunks WHERE is_current")).one()
    return words, lexemes, int(total or 0), float(average or 0.0)


@dataclass(frozen=True)
class SourceStatistics:
    """Keyword statistics of one source: lexeme -> chunks holding it, chunks, their average number
    of distinct lexemes."""

    lexemes: dict[str, int]
    total: int
    average_length: float


def source_statistics(conn: Connection) -> dict[str, SourceStatistics]:
    """Per source name (``source_lexemes`` and the current chunks)."""
    lexemes: dict[int, dict[str, int]] = {}
    for source_id, lexeme, ndoc in conn.execute(text("SELECT source_id, lexeme, ndoc FROM source_lexemes")):
        lexemes.setdefault(int(source_id), {})[str(lexeme)] = int(ndoc)
    out: dict[str, SourceStatistics] = {}
    for source_id, name, total, average in conn.execute(
        text(
            "SELECT s.id, s.name, count(*), avg(length(c.tsv)) FROM chunks c JOIN sources s ON s.id = c.source_id "
            "WHERE c.is_current GROUP BY s.id, s.name"
        )
    ):
        out[str(name)] = SourceStatistics(lexemes.get(int(source_id), {}), int(total), float(average or 0.0))
    return out


def index_generation(conn: Connection) -> tuple[Any, ...]:
    """Changes whenever documents are written or removed (cheap, index-backed)."""
    row = conn.execute(
        text(
            "SELECT (SELECT max(id) FROM chunks), (SELECT max(updated_at) FROM documents), "
            "(SELECT count(*) FROM documents WHERE removed_at IS NOT NULL)"
        )
    ).one()
    return tuple(row)


def supports_iterative_scan(conn: Connection) -> bool:
    return pgvector_version(conn) >= (0, 8)


def idf(ndoc: int, total: int) -> float:
    return math.log(1 + (total - ndoc + 0.5) / (ndoc + 0.5))


def _vector_literal(embedding: Sequence[float]) -> str:
    literal = getattr(embedding, "literal", None)  # a QueryVector keeps its own
    if isinstance(literal, str):
        return literal
    return "[" + ",".join(f"{x:.7g}" for x in embedding) + "]"
