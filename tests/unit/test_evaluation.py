from __future__ import annotations

import json

import pytest

from retrieval.evaluation import EvalFileError, EvalQuestion, evaluate, is_hit, load_questions
from retrieval.pipeline import SearchResponse, SearchResult


def _result(rank: int, path: str, page: int | None = None) -> SearchResult:
    return SearchResult(rank, 1.0 / rank, "t", "T", "", page, "u", "s", path, rank, 1, 1, 1, "h")


def test_contoso_truth_is_scored_at_page_level(tmp_path) -> None:
    f = tmp_path / "gt.jsonl"
    f.write_text(json.dumps({"question": "q?", "truth": "Yes. [Benefit_Options.pdf#page=3]"}) + "\n")
    (q,) = load_questions(f)
    assert q.relevant_pages == (("Benefit_Options.pdf", 3),)
    assert is_hit(_result(1, "data/Benefit_Options.pdf", 3), q)
    assert not is_hit(_result(1, "data/Benefit_Options.pdf", 4), q)


def test_metrics() -> None:
    qs = [
        EvalQuestion(1, "a", ("a.md",)),
        EvalQuestion(2, "b", ("b.md",)),
        EvalQuestion(3, "c", ("c.md",)),
        EvalQuestion(4, "d", (), unanswerable=True),
    ]
    ranked = {"a": ["a.md"], "b": ["x.md", "y.md", "b.md"], "c": ["x.md"] * 10, "d": ["x.md"]}

    def search(q: EvalQuestion, k: int) -> SearchResponse:
        return SearchResponse(q.question, [_result(i, p) for i, p in enumerate(ranked[q.question], 1)], 5.0, {})

    report = evaluate(qs, search, k=5)
    assert report.scored == 3
    assert report.recall_at_1 == pytest.approx(1 / 3, abs=1e-3)
    assert report.recall_at_k == pytest.approx(2 / 3, abs=1e-3)
    assert report.mrr_at_10 == pytest.approx((1 + 1 / 3) / 3, abs=1e-3)
    assert [p["rank"] for p in report.per_question] == [1, 3, None, None]


def test_bad_lines_are_all_reported(tmp_path) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text('{"question": ""}\nnope\n{"question": "ok", "relevant_docs": ["a"]}\n')
    with pytest.raises(EvalFileError, match=r"line 1.*line 2"):
        load_questions(f)
