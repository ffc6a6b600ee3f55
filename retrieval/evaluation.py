"""Retrieval evaluation: recall@1, recall@k, MRR@10 and latency over a JSONL question set.

One question per line: ``question``, ``relevant_docs`` (paths relative to the ingested folder),
optional ``relevant_pages`` ("file.pdf#7": then only those pages count), ``answer_must_contain``,
``country``, ``unanswerable``. The Contoso format (``truth`` ending in ``[file.pdf#page=N]``) is
read as is and scored at page level.

Page level: a chunk is a hit when its text comes from a relevant page. A passage that runs over a
page break is one chunk, cited on the page where it starts and covering the next; the report also
gives the stricter figures that count a chunk only on its first page (``start_page_*``).
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from retrieval.pipeline import SearchResponse


class Cited(Protocol):
    """What relevance is judged on: a search result, or a citation made from one."""

    @property
    def path(self) -> str: ...
    @property
    def page(self) -> int | None: ...
    def covers_page(self, page: int) -> bool: ...


_CITATION = re.compile(r"\[([^\]\[#]+?)#page=(\d+)\]")


@dataclass(frozen=True)
class EvalQuestion:
    line: int
    question: str
    relevant_docs: tuple[str, ...]
    relevant_pages: tuple[tuple[str, int], ...] = ()
    answer_must_contain: tuple[str, ...] = ()
    country: str | None = None
    unanswerable: bool = False


class EvalFileError(ValueError):
    pass


def load_questions(path: Path) -> list[EvalQuestion]:
    questions: list[EvalQuestion] = []
    errors: list[str] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
            questions.append(_parse(number, item))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            errors.append(f"line {number}: {exc}")
    if errors:
        raise EvalFileError(f"{path}: " + "; ".join(errors))
    return questions


def _parse(number: int, item: dict[str, Any]) -> EvalQuestion:
    question = str(item["question"]).strip()
    if not question:
        raise ValueError("empty question")
    docs = [str(d) for d in item.get("relevant_docs") or []]
    pages: list[tuple[str, int]] = []
    for ref in item.get("relevant_pages") or []:
        name, _, page = str(ref).partition("#")
        pages.append((name, int(page.removeprefix("page="))))
    truth = item.get("truth")
    if isinstance(truth, str) and not docs:
        for name, page in _CITATION.findall(truth):
            pages.append((name.strip(), int(page)))
            docs.append(name.strip())
    unanswerable = bool(item.get("unanswerable"))
    if not docs and not unanswerable:
        raise ValueError("no relevant_docs (mark it unanswerable if nothing answers it)")
    return EvalQuestion(
        line=number,
        question=question,
        relevant_docs=tuple(dict.fromkeys(docs)),
        relevant_pages=tuple(dict.fromkeys(pages)),
        answer_must_contain=tuple(str(s) for s in item.get("answer_must_contain") or []),
        country=item.get("country"),
        unanswerable=unanswerable,
    )


def _same_file(result_path: str, wanted: str) -> bool:
    return result_path == wanted or result_path.endswith("/" + wanted.lstrip("/"))


def is_hit(result: Cited, q: EvalQuestion, *, start_page_only: bool = False) -> bool:
    """A relevant document, or (page-level questions) a chunk whose text comes from a relevant page
    (``start_page_only``: whose text starts on it)."""
    if q.relevant_pages:
        return any(
            _same_file(result.path, name) and (result.page == page if start_page_only else result.covers_page(page))
            for name, page in q.relevant_pages
        )
    return any(_same_file(result.path, doc) for doc in q.relevant_docs)


@dataclass
class EvalReport:
    questions: int
    scored: int
    recall_at_1: float
    recall_at_k: float
    mrr_at_10: float
    k: int
    latency_p50_ms: float
    latency_p95_ms: float
    per_question: list[dict[str, Any]] = field(default_factory=list)
    # page-level questions only: the same figures counting a chunk on the page it starts on alone
    start_page_recall_at_1: float | None = None
    start_page_recall_at_k: float | None = None
    start_page_mrr_at_10: float | None = None

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "per_question"}


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def evaluate(
    questions: list[EvalQuestion],
    search: Callable[[EvalQuestion, int], SearchResponse],
    *,
    k: int = 5,
) -> EvalReport:
    per_question: list[dict[str, Any]] = []
    latencies: list[float] = []
    r1 = rk = mrr = 0.0
    s1 = sk = smrr = 0.0
    scored = 0
    paged = any(q.relevant_pages for q in questions)
    for q in questions:
        response = search(q, max(k, 10))
        latencies.append(response.latency_ms)
        rank = next((r.rank for r in response.results if is_hit(r, q)), None)
        start_rank = next((r.rank for r in response.results if is_hit(r, q, start_page_only=True)), None)
        if not q.unanswerable:
            scored += 1
            r1 += rank == 1
            rk += rank is not None and rank <= k
            mrr += 1.0 / rank if rank is not None and rank <= 10 else 0.0
            s1 += start_rank == 1
            sk += start_rank is not None and start_rank <= k
            smrr += 1.0 / start_rank if start_rank is not None and start_rank <= 10 else 0.0
        per_question.append(
            {
                "line": q.line,
                "question": q.question,
                "unanswerable": q.unanswerable,
                "rank": rank,
                "start_page_rank": start_rank,
                "top": [f"{r.path}" + (f"#{r.page}" if r.page else "") for r in response.results[:k]],
                "top_score": response.results[0].score if response.results else None,
                "latency_ms": round(response.latency_ms, 2),
            }
        )
    n = max(scored, 1)
    return EvalReport(
        questions=len(questions),
        scored=scored,
        recall_at_1=round(r1 / n, 4),
        recall_at_k=round(rk / n, 4),
        mrr_at_10=round(mrr / n, 4),
        k=k,
        latency_p50_ms=round(statistics.median(latencies), 2) if latencies else 0.0,
        latency_p95_ms=round(percentile(latencies, 95), 2),
        per_question=per_question,
        start_page_recall_at_1=round(s1 / n, 4) if paged else None,
        start_page_recall_at_k=round(sk / n, 4) if paged else None,
        start_page_mrr_at_10=round(smrr / n, 4) if paged else None,
    )
