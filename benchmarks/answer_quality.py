"""Answer quality of the extractive composer on the handbook question sets, and its cost.

Every question of evals/{gitlab,18f-tts,clef}-handbook.jsonl is answered the way ``hrbot eval`` and
a chat policy question answer it: ``Engine.policy`` (hybrid search restricted to that company and
the question's country, ``answer_passages`` results, then ``compose``). Prints the share of answers
containing every ``answer_must_contain`` string, abstention precision/recall on ``unanswerable``
questions, the share of answerable questions wrongly abstained on, citation validity, the answer
time (search + compose) and the composer's own time per question (p50/p95), and a sweep of the
confidence threshold so that it is chosen from data (the same search results recomposed without a
threshold: the confidence does not depend on it).

Needs a database with the three handbooks ingested (the one hrbot uses now):

    export HRBOT_DATA_DIR=/tmp/somewhere
    hrbot ingest ../shared/corpus/gitlab-handbook --source gitlab-handbook    # and the other two
    python benchmarks/answer_quality.py [--threshold 0.8] [--failures] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

from _common import ROOT, pct

from bot.answering import CONFIDENCE_THRESHOLD, MAX_SENTENCES, Composition, compose, query_terms
from bot.answering.scoring import AnswerOutcome, AnswerScore, contains_all, score_answers
from bot.engine import Engine, PolicyResult
from hr.db import database_url, make_engine
from hr.migrate import ensure_schema
from hr.settings import Settings
from retrieval.audience import country_code
from retrieval.evaluation import EvalQuestion, load_questions
from retrieval.pipeline import SearchResponse, SearchService

SETS = ["gitlab-handbook", "18f-tts-handbook", "clef-handbook"]


class RecordingSearch(SearchService):
    """The search service ``Engine.policy`` calls, keeping the last response for the sweep."""

    last: SearchResponse | None = None

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
        self.last = super().search(
            query, k=k, countries=countries, entities=entities, employment_types=employment_types, sources=sources
        )
        return self.last


@dataclass
class Run:
    company: str
    question: EvalQuestion
    policy: PolicyResult  # what Engine.policy answered, at the calibrated threshold
    response: SearchResponse
    composition: Composition  # the same results composed with threshold 0: never abstains, carries its confidence
    answer_ms: float  # Engine.policy: search + compose
    compose_ms: float

    def outcome(self, threshold: float) -> AnswerOutcome:
        abstained = self.composition.abstain or self.composition.confidence < threshold
        return AnswerOutcome(
            unanswerable=self.question.unanswerable,
            must_contain=self.question.answer_must_contain,
            abstained=abstained,
            text="" if abstained else self.composition.text,
            cited_chunk_ids=() if abstained else tuple(self.composition.cited_chunk_ids),
            retrieved_chunk_ids=tuple(self.policy.retrieved_chunk_ids),
        )


def run_all(engine: Engine, search: RecordingSearch, max_sentences: int) -> list[Run]:
    runs: list[Run] = []
    for company in SETS:
        for q in load_questions(ROOT / "evals" / f"{company}.jsonl"):
            code = country_code(q.country) if q.country else None
            started = time.perf_counter()
            policy = engine.policy(q.question, countries=[code] if code else (), sources=[company])
            answer_ms = (time.perf_counter() - started) * 1000
            response = search.last
            assert response is not None
            terms = query_terms(q.question, response.analysis)
            started = time.perf_counter()
            composition = compose(q.question, response.results, terms=terms, max_sentences=max_sentences, threshold=0)
            compose_ms = (time.perf_counter() - started) * 1000
            runs.append(Run(company, q, policy, response, composition, answer_ms, compose_ms))
    return runs


def recommend(runs: list[Run], max_wrongly: float) -> float:
    """The highest threshold that abstains on at most ``max_wrongly`` of the answerable questions:
    it abstains on as many unanswerable ones as that allows."""
    answerable = sorted(r.composition.confidence for r in runs if not r.question.unanswerable)
    if not answerable:
        return 0.0
    allowed = int(max_wrongly * len(answerable))  # questions that may fall below the threshold
    return answerable[min(allowed, len(answerable) - 1)]


def line(label: str, s: AnswerScore) -> str:
    return (
        f"  {label:<18} must_contain {s.must_contain_share:5.3f} ({s.must_contain_scored:3d})   "
        f"abstain P {s.abstention_precision:5.3f} R {s.abstention_recall:5.3f} ({s.unanswerable:2d})   "
        f"wrongly abstained {s.wrongly_abstained_share:5.3f}   citations valid {s.citation_validity:5.3f}"
    )


def body_only(run: Run) -> bool:
    """must_contain found in the quoted sentences alone (not in the Sources list)."""
    body = " ".join(s.text for s in run.composition.sentences)
    return contains_all(body, run.question.answer_must_contain)


def in_retrieved(run: Run) -> bool:
    return contains_all(" ".join(r.text for r in run.response.results), run.question.answer_must_contain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-sentences", type=int, default=MAX_SENTENCES)
    parser.add_argument("--threshold", type=float, default=CONFIDENCE_THRESHOLD)
    parser.add_argument("--max-wrongly", type=float, default=0.10, help="abstention budget on answerable questions")
    parser.add_argument("--sweep-from", type=float, default=0.5)
    parser.add_argument("--sweep-step", type=float, default=0.02)
    parser.add_argument("--sweep-steps", type=int, default=21)
    parser.add_argument("--failures", action="store_true", help="print every miss with its answer")
    parser.add_argument("--json", type=Path, help="write per-question results here")
    args = parser.parse_args()

    settings = Settings()
    url = database_url(settings)
    ensure_schema(make_engine(settings, url=url))  # as the CLI does: migrations first
    search = RecordingSearch(settings, url)
    engine = Engine(settings, search)
    engine.policy("warm up the model and the connection pool")
    runs = run_all(engine, search, args.max_sentences)
    if args.max_sentences == MAX_SENTENCES:  # the sweep recomposes; it must agree with the engine
        at = [(r.policy.composition.abstain, r.outcome(CONFIDENCE_THRESHOLD).abstained) for r in runs]
        assert all(a == b for a, b in at), "the recomposed answers disagree with Engine.policy"

    print(
        f"{len(runs)} questions, k={settings.answer_passages} (answer_passages), max_sentences={args.max_sentences}, "
        f"threshold={args.threshold}"
    )
    for company in SETS:
        mine = [r for r in runs if r.company == company]
        print(line(company, score_answers([r.outcome(args.threshold) for r in mine])))
    overall = score_answers([r.outcome(args.threshold) for r in runs])
    print(line("all", overall))
    scored = [r for r in runs if not r.question.unanswerable and r.question.answer_must_contain]
    print(
        f"  must_contain in the quoted sentences alone (no threshold): {sum(map(body_only, scored)) / len(scored):.3f}"
        f"; in the retrieved chunks at all (ceiling): {sum(map(in_retrieved, scored)) / len(scored):.3f}"
    )
    answer_ms = [r.answer_ms for r in runs]
    compose_ms = [r.compose_ms for r in runs]
    search_ms = [r.response.latency_ms for r in runs]
    print(f"  answer   p50 {pct(answer_ms, 50):6.2f} ms   p95 {pct(answer_ms, 95):6.2f} ms   (Engine.policy)")
    print(f"  search   p50 {pct(search_ms, 50):6.2f} ms   p95 {pct(search_ms, 95):6.2f} ms")
    print(f"  compose  p50 {pct(compose_ms, 50):6.2f} ms   p95 {pct(compose_ms, 95):6.2f} ms")

    print("\nconfidence sweep (all sets)")
    print("  threshold  must_contain  abstain_P  abstain_R  wrongly_abstained")
    sweep = [round(args.sweep_from + i * args.sweep_step, 4) for i in range(args.sweep_steps)]
    for t in sorted({*sweep, args.threshold}):
        s = score_answers([r.outcome(t) for r in runs])
        mark = "  <- threshold" if abs(t - args.threshold) < 1e-9 else ""
        print(
            f"  {t:9.3f}  {s.must_contain_share:12.3f}  {s.abstention_precision:9.3f}  {s.abstention_recall:9.3f}"
            f"  {s.wrongly_abstained_share:17.3f}{mark}"
        )
    print(f"  highest threshold with at most {args.max_wrongly:.0%} of answerable questions abstained on:")
    for company in [*SETS, None]:
        mine = [r for r in runs if company is None or r.company == company]
        best = recommend(mine, args.max_wrongly)
        print(f"    {company or 'all':<18} {best:.4f}")

    unanswerable = sorted((r.composition.confidence, r.question.question) for r in runs if r.question.unanswerable)
    print("\nconfidence of the unanswerable questions")
    for confidence, question in unanswerable:
        print(f"  {confidence:.3f}  {question}")
    if args.failures:
        print("\nmisses")
        for r in scored:
            o = r.outcome(args.threshold)
            if o.contains_expected:
                continue
            where = "retrieved" if in_retrieved(r) else "NOT retrieved"
            print(f"- [{r.company}] {r.question.question}  want {list(r.question.answer_must_contain)} ({where})")
            print(f"  confidence {r.composition.confidence:.3f}; answer:")
            for s in r.composition.sentences:
                print(f"    [{s.citation}] ({s.score:.3f}) {s.text[:300]}")
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "company": r.company,
                        "line": r.question.line,
                        "question": r.question.question,
                        "unanswerable": r.question.unanswerable,
                        "must_contain": list(r.question.answer_must_contain),
                        "confidence": r.composition.confidence,
                        "contains": contains_all(r.composition.text, r.question.answer_must_contain),
                        "text": r.composition.text,
                        "answer_ms": round(r.answer_ms, 3),
                        "compose_ms": round(r.compose_ms, 3),
                    }
                    for r in runs
                ],
                indent=2,
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main()
