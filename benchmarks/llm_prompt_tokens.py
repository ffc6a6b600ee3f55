"""Prompt tokens of an LLM answer (HRBOT_GENERATOR=openai) with the budgeted context versus the top
five chunks pasted whole, and the citation hit rate both ways; then the fallback latency with the
model hanging (a fake OpenAI-compatible server on loopback, through the real client).

Two question sets:

* default: policy questions about the sample company (bot/demo/data, ingested into a throwaway
  database);
* ``--corpus DIR``: the real handbooks (gitlab-handbook, 18f-tts-handbook, clef-handbook and, where
  it is ingested, contoso-hr-pdfs), each its own source, with their evaluation sets
  (evals/<handbook>.jsonl; contoso's evals/ground_truth.jsonl in its folder, judged by page). The
  handbooks are read from existing databases (``--data-dir DIR``, repeatable: an HRBOT_DATA_DIR
  whose embedded database holds them, sources named like their folders; or ``--database-url``);
  ``--ingest`` embeds them into a throwaway database instead (slow: about 20 chunks/s on 2 cores).

For every answerable question the search runs as the engine's does (top ``answer_passages`` = 5,
the question's country, the handbook as the only source), then two prompts are built with the same
rules, question and short source labels: (a) the five chunks pasted whole, (b) the budgeted context
(``bot.answering.budget.fit``, ``llm_prompt_budget_tokens``). Tokens: the fast approximation the
budget uses (``count_tokens``) and the embedding model's word-piece tokenizer, over the whole prompt.

Citation hit rate, two definitions (a question counts once; relevance as ``hrbot eval`` judges it,
``retrieval.evaluation.is_hit``: the relevant document, or page for contoso):

* *in prompt*: some source of the prompt comes from a relevant document (the most any model can
  cite correctly);
* *fake cites*: the answer of the fake model, end to end through ``LLMGenerator`` and the real
  OpenAI client, cites a source from a relevant document. The fake is a deterministic stand-in, not
  a model: it cites the source whose text covers the most distinct words of the question
  (``tests.fakes.openai_api.cite_best_overlap``).

    python benchmarks/llm_prompt_tokens.py [--budget N] [--timeout 1.0]
    python benchmarks/llm_prompt_tokens.py --corpus ../shared/corpus --data-dir /tmp/hrbot-corpus \\
        [--data-dir /tmp/hrbot-contoso --source contoso-hr-pdfs=contoso] [--handbooks gitlab-handbook,...] \\
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import COMPANIES, ROOT, fresh_database, pct
from tokenizers import Tokenizer

from bot.answering.budget import Context, context_sentences, count_tokens, whole_chunks
from bot.answering.extractive import compose, query_terms
from bot.answering.llm import LLMGenerator
from bot.answering.prompt import messages
from connectors.filesystem import FilesystemConnector
from hr.db import database_url, make_engine, make_sessionmaker
from hr.settings import Settings
from retrieval.audience import country_code
from retrieval.evaluation import EvalQuestion, is_hit, load_questions
from retrieval.ingest import Ingestor, embedder_from_settings
from retrieval.pipeline import SearchService
from retrieval.store import source_stats
from tests.fakes.openai_api import FakeOpenAI, serve_openai

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
HIT_DEFINITION = (
    "hit rate, in prompt: a source of the prompt comes from a relevant document (page, for contoso) of the\n"
    "  question, as `hrbot eval` judges relevance: the most any model could cite correctly.\n"
    "  fake cites: the fake model's answer (end to end through LLMGenerator and the OpenAI client) cites a\n"
    "  source from a relevant document; the fake is a deterministic stand-in that cites the source covering\n"
    "  the most distinct words of the question (tests/fakes/openai_api.py cite_best_overlap)."
)


@dataclass
class Tally:
    """One handbook's (or all) figures: per question, both ways."""

    name: str
    tokens: dict[str, list[int]] = field(
        default_factory=lambda: {"whole": [], "budget": [], "whole_wp": [], "budget_wp": []}
    )
    in_prompt: dict[str, int] = field(default_factory=lambda: {"whole": 0, "budget": 0})
    cited: dict[str, int] = field(default_factory=lambda: {"whole": 0, "budget": 0})
    fallbacks: dict[str, int] = field(default_factory=lambda: {"whole": 0, "budget": 0})
    sources: list[int] = field(default_factory=list)
    abstained: int = 0

    @property
    def n(self) -> int:
        return len(self.tokens["whole"])

    def add(self, other: Tally) -> None:
        for key, values in other.tokens.items():
            self.tokens[key] += values
        for mine, theirs in (
            (self.in_prompt, other.in_prompt),
            (self.cited, other.cited),
            (self.fallbacks, other.fallbacks),
        ):
            for key in mine:
                mine[key] += theirs[key]
        self.sources += other.sources
        self.abstained += other.abstained

    def summary(self) -> dict[str, Any]:
        t = self.tokens
        n = self.n or 1
        return {
            "questions": self.n,
            "tokens_whole_mean": round(statistics.mean(t["whole"]), 1) if t["whole"] else 0,
            "tokens_budget_mean": round(statistics.mean(t["budget"]), 1) if t["budget"] else 0,
            "ratio": round(sum(t["budget"]) / max(sum(t["whole"]), 1), 3),
            "wordpiece_whole_mean": round(statistics.mean(t["whole_wp"]), 1) if t["whole_wp"] else 0,
            "wordpiece_budget_mean": round(statistics.mean(t["budget_wp"]), 1) if t["budget_wp"] else 0,
            "wordpiece_ratio": round(sum(t["budget_wp"]) / max(sum(t["whole_wp"]), 1), 3),
            "hit_in_prompt_whole": round(self.in_prompt["whole"] / n, 3),
            "hit_in_prompt_budget": round(self.in_prompt["budget"] / n, 3),
            "hit_fake_cites_whole": round(self.cited["whole"] / n, 3),
            "hit_fake_cites_budget": round(self.cited["budget"] / n, 3),
            "fake_fallbacks_whole": self.fallbacks["whole"],
            "fake_fallbacks_budget": self.fallbacks["budget"],
            "budget_sources_mean": round(statistics.mean(self.sources), 2) if self.sources else 0,
            "extractive_abstains": self.abstained,
        }


def prompt_of(question: str, context: Context) -> str:
    return "\n\n".join(str(m.text) for m in messages(question, context))


class Bench:
    """Builds both prompts for one question and scores them."""

    def __init__(self, settings: Settings, fake_llm: LLMGenerator) -> None:
        self.settings = settings
        self.llm = LLMGenerator(settings)
        self.fake_llm = fake_llm
        wordpiece = Tokenizer.from_file(str(Path(settings.resolved_model_path()) / "tokenizer.json"))
        wordpiece.no_truncation()
        self.wordpiece = wordpiece

    def pieces(self, text: str) -> int:
        return len(self.wordpiece.encode(text, add_special_tokens=False).ids)

    def question(
        self,
        tally: Tally,
        search: SearchService,
        text: str,
        *,
        countries: list[str] | None,
        sources: list[str] | None,
        relevant: Callable[[Any], bool] | None,
    ) -> tuple[Context, Context]:
        response = search.search(text, k=self.settings.answer_passages, countries=countries, sources=sources)
        terms = query_terms(text, response.analysis)
        named: Sequence[str] = response.analysis.get("countries") or ()
        extractive = compose(text, response.results, terms=terms, countries=named)
        wider = context_sentences(text, response.results, terms=terms, countries=named)
        budgeted = self.llm.context(extractive, wider)
        whole = whole_chunks(response.results)
        tally.abstained += extractive.abstain
        tally.sources.append(len(budgeted.sources))
        for way, context in (("whole", whole), ("budget", budgeted)):
            prompt = prompt_of(text, context)
            tally.tokens[way].append(count_tokens(prompt))
            tally.tokens[f"{way}_wp"].append(self.pieces(prompt))
            if relevant is None:
                continue
            tally.in_prompt[way] += any(relevant(s.citation) for s in context.sources)
            generated = self.fake_llm.generate(text, context)
            tally.fallbacks[way] += generated.fallback is not None
            tally.cited[way] += any(relevant(c) for c in generated.citations)
        return whole, budgeted


def print_row(label: str, s: dict[str, Any], with_hits: bool = True) -> None:
    print(
        f"  {label:<18} n={s['questions']:>3}  tokens top-5 whole {s['tokens_whole_mean']:6.0f}"
        f"  budgeted {s['tokens_budget_mean']:5.0f}  ratio {s['ratio']:.2f}"
        f"  | word-piece {s['wordpiece_whole_mean']:5.0f} vs {s['wordpiece_budget_mean']:4.0f}"
        f" ratio {s['wordpiece_ratio']:.2f}"
    )
    if with_hits:
        print(
            f"  {'':<18} hit in prompt: whole {s['hit_in_prompt_whole']:.3f} budgeted {s['hit_in_prompt_budget']:.3f}"
            f"  | fake cites: whole {s['hit_fake_cites_whole']:.3f} budgeted {s['hit_fake_cites_budget']:.3f}"
            f"  | sources kept {s['budget_sources_mean']:.1f}, extractive abstains {s['extractive_abstains']}"
        )


def question_set(corpus: Path, name: str) -> Path | None:
    for path in (ROOT / "evals" / f"{name}.jsonl", corpus / name / "evals" / "ground_truth.jsonl"):
        if path.is_file():
            return path
    return None


def handbook_search(args: argparse.Namespace, settings: Settings, handbook: str, name: str) -> SearchService | None:
    """A search over a database that holds source ``name``: the first of ``--database-url`` /
    ``--data-dir`` that does, or (``--ingest``) a throwaway one it is embedded into."""
    if args.ingest:
        url = fresh_database(f"hrbot_bench_llm_{name.replace('-', '_')}")
        connector = FilesystemConnector(args.corpus / handbook)
        started = time.perf_counter()
        Ingestor(settings, make_sessionmaker(make_engine(settings, url=url)), embedder_from_settings(settings)).ingest(
            connector.load_all(), source_name=name, origin=connector.origin, listed_ids=connector.list_ids()
        )
        print(f"  ingested {name} in {time.perf_counter() - started:.0f} s")
        return SearchService(settings, url)
    urls = list(args.database_url or [])
    for data_dir in args.data_dir or []:
        urls.append(database_url(Settings(data_dir=data_dir, database_url=None)))
    for url in urls:
        with make_sessionmaker(make_engine(settings, url=url))() as session:
            if any(s.name == name and s.chunks for s in source_stats(session)):
                return SearchService(settings, url)
    return None


def real_handbooks(args: argparse.Namespace, settings: Settings, fake: FakeOpenAI) -> dict[str, Any]:
    fake_settings = settings.model_copy(update={"llm_base_url": fake.base_url, "llm_model": "fake-llm-1"})
    bench = Bench(settings, LLMGenerator(fake_settings))
    overall = Tally("overall")
    report: dict[str, Any] = {}
    names = args.handbooks.split(",") if args.handbooks else COMPANIES
    renamed = dict(item.split("=", 1) for item in args.source)
    for handbook in names:
        name = renamed.get(handbook, handbook)
        qa = question_set(args.corpus, handbook)
        search = handbook_search(args, settings, handbook, name)
        if qa is None or search is None:
            print(f"  {handbook}: skipped ({'no question set' if qa is None else 'not in any given database'})")
            continue
        tally = Tally(handbook)
        for q in load_questions(qa):
            if q.unanswerable:
                continue
            code = country_code(q.country) if q.country else None
            bench.question(
                tally,
                search,
                q.question,
                countries=[code] if code else None,
                sources=[name],
                relevant=_judge(q),
            )
        summary = tally.summary()
        report[handbook] = summary
        print_row(handbook, summary)
        overall.add(tally)
    report["overall"] = overall.summary()
    print_row("overall", report["overall"])
    return report


def _judge(q: EvalQuestion) -> Callable[[Any], bool]:
    return lambda citation: is_hit(citation, q)  # a Citation has the path and page is_hit reads


def sample_company(args: argparse.Namespace, settings: Settings, fake: FakeOpenAI) -> dict[str, Any]:
    url = fresh_database("hrbot_bench_llm")
    sessions = make_sessionmaker(make_engine(settings, url=url))
    connector = FilesystemConnector(ROOT / "bot" / "demo" / "data" / "policies")
    Ingestor(settings, sessions, embedder_from_settings(settings)).ingest(
        connector.load_all(), source_name="brightwave", origin=connector.origin, listed_ids=connector.list_ids()
    )
    search = SearchService(settings, url)
    fake_settings = settings.model_copy(update={"llm_base_url": fake.base_url, "llm_model": "fake-llm-1"})
    bench = Bench(settings, LLMGenerator(fake_settings))
    tally = Tally("sample company")
    for q in QUESTIONS:
        bench.question(tally, search, q, countries=None, sources=None, relevant=None)
    summary = tally.summary()
    print_row("sample company", summary, with_hits=False)
    return {"sample_company": summary, "search": search}


def hang_figure(settings: Settings, fake: FakeOpenAI, timeout: float) -> dict[str, float]:
    """With the model hanging, how long until the fallback: through the real client, five times."""
    hang = settings.model_copy(
        update={"llm_base_url": fake.base_url, "llm_timeout_s": timeout, "llm_model": "fake-llm-1"}
    )
    generator = LLMGenerator(hang)
    generator.warm_up()
    q = "how many vacation days do I get?"
    context = whole_chunks([])
    generator.generate(q, context)  # connection warm
    waits: list[float] = []
    for _ in range(5):
        fake.hang(timeout * 5)
        started = time.perf_counter()
        result = generator.generate(q, context)
        waits.append((time.perf_counter() - started) * 1000)
        assert result.fallback == "timeout", result
    print(
        f"  hanging model, timeout {timeout * 1000:.0f} ms: fallback after p50 {pct(waits, 50):.0f} ms,"
        f" max {max(waits):.0f} ms (timeout + {max(waits) - timeout * 1000:.0f} ms)"
    )
    return {"timeout_ms": timeout * 1000, "p50_ms": round(pct(waits, 50), 1), "max_ms": round(max(waits), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=None, help="context budget (default: llm_prompt_budget_tokens)")
    parser.add_argument("--timeout", type=float, default=1.0, help="model timeout of the hang test, seconds")
    parser.add_argument("--corpus", type=Path, default=None, help="the real handbooks (the shared corpus folder)")
    parser.add_argument("--data-dir", type=Path, action="append", help="an HRBOT_DATA_DIR holding handbooks")
    parser.add_argument("--database-url", action="append", help="a database holding handbooks")
    parser.add_argument("--handbooks", default=None, help=f"comma-separated (default: {','.join(COMPANIES)})")
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        help="HANDBOOK=NAME: the handbook's source name there (contoso-hr-pdfs=contoso)",
    )
    parser.add_argument("--ingest", action="store_true", help="embed the handbooks into a throwaway database")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    budget = args.budget if args.budget is not None else Settings().llm_prompt_budget_tokens
    settings = Settings(llm_prompt_budget_tokens=budget, generator="openai")
    with serve_openai() as fake:
        if args.corpus is not None:
            print(f"real handbooks, top {settings.answer_passages} chunks whole vs context budget {budget} tokens")
            report = real_handbooks(args, settings, fake)
            print(HIT_DEFINITION)
        else:
            print(f"{len(QUESTIONS)} questions on the sample company, context budget {budget} tokens")
            report = sample_company(args, settings, fake)
            report.pop("search")
        report["hang"] = hang_figure(settings, fake, args.timeout)
    report["budget"] = budget
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
