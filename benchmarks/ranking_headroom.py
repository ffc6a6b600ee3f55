"""How much better the ranking of hybrid search could be, and with what: the figures behind "the
Contoso set needs a stronger relevance model, not more tuning".

For every question of a set, the search pipeline runs exactly as ``hrbot eval`` runs it, and its
fused candidates (the ``HybridRankFusion`` output the hydrator ranks: 40 chunks) are kept with every
signal the pipeline has about them. Four rankings of those same candidates are then scored with
``retrieval.evaluation`` (recall@1, recall@5, MRR@10; the Contoso set at page level), each after the
hydrator's per-document / per-page cap:

* ``pipeline``: the hydrator's own order (= ``hrbot eval``).
* ``learned (k-fold)``: a logistic regression over all the pipeline's signals (fused score, cosine,
  BM25, both ranks, the document posterior, the audience match), trained on the other folds'
  questions and scored on the held-out fold: the best a reweighting of today's signals reaches.
* ``reference-answer oracle`` (sets whose lines carry a reference answer, ``truth``): candidates
  ordered by how many of the answer's lexemes they hold. It reads the answer, so no search can use
  it; it shows what a relevance model that recognises the answer passage would reach.
* ``pipeline, next page counted`` (page-level sets): the pipeline's order, a result on the page
  after a labelled one counted too. The Contoso labels name the page where the sample's own
  ~1,000-character passage started; the answer's text is often on the next one.
* ``candidate ceiling``: recall of the 40 candidates themselves: no reranker of them does better.

Needs a database with the sets' companies ingested, each as its own source (the one hrbot uses now):

    export HRBOT_DATA_DIR=/tmp/somewhere
    hrbot ingest ../shared/corpus/contoso-hr-pdfs/data --source contoso-hr-pdfs   # and the others
    python benchmarks/ranking_headroom.py [--set contoso-hr-pdfs] [--folds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from _common import CORPUS, ROOT
from sqlalchemy import text

from hr.db import database_url, make_engine
from hr.migrate import ensure_schema
from hr.settings import Settings
from retrieval import search_store as sql
from retrieval.audience import country_code
from retrieval.components import ChunkHydrator, HybridRankFusion, _record_to_document, diversify
from retrieval.evaluation import EvalQuestion, is_hit, load_questions
from retrieval.pipeline import SearchService, _to_result

SETS = {
    "contoso-hr-pdfs": CORPUS / "contoso-hr-pdfs" / "evals" / "ground_truth.jsonl",
    "gitlab-handbook": ROOT / "evals" / "gitlab-handbook.jsonl",
    "18f-tts-handbook": ROOT / "evals" / "18f-tts-handbook.jsonl",
    "clef-handbook": ROOT / "evals" / "clef-handbook.jsonl",
}
FEATURES = ["fused", "cosine", "bm25", "emb_rank", "kw_rank", "doc_posterior", "audience", "pipeline"]
_CITATION = re.compile(r"\[[^\]]*#page=\d+\]")


@dataclass
class Candidates:
    question: EvalQuestion
    records: list[sql.ChunkRecord]
    features: np.ndarray  # one row per record, columns FEATURES
    answer_overlap: list[int] | None  # lexemes of the reference answer each record holds


def collect(service: SearchService, question: EvalQuestion, source: str, truth: str | None) -> Candidates:
    """The pipeline's candidates for one question, with its signals, run component by component."""
    pipe = service.pipeline
    code = country_code(question.country) if question.country else None
    analyzed = pipe.get_component("analyzer").run(
        query=question.question, countries=[code] if code else None, sources=[source]
    )
    audience = analyzed["audience"]
    vector = pipe.get_component("embedder").run(text=analyzed["embedding_text"])["embedding"]
    nearest = pipe.get_component("embedding_retriever").run(
        query_embedding=vector, audience=audience, in_scope=analyzed["in_scope"]
    )["hits"]
    keyword = pipe.get_component("keyword_retriever").run(query=analyzed["keyword_text"], audience=audience)
    fusion: HybridRankFusion = pipe.get_component("fusion")
    fused = fusion.run(embedding_hits=nearest, keyword_hits=keyword["hits"])["hits"]
    hydrator: ChunkHydrator = pipe.get_component("hydrator")
    lexemes: list[str] = keyword["lexemes"]
    with hydrator.engine.connect() as conn:
        by_id = sql.fetch_chunks(conn, fused.ids(), vector)
        documents = list(dict.fromkeys(r.document_id for r in by_id.values()))
        counts, totals = sql.document_term_counts(conn, documents, lexemes)
        posterior = sql.document_posterior(counts, totals, lexemes) if lexemes else {}
        overlap = None
        if truth is not None:
            wanted = set(sql.query_lexemes(conn, _CITATION.sub(" ", truth)))
            overlap = [
                len(wanted & set(sql.query_lexemes(conn, by_id[h.chunk_id].body)))
                for h in fused.hits
                if h.chunk_id in by_id
            ]
    emb_rank = {h.chunk_id: i for i, h in enumerate(nearest.hits)}
    kw_score = {h.chunk_id: h.score for h in keyword["hits"].hits}
    kw_rank = {h.chunk_id: i for i, h in enumerate(keyword["hits"].hits)}
    kw_top = max(kw_score.values(), default=1.0) or 1.0
    wanted_countries = set(audience.countries)
    records: list[sql.ChunkRecord] = []
    rows: list[list[float]] = []
    for hit in fused.hits:
        r = by_id.get(hit.chunk_id)
        if r is None:
            continue
        match = bool(wanted_countries and wanted_countries.intersection(r.countries))
        prior = posterior.get(r.document_id, 0.0)
        final = hit.score * (1 + hydrator.audience_boost * match) * (1 + hydrator.document_boost * prior)
        records.append(r)
        rows.append(
            [
                hit.score * 100,
                float(r.similarity or 0.0),
                kw_score.get(r.chunk_id, 0.0) / kw_top,
                1 / (1 + emb_rank[r.chunk_id]) if r.chunk_id in emb_rank else 0.0,
                1 / (1 + kw_rank[r.chunk_id]) if r.chunk_id in kw_rank else 0.0,
                prior,
                float(match),
                final * 100,
            ]
        )
    features = np.array(rows, dtype=float).reshape(len(rows), len(FEATURES))
    return Candidates(question, records, features, overlap)


def rank_of_hit(c: Candidates, scores: list[float], max_per_document: int, k: int = 10) -> int | None:
    """Rank of the first relevant result after the hydrator's cap, when the candidates score so."""
    kept = diversify(list(zip(scores, c.records, strict=True)), k, max_per_document)
    for rank, (score, record) in enumerate(kept, start=1):
        if is_hit(_to_result(rank, _record_to_document(record, score)), c.question):
            return rank
    return None


def figures(ranks: list[int | None]) -> dict[str, float]:
    n = max(len(ranks), 1)
    return {
        "recall_at_1": round(sum(r == 1 for r in ranks) / n, 4),
        "recall_at_5": round(sum(r is not None and r <= 5 for r in ranks) / n, 4),
        "mrr_at_10": round(sum(1 / r for r in ranks if r is not None and r <= 10) / n, 4),
    }


def learned_ranks(items: list[Candidates], folds: int, max_per_document: int) -> list[int | None]:
    """Out-of-fold ranks of a logistic regression over the features (question i is in fold i % folds)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = [np.array([is_hit(_as_result(r), c.question) for r in c.records], dtype=int) for c in items]
    ranks: list[int | None] = [None] * len(items)
    for fold in range(folds):
        train = [i for i in range(len(items)) if i % folds != fold and len(items[i].records)]
        x = np.vstack([items[i].features for i in train])
        y = np.concatenate([labels[i] for i in train])
        if len(set(y.tolist())) < 2:
            continue
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, y)
        for i in range(fold, len(items), folds):
            if items[i].records:
                scores = model.decision_function(items[i].features).tolist()
                ranks[i] = rank_of_hit(items[i], scores, max_per_document)
    return ranks


def _as_result(record: sql.ChunkRecord) -> Any:
    return _to_result(1, _record_to_document(record, 0.0))


def measure(service: SearchService, name: str, path: Path, folds: int, max_per_document: int) -> dict[str, Any]:
    questions = [q for q in load_questions(path) if not q.unanswerable]
    truths = _reference_answers(path)
    items = [collect(service, q, name, truths.get(q.line)) for q in questions]

    def by(scores: Callable[[Candidates], list[float]]) -> list[int | None]:
        return [rank_of_hit(c, scores(c), max_per_document) for c in items]

    pipeline = by(lambda c: list(c.features[:, FEATURES.index("pipeline")]))
    rows: dict[str, Any] = {"pipeline": figures(pipeline)}
    rows[f"learned ({folds}-fold)"] = figures(learned_ranks(items, folds, max_per_document))
    if all(c.answer_overlap is not None for c in items):
        # most answer lexemes first; the pipeline's order breaks ties
        rows["reference-answer oracle"] = figures(
            by(lambda c: [o + p / 1000 for o, p in zip(c.answer_overlap or [], c.features[:, -1], strict=True)])
        )
    if any(c.question.relevant_pages for c in items):
        # a label names the page where the set's own passage started, which may end on the next page
        near = [
            rank_of_hit(replace(c, question=_or_next_page(c.question)), list(c.features[:, -1]), max_per_document)
            for c in items
        ]
        rows["pipeline, next page counted"] = figures(near)
    ceiling = [1 if any(is_hit(_as_result(r), c.question) for r in c.records) else None for c in items]
    rows["candidate ceiling"] = {"recall_at_40": figures(ceiling)["recall_at_1"]}
    return {"questions": len(items), "candidates": int(np.mean([len(c.records) for c in items])), "rankings": rows}


def _or_next_page(q: EvalQuestion) -> EvalQuestion:
    pages = {(name, page + step) for name, page in q.relevant_pages for step in (0, 1)}
    return replace(q, relevant_pages=tuple(sorted(pages)))


def _reference_answers(path: Path) -> dict[int, str]:
    answers: dict[int, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if raw.strip():
            truth = json.loads(raw).get("truth")
            if isinstance(truth, str):
                answers[number] = truth
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", choices=sorted(SETS), help="Question sets (default: all).")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="Write the figures here.")
    args = parser.parse_args()
    settings = Settings()
    url = database_url(settings)
    engine = make_engine(settings, url=url)
    ensure_schema(engine)
    with engine.connect() as conn:
        ingested = {str(r[0]) for r in conn.execute(text("SELECT name FROM sources"))}
    service = SearchService(settings, url, concurrent=False)
    service.warm_up()
    report: dict[str, Any] = {}
    for name in args.set or list(SETS):
        if name not in ingested or not SETS[name].is_file():
            print(f"{name}: skipped (not ingested as a source, or {SETS[name]} is missing)")
            continue
        report[name] = result = measure(service, name, SETS[name], args.folds, settings.max_chunks_per_document)
        print(f"\n{name}: {result['questions']} questions, {result['candidates']} candidates each")
        print(f"  {'ranking':<30} {'recall@1':>9} {'recall@5':>9} {'MRR@10':>8}")
        for label, row in result["rankings"].items():
            if "recall_at_40" in row:
                print(f"  {label:<30} recall@40 {row['recall_at_40']:.3f}")
            else:
                print(f"  {label:<30} {row['recall_at_1']:>9.3f} {row['recall_at_5']:>9.3f} {row['mrr_at_10']:>8.3f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
