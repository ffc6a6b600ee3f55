"""Hybrid search latency (query embedding included, every query a cache miss), p50/p95:

1. at the real corpus size: the database hrbot uses now (ingest ../shared/corpus first);
2. at 100k chunks: a fresh database of synthetic chunks (real chunk texts recombined, real
   embeddings with noise), a fifth of them country-specific;

each next to pgvector-haystack's stock PgvectorEmbeddingRetriever / PgvectorKeywordRetriever on
the same rows in the same run.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import time
from pathlib import Path

import numpy as np
from _common import ROOT, fresh_database, pct
from haystack.utils import Secret
from haystack_integrations.components.retrievers.pgvector import PgvectorEmbeddingRetriever, PgvectorKeywordRetriever
from haystack_integrations.document_stores.pgvector import PgvectorDocumentStore
from sqlalchemy import create_engine, make_url, text

from hr.db import database_url
from hr.settings import Settings
from retrieval.embedding import CachedQueryEmbedder
from retrieval.pipeline import SearchService


def questions() -> list[tuple[str, str | None]]:
    out = []
    for f in sorted((ROOT / "evals").glob("*.jsonl")):
        for line in f.read_text().splitlines():
            if line.strip():
                item = json.loads(line)
                out.append((item["question"], item.get("country")))
    return out


def hybrid(url: str, qs: list[tuple[str, str | None]]) -> list[float]:
    service = SearchService(Settings(database_url=url), url)
    service.warm_up()
    service.search("warm up the model and the connection pool", k=5)
    times = []
    for q, country in qs:
        started = time.perf_counter()
        service.search(q, k=5, countries=[country] if country else None)
        times.append((time.perf_counter() - started) * 1000)
    return times


def stock_store(url: str) -> PgvectorDocumentStore:
    """pgvector-haystack's own table, filled with the same chunks (SQL copy, no re-embedding)."""
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    store = PgvectorDocumentStore(
        connection_string=Secret.from_token(libpq),
        table_name="haystack_baseline",
        embedding_dimension=384,
        vector_function="cosine_similarity",
        recreate_table=True,
        search_strategy="hnsw",
    )
    store.count_documents()  # creates the table and its indexes
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO haystack_baseline (id, embedding, content, meta) "
                "SELECT id::text, embedding, body, '{}'::jsonb FROM chunks WHERE is_current"
            )
        )
    engine.dispose()
    return store


def stock(url: str, qs: list[tuple[str, str | None]], keyword_queries: int) -> tuple[list[float], list[float]]:
    store = stock_store(url)
    embedder = CachedQueryEmbedder(Settings().resolved_model_path(), cache_size=0)
    embedder.warm_up()
    emb_retriever = PgvectorEmbeddingRetriever(document_store=store, top_k=5)
    kw_retriever = PgvectorKeywordRetriever(document_store=store, top_k=5)
    emb_retriever.run(query_embedding=list(embedder.run("warm up")["embedding"]))
    emb_times, kw_times = [], []
    for q, _ in qs:
        started = time.perf_counter()
        emb_retriever.run(query_embedding=list(embedder.run(q)["embedding"]))
        emb_times.append((time.perf_counter() - started) * 1000)
    for q, _ in qs[:keyword_queries]:
        started = time.perf_counter()
        kw_retriever.run(query=q)
        kw_times.append((time.perf_counter() - started) * 1000)
    return emb_times, kw_times


def report(label: str, times: list[float]) -> None:
    print(f"  {label:<44} p50 {pct(times, 50):7.1f} ms   p95 {pct(times, 95):7.1f} ms   (n={len(times)})")


def synthesize(source_url: str, size: int) -> str:
    """A fresh database with ``size`` chunks made from the real ones."""
    rng = random.Random(42)
    src = create_engine(source_url)
    with src.connect() as conn:
        rows = conn.execute(
            text("SELECT title, heading_path, body, embedding::text FROM chunks WHERE is_current")
        ).all()
    src.dispose()
    if not rows:
        raise SystemExit("nothing ingested: run `hrbot ingest` on ../shared/corpus first")
    vectors = np.array([json.loads(r[3]) for r in rows], dtype=np.float32)
    url = fresh_database("hrbot_bench_100k")
    engine = create_engine(url)
    countries = ["DE", "GB", "US", "NL", "IE"]
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_chunks_embedding_hnsw"))
        conn.execute(text("INSERT INTO sources (name, kind) VALUES ('synthetic', 'folder')"))
        conn.execute(
            text("INSERT INTO documents (source_id, path) SELECT 1, 'doc-' || g FROM generate_series(1, 1000) g")
        )
        conn.execute(
            text(
                "INSERT INTO document_versions (document_id, version_no, content_hash, title, uri, content) "
                "SELECT id, 1, md5(id::text), 'synthetic ' || id, 'file:///synthetic/' || id, '' FROM documents"
            )
        )
        conn.execute(text("UPDATE documents SET current_version_id = id"))
        buf = io.StringIO()
        for i in range(size):
            a, b = rows[rng.randrange(len(rows))], rows[rng.randrange(len(rows))]
            body = (a[2][: len(a[2]) // 2] + " " + b[2][len(b[2]) // 2 :]).replace("\\", " ").replace("\t", " ")
            body = body.replace("\n", " ")
            v = vectors[rng.randrange(len(rows))] + np.random.default_rng(i).normal(0, 0.02, 384).astype(np.float32)
            v /= np.linalg.norm(v)
            doc = i % 1000 + 1
            country = "{" + countries[doc % 5] + "}" if doc % 5 == 0 else "{}"
            vec = "[" + ",".join(f"{x:.5f}" for x in v) + "]"
            buf.write(f"{doc}\t{doc}\t1\t{i}\t{a[0]}\t{a[1]}\t{body}\tsyn{i}\t{vec}\t{country}\tt\n")
        buf.seek(0)
        raw = conn.connection.dbapi_connection
        with (
            raw.cursor() as cur,
            cur.copy(
                "COPY chunks (version_id, document_id, source_id, ordinal, title, heading_path, body, text_hash, "
                "embedding, countries, is_current) FROM STDIN"
            ) as copy,
        ):
            copy.write(buf.getvalue())
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("SET maintenance_work_mem = '1GB'"))
        conn.execute(
            text(
                "CREATE INDEX ix_chunks_embedding_hnsw ON chunks USING hnsw (embedding vector_cosine_ops) "
                "WITH (m = 16, ef_construction = 64) WHERE is_current"
            )
        )
        from sqlalchemy.orm import Session

        from retrieval.store import refresh_search_terms

        with Session(bind=conn) as session:
            refresh_search_terms(session)
        conn.execute(text("ANALYZE"))
    from retrieval.store import vacuum_postings

    vacuum_postings(engine)  # as an ingest leaves it
    print(f"  built {size} synthetic chunks; HNSW index in {time.perf_counter() - started:.0f} s")
    engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--keyword-queries", type=int, default=20, help="stock keyword retriever is slow at 100k")
    parser.add_argument("--skip-100k", action="store_true")
    args = parser.parse_args()
    qs = questions()
    url = database_url(Settings())
    with create_engine(url).connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM chunks WHERE is_current")).scalar()
    print(f"real corpus: {n} chunks, {len(qs)} questions")
    report("hrbot hybrid (embed + HNSW + BM25 + RRF)", hybrid(url, qs))
    emb, kw = stock(url, qs, len(qs))
    report("stock PgvectorEmbeddingRetriever (+ embed)", emb)
    report("stock PgvectorKeywordRetriever", kw)
    if args.skip_100k:
        return
    print(f"synthetic: {args.size} chunks")
    big = synthesize(url, args.size)
    report("hrbot hybrid (embed + HNSW + BM25 + RRF)", hybrid(big, qs))
    emb, kw = stock(big, qs, args.keyword_queries)
    report("stock PgvectorEmbeddingRetriever (+ embed)", emb)
    report("stock PgvectorKeywordRetriever", kw)


if __name__ == "__main__":
    Path(__file__)  # keep the import used by tooling
    main()
