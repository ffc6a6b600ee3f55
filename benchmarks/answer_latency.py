"""``Engine.answer()`` in-process latency, p50/p95, on the database hrbot uses now (ingest
../shared/corpus first): policy questions (the evaluation sets' questions, every one a query-cache
miss) and balance questions (own figures, no search), each asked by the sample company's employees
through the whole engine, audit row included. The audit rows written are rolled back.

    python benchmarks/answer_latency.py
"""

from __future__ import annotations

import argparse
import json
import time
from itertools import cycle

from _common import ROOT, pct
from sqlalchemy import text

from bot.engine import Engine
from bot.question import Asker, Question
from hr.db import database_url, make_engine, make_sessionmaker
from hr.hrdata import store
from hr.hrdata.importer import import_files
from hr.migrate import ensure_schema
from hr.settings import Settings
from retrieval.pipeline import SearchService

BALANCE_QUESTIONS = [
    "how many vacation days do I have left?",
    "how much pto do i have left",
    "whats my sick leave balance",
    "do I have any pending requests?",
    "how many days off have I taken this year",
    "when is the next public holiday",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="balance questions: rounds over the employees")
    args = parser.parse_args()
    settings = Settings(query_cache_size=0)
    url = database_url(settings)
    engine = make_engine(settings, url=url)
    ensure_schema(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as session:  # the sample company's people (an idempotent import)
        import_files(sorted((ROOT / "bot/demo/data/people").glob("*.csv")), session=session)
        session.commit()
        people = [p for p in store.list_employees(session=session) if p.slack_user_id]
        chunks = session.execute(text("SELECT count(*) FROM chunks WHERE is_current")).scalar_one()
    bot = Engine(settings, SearchService(settings, url))
    bot.search.warm_up()
    policy_qs: list[str] = []
    for f in sorted((ROOT / "evals").glob("*.jsonl")):
        policy_qs += [json.loads(line)["question"] for line in f.read_text().splitlines() if line.strip()]
    print(f"{chunks} chunks, {len(people)} employees, {len(policy_qs)} policy questions")

    def run(questions: list[str]) -> tuple[list[float], dict[str, int]]:
        times: list[float] = []
        kinds: dict[str, int] = {}
        with sessions() as session:
            askers = cycle(people)
            for q in questions:
                who = next(askers)
                assert who.slack_user_id
                started = time.perf_counter()
                answer = bot.answer(Question(q, Asker("slack", who.slack_user_id)), session=session)
                times.append((time.perf_counter() - started) * 1000)
                kinds[answer.kind] = kinds.get(answer.kind, 0) + 1
            session.rollback()
        return times, kinds

    run(["warm up: how many vacation days do I have left?", "warm up the model"])
    balance_qs = BALANCE_QUESTIONS * max(1, args.rounds * len(people) // len(BALANCE_QUESTIONS))
    for label, qs in (("policy questions", policy_qs), ("balance questions", balance_qs)):
        times, kinds = run(qs)
        print(f"  {label:<18} p50 {pct(times, 50):6.1f} ms   p95 {pct(times, 95):6.1f} ms   (n={len(times)}) {kinds}")


if __name__ == "__main__":
    main()
