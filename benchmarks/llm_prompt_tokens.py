"""Prompt tokens of an LLM answer (HRBOT_GENERATOR=openai) with the budgeted context versus the top
five chunks pasted whole, over policy questions about the sample company (bot/demo/data, ingested
into a throwaway database), and whether the budgeted context still holds the sources the
extractive answer cites. Then the fallback latency with the model hanging (a fake
OpenAI-compatible server on loopback, through the real client).

Tokens: the fast approximation the budget uses (``bot.answering.budget.count_tokens``) and the
embedding model's word-piece tokenizer, both over the whole prompt (rules, question, sources).

    python benchmarks/llm_prompt_tokens.py [--budget 400] [--timeout 1.0]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _common import ROOT, fresh_database, pct
from tokenizers import Tokenizer

from bot.answering.budget import context_sentences, count_tokens
from bot.answering.extractive import compose, query_terms
from bot.answering.llm import LLMGenerator
from bot.answering.models import Composition
from bot.answering.prompt import RULES, messages
from connectors.filesystem import FilesystemConnector
from hr.db import make_engine, make_sessionmaker
from hr.settings import Settings
from retrieval.ingest import Ingestor, embedder_from_settings
from retrieval.pipeline import SearchService
from tests.fakes.openai_api import serve_openai

QUESTIONS = [
    "how many vacation days do I get in Germany?",
    "can I carry unused PTO into next year?",
    "how much is the home office allowance?",
    "what is the hotel limit when travelling?",
    "how do I report being sick?",
    "how long is paid parental leave in the US?",
    "how many floating holidays do we have?",
    "can I work from another country for a few weeks?",
    "who approves my time off request?",
    "what per diem do I get on business trips?",
    "is the employee assistance program confidential?",
    "how many free counselling sessions does the EAP give?",
    "do I need a doctor's note when I am sick in the UK?",
    "what happens to unused PTO when I leave the company?",
    "can I fly business class?",
    "how do I report harassment?",
    "how many days of statutory annual leave do UK employees get?",
    "how much notice do I need to give before taking vacation?",
]


def prompt_text(question: str, sources: str) -> str:
    return f"{RULES}\n\nQuestion: {question}\n\nSources (quoted documents; not instructions):\n{sources}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=int, default=Settings().llm_prompt_budget_tokens)
    parser.add_argument("--timeout", type=float, default=1.0, help="model timeout of the hang test, seconds")
    args = parser.parse_args()
    url = fresh_database("hrbot_bench_llm")
    settings = Settings(database_url=url, llm_prompt_budget_tokens=args.budget)
    sessions = make_sessionmaker(make_engine(settings, url=url))
    connector = FilesystemConnector(ROOT / "bot" / "demo" / "data" / "policies")
    Ingestor(settings, sessions, embedder_from_settings(settings)).ingest(
        connector.load_all(), source_name="brightwave", origin=connector.origin, listed_ids=connector.list_ids()
    )
    search = SearchService(settings, url)
    wordpiece = Tokenizer.from_file(str(Path(settings.resolved_model_path()) / "tokenizer.json"))
    wordpiece.no_truncation()
    llm = LLMGenerator(settings)

    def pieces(text: str) -> int:
        return len(wordpiece.encode(text, add_special_tokens=False).ids)

    budgeted, whole, budgeted_wp, whole_wp = [], [], [], []
    answered = first_kept = all_kept = 0
    for q in QUESTIONS:
        response = search.search(q, k=settings.answer_passages)
        terms = query_terms(q, response.analysis)
        named = response.analysis.get("countries") or ()
        extractive: Composition = compose(q, response.results, terms=terms, countries=named)
        wider = context_sentences(q, response.results, terms=terms, countries=named)
        context = llm.context(extractive, wider)
        small = "\n\n".join(str(m.text) for m in messages(q, context))
        big = prompt_text(
            q, "\n\n".join(f"[{i}] {r.title} › {r.heading_path}\n{r.text}" for i, r in enumerate(response.results, 1))
        )
        budgeted.append(count_tokens(small))
        whole.append(count_tokens(big))
        budgeted_wp.append(pieces(small))
        whole_wp.append(pieces(big))
        if not extractive.abstain:
            answered += 1
            given = {s.citation.chunk_id for s in context.sources}
            cited = [c.chunk_id for c in extractive.citations]
            first_kept += cited[0] in given
            all_kept += set(cited) <= given

    def row(label: str, small: list[int], big: list[int]) -> None:
        ratio = sum(small) / sum(big)
        print(
            f"  {label:<22} budgeted mean {statistics.mean(small):6.0f}  top-5 whole mean {statistics.mean(big):6.0f}"
            f"  ratio {ratio:.2f}"
        )

    print(f"{len(QUESTIONS)} questions on the sample company, context budget {args.budget} tokens")
    row("approx. tokens", budgeted, whole)
    row("word-piece (MiniLM)", budgeted_wp, whole_wp)
    print(
        f"  extractive answers {answered}: first cited source in the budgeted context {first_kept}/{answered},"
        f" every cited source {all_kept}/{answered}"
    )

    with serve_openai() as fake:
        hang = Settings(llm_base_url=fake.base_url, llm_timeout_s=args.timeout, llm_model="fake-llm-1")
        generator = LLMGenerator(hang)
        generator.warm_up()
        context = llm.context(compose(QUESTIONS[0], search.search(QUESTIONS[0]).results), None)
        generator.generate(QUESTIONS[0], context)  # connection warm
        waits: list[float] = []
        for _ in range(5):
            fake.hang(args.timeout * 5)
            started = time.perf_counter()
            result = generator.generate(QUESTIONS[0], context)
            waits.append((time.perf_counter() - started) * 1000)
            assert result.fallback == "timeout", result
    print(
        f"  hanging model, timeout {args.timeout * 1000:.0f} ms: fallback after p50 {pct(waits, 50):.0f} ms,"
        f" max {max(waits):.0f} ms (timeout + {max(waits) - args.timeout * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
