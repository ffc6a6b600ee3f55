"""Baseline: the retrieval of Haystack's "Creating a Hybrid Retrieval Pipeline" tutorial (tutorial 33) on our
question sets, so the numbers we compare against come from our own run.

Per company folder of ../shared/corpus: every file hrbot would ingest is read with hrbot's own converters, turned
into one Haystack Document (meta ``path`` relative to the company folder; PDF pages joined with "\\f" so that
DocumentSplitter records ``page_number``), then indexed and searched the tutorial's way:

    indexing: DocumentSplitter(split_by="word") -> SentenceTransformersDocumentEmbedder -> DocumentWriter
              into a fresh InMemoryDocumentStore (defaults: BM25L, dot product)
    query:    SentenceTransformersTextEmbedder -> InMemoryEmbeddingRetriever(top_k)  \\
              InMemoryBM25Retriever(top_k)                                           -> DocumentJoiner

Differences from the tutorial as published (splits, overlap and join mode can be set by flags): the bundled
all-MiniLM-L6-v2 instead of BAAI/bge-small-en-v1.5 (offline, on the CPU); 200-word splits with no overlap instead
of 512 words with 32 overlap (the tutorial tells MiniLM users to cut split_length to the model's 256-token window);
reciprocal rank fusion in the joiner instead of concatenate followed by the BAAI/bge-reranker-base cross-encoder
(no cross-encoder ships with hrbot, and concatenate alone gives no usable order). Scored with
retrieval.evaluation.evaluate, as `hrbot eval` scores hrbot; the Contoso set at page level. A question's
``country`` is ignored (the tutorial has no filters); latency is one pipeline run per question, query embedding
included.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import COMPANIES, CORPUS, ROOT

from connectors.base import SourceDocument
from connectors.filesystem import FilesystemConnector
from hr.settings import Settings
from retrieval.converters import ConversionError, ParsedDocument, convert
from retrieval.evaluation import EvalQuestion, EvalReport, evaluate, load_questions
from retrieval.pipeline import SearchResponse, SearchResult

if TYPE_CHECKING:
    from haystack import Document, Pipeline

TUTORIAL = "Haystack tutorial 33, Creating a Hybrid Retrieval Pipeline"


@dataclass(frozen=True)
class Params:
    split_length: int
    split_overlap: int
    pdf_per_page: bool
    sections_only: bool
    join_mode: str
    top_k: int
    model: str
    device: str


@dataclass
class CompanyResult:
    company: str
    documents: int  # files indexed
    skipped: list[tuple[str, str]]
    splits: int
    read_s: float
    index_s: float
    report: EvalReport


def question_file(company: str, corpus: Path) -> Path:
    if company == "contoso-hr-pdfs":
        return corpus / company / "evals" / "ground_truth.jsonl"
    return ROOT / "evals" / f"{company}.jsonl"


def document_text(parsed: ParsedDocument, *, sections_only: bool = False) -> tuple[str, bool]:
    """The document's text as hrbot reads it: its title, then each section's text, each heading once where it
    starts (with ``sections_only``, the sections' text alone). PDF pages are joined with "\\f" (returns True
    then), so DocumentSplitter counts pages."""
    is_paged = any(s.page is not None for s in parsed.sections)
    pages: dict[int, list[str]] = {}
    previous: tuple[str, ...] = ()
    for section in parsed.sections:
        page = section.page or 1
        common = 0
        while common < min(len(previous), len(section.headings)) and previous[common] == section.headings[common]:
            common += 1
        parts = pages.setdefault(page, [])
        if not sections_only:
            parts.extend(h for h in section.headings[common:] if h)
        if section.text.strip():
            parts.append(section.text)
        previous = section.headings
    last = max(pages) if pages else 1
    texts = ["\n\n".join(pages.get(number, [])) for number in range(1, last + 1)]
    if not sections_only:
        texts[0] = "\n\n".join(p for p in (parsed.title, texts[0]) if p)
    return ("\f" if is_paged else "\n\n").join(texts), is_paged


def read_company(
    folder: Path, *, per_page: bool = False, sections_only: bool = False
) -> tuple[list[Document], list[tuple[str, str]]]:
    """One Document per file; with ``per_page``, one per PDF page instead (splits then never cross pages)."""
    from haystack import Document

    documents: list[Document] = []
    skipped: list[tuple[str, str]] = []
    for batch in FilesystemConnector(folder, include_unsupported=False).load_all():
        for item in batch:
            if not isinstance(item, SourceDocument):
                skipped.append((item.path, item.reason))
                continue
            try:
                parsed = convert(item.data, item.path).check_not_empty()
            except ConversionError as exc:
                skipped.append((item.path, str(exc)))
                continue
            text, paged = document_text(parsed, sections_only=sections_only)
            if paged and per_page:
                for number, page_text in enumerate(text.split("\f"), start=1):
                    if page_text.strip():
                        documents.append(Document(content=page_text, meta={"path": item.path, "page": number}))
            else:
                documents.append(Document(content=text, meta={"path": item.path, "paged": paged}))
    return documents, skipped


def index(documents: list[Document], params: Params) -> tuple[Any, int]:
    """The tutorial's indexing pipeline into a fresh InMemoryDocumentStore; returns the store and its size."""
    from haystack import Pipeline
    from haystack.components.preprocessors import DocumentSplitter
    from haystack.components.writers import DocumentWriter
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack.utils import ComponentDevice
    from haystack_integrations.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder,
    )

    store = InMemoryDocumentStore()
    pipe = Pipeline()
    pipe.add_component(
        "document_splitter",
        DocumentSplitter(split_by="word", split_length=params.split_length, split_overlap=params.split_overlap),
    )
    pipe.add_component(
        "document_embedder",
        SentenceTransformersDocumentEmbedder(
            model=params.model,
            device=ComponentDevice.from_str(params.device),
            local_files_only=True,
            progress_bar=False,
        ),
    )
    pipe.add_component("document_writer", DocumentWriter(store))
    pipe.connect("document_splitter", "document_embedder")
    pipe.connect("document_embedder", "document_writer")
    pipe.run({"document_splitter": {"documents": documents}})
    return store, store.count_documents()


def query_pipeline(store: Any, params: Params) -> Pipeline:
    from haystack import Pipeline
    from haystack.components.joiners import DocumentJoiner
    from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
    from haystack.utils import ComponentDevice
    from haystack_integrations.components.embedders.sentence_transformers import SentenceTransformersTextEmbedder

    pipe = Pipeline()
    pipe.add_component(
        "text_embedder",
        SentenceTransformersTextEmbedder(
            model=params.model,
            device=ComponentDevice.from_str(params.device),
            local_files_only=True,
            progress_bar=False,
        ),
    )
    pipe.add_component("embedding_retriever", InMemoryEmbeddingRetriever(store, top_k=params.top_k))
    pipe.add_component("bm25_retriever", InMemoryBM25Retriever(store, top_k=params.top_k))
    pipe.add_component("document_joiner", DocumentJoiner(join_mode=params.join_mode))
    pipe.connect("text_embedder", "embedding_retriever")
    pipe.connect("bm25_retriever", "document_joiner")
    pipe.connect("embedding_retriever", "document_joiner")
    pipe.warm_up()
    return pipe


def as_result(rank: int, doc: Document) -> SearchResult:
    """A SearchResult for is_hit: path and page are what it reads; the database ids are not applicable (0)."""
    meta = doc.meta
    page = meta["page"] if "page" in meta else meta.get("page_number") if meta.get("paged") else None
    return SearchResult(
        rank=rank,
        score=float(doc.score or 0.0),
        text=doc.content or "",
        title="",
        heading_path="",
        page=page,
        uri="",
        source="",
        path=str(meta["path"]),
        chunk_id=0,
        document_id=0,
        version_id=0,
        version_no=0,
        content_hash="",
    )


def searcher(pipe: Pipeline, top_k: int) -> Any:
    def search(q: EvalQuestion, k: int) -> SearchResponse:
        started = time.perf_counter()
        out = pipe.run({"text_embedder": {"text": q.question}, "bm25_retriever": {"query": q.question}})
        latency = (time.perf_counter() - started) * 1000
        docs = out["document_joiner"]["documents"][: max(k, top_k)]
        results = [as_result(rank, doc) for rank, doc in enumerate(docs, start=1)]
        return SearchResponse(query=q.question, results=results, latency_ms=latency, analysis={})

    return search


def run_company(company: str, corpus: Path, params: Params) -> CompanyResult:
    questions = load_questions(question_file(company, corpus))
    started = time.perf_counter()
    documents, skipped = read_company(
        corpus / company, per_page=params.pdf_per_page, sections_only=params.sections_only
    )
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    store, splits = index(documents, params)
    index_s = time.perf_counter() - started
    pipe = query_pipeline(store, params)
    pipe.run({"text_embedder": {"text": "warm up"}, "bm25_retriever": {"query": "warm up"}})
    report = evaluate(questions, searcher(pipe, params.top_k), k=5)
    files = len({d.meta["path"] for d in documents})
    return CompanyResult(company, files, skipped, splits, read_s, index_s, report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", nargs="+", choices=COMPANIES, default=COMPANIES, metavar="COMPANY")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--split-length", type=int, default=200, help="words per split (tutorial: 512)")
    parser.add_argument("--split-overlap", type=int, default=0, help="words of overlap (tutorial: 32)")
    parser.add_argument(
        "--join-mode",
        default="reciprocal_rank_fusion",
        choices=["reciprocal_rank_fusion", "concatenate", "merge", "distribution_based_rank_fusion"],
        help="DocumentJoiner join_mode (tutorial: concatenate, then a cross-encoder ranker)",
    )
    parser.add_argument(
        "--pdf-per-page",
        action="store_true",
        help='a Document per PDF page (meta page) instead of pages joined with "\\f" (split page = page_number)',
    )
    parser.add_argument(
        "--sections-only", action="store_true", help="index the sections' text alone (no title, no headings)"
    )
    parser.add_argument("--top-k", type=int, default=10, help="top_k of each retriever (Haystack's default: 10)")
    parser.add_argument("--json", type=Path, help="write every figure and each question's rank here")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        raise SystemExit(f"the shared corpus is not at {args.corpus}; set HRBOT_CORPUS or pass --corpus")
    settings = Settings()
    params = Params(
        split_length=args.split_length,
        split_overlap=args.split_overlap,
        pdf_per_page=args.pdf_per_page,
        sections_only=args.sections_only,
        join_mode=args.join_mode,
        top_k=args.top_k,
        model=settings.resolved_model_path(),
        device=settings.embedding_device,
    )
    print(f"{TUTORIAL}: split_by=word split_length={params.split_length} split_overlap={params.split_overlap},")
    print(f"  all-MiniLM-L6-v2 ({params.device}), BM25L + embedding top_k={params.top_k} each, join={params.join_mode}")
    pdfs = "a Document per page" if params.pdf_per_page else 'pages joined with "\\f", a split\'s page = page_number'
    text = "sections' text only" if params.sections_only else "title + sections (each heading once)"
    print(f"  PDFs: {pdfs}; text: {text}, from hrbot's converters")
    header = (
        f"{'company':<18} {'docs':>5} {'splits':>6} {'index s':>8} {'R@1':>6} {'R@5':>6} {'MRR@10':>7} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'n':>4}"
    )
    print(header)
    results: list[CompanyResult] = []
    for company in args.companies:
        r = run_company(company, args.corpus, params)
        results.append(r)
        rep = r.report
        print(
            f"{company:<18} {r.documents:>5} {r.splits:>6} {r.index_s:>8.1f} {rep.recall_at_1:>6.3f} "
            f"{rep.recall_at_k:>6.3f} {rep.mrr_at_10:>7.3f} {rep.latency_p50_ms:>7.1f} "
            f"{rep.latency_p95_ms:>7.1f} {rep.scored:>4}",
            flush=True,
        )
        for path, reason in r.skipped:
            print(f"    skipped {path}: {reason}")
    if len(results) > 1:
        print(
            f"{'mean of companies':<18} {'':>5} {'':>6} {'':>8} "
            f"{statistics.mean(r.report.recall_at_1 for r in results):>6.3f} "
            f"{statistics.mean(r.report.recall_at_k for r in results):>6.3f} "
            f"{statistics.mean(r.report.mrr_at_10 for r in results):>7.3f}"
        )
    if args.json:
        payload = {
            "baseline": TUTORIAL,
            "params": {**params.__dict__, "split_by": "word", "bm25_algorithm": "BM25L"},
            "companies": [
                {
                    "company": r.company,
                    "documents": r.documents,
                    "skipped": r.skipped,
                    "splits": r.splits,
                    "read_s": round(r.read_s, 2),
                    "index_s": round(r.index_s, 2),
                    **r.report.summary(),
                    "per_question": r.report.per_question,
                }
                for r in results
            ],
        }
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
