"""``hrbot ingest``, ``hrbot search`` and ``hrbot eval``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.cli.runtime import Runtime
from retrieval.audience import country_code

if TYPE_CHECKING:
    from bot.answering.scoring import Answered, AnswerReport
    from bot.engine import Engine
    from retrieval.evaluation import EvalQuestion, EvalReport
    from retrieval.ingest import IngestSummary
    from retrieval.pipeline import SearchResponse, SearchService

# Heavy modules (torch, haystack) are imported inside the commands, so `hrbot --help` stays fast.

out = Console()
err = Console(stderr=True)


def _parse_meta(pairs: list[str]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"--meta takes key=value, got {pair!r}")
        meta[key.strip()] = value.strip()
    return meta


def _countries(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    codes = []
    for value in values:
        code = country_code(value)
        if code is None:
            raise typer.BadParameter(f"unknown country {value!r}; use an ISO code such as DE or GB")
        codes.append(code)
    return codes


class _RichProgress:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("ingesting", total=None)

    def files_total(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def file_done(self, path: str) -> None:
        self.progress.update(self.task, advance=1, description=f"[dim]{path[-50:]}")


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Folders or files to ingest.", exists=True)],
    source: Annotated[str | None, typer.Option(help="Source name (default: the first folder's name).")] = None,
    meta: Annotated[list[str], typer.Option("--meta", help="key=value applied to every document.")] = [],  # noqa: B006
    prune: Annotated[bool, typer.Option(help="Take files gone from a folder out of search.")] = True,
) -> None:
    """Convert, chunk, embed and index policy documents (Markdown, HTML, PDF, DOCX, text)."""
    from connectors.filesystem import FilesystemConnector
    from retrieval.ingest import Ingestor, embedder_from_settings

    extra = _parse_meta(meta)
    name = source or (paths[0].resolve().name if paths[0].is_dir() else paths[0].resolve().parent.name)
    runtime = Runtime()
    ingestor = Ingestor(runtime.settings, runtime.sessions, embedder_from_settings(runtime.settings))
    summaries: list[IngestSummary] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        for path in paths:
            connector = FilesystemConnector(path)
            summaries.append(
                ingestor.ingest(
                    connector.load_all(),
                    source_name=name,
                    origin=connector.origin,
                    listed_ids=connector.list_ids(),
                    extra_meta=extra,
                    prune=prune and path.is_dir(),
                    progress=_RichProgress(progress),
                )
            )
    failed = 0
    for s in summaries:
        out.print(
            f"[bold]{s.source}[/]: {s.seen} files seen, {s.new} new, {s.changed} changed, {s.unchanged} unchanged, "
            f"{s.removed} removed, {s.failed} failed; {s.chunks_written} chunks written "
            f"({s.chunks_embedded} embedded) in {s.seconds:.1f} s"
        )
        for path_, reason in s.failures:
            err.print(f"  [yellow]skipped[/] {path_}: {reason}")
        failed += s.failed
    if failed and all(s.failed == s.seen for s in summaries):
        raise typer.Exit(1)


def search(
    question: Annotated[str, typer.Argument(help="The question, as an employee would ask it.")],
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="Number of results.")] = 5,
    country: Annotated[list[str] | None, typer.Option(help="Search as an employee in this country.")] = None,
    source: Annotated[list[str] | None, typer.Option(help="Only these sources.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Hybrid search (pgvector + full text, fused by reciprocal rank)."""
    from retrieval.pipeline import SearchService

    runtime = Runtime()
    service = SearchService(runtime.settings, runtime.url)
    _ = runtime.engine  # migrations
    response = service.search(question, k=k, countries=_countries(country), sources=source)
    if as_json:
        sys.stdout.write(
            json.dumps(
                {
                    "query": response.query,
                    "latency_ms": round(response.latency_ms, 2),
                    "analysis": response.analysis,
                    "top_similarity": response.top_similarity,
                    "results": [r.as_dict() for r in response.results],
                },
                indent=2,
                ensure_ascii=False,
            )
            + "\n"
        )
        return
    _print_results(response)


def _print_results(response: SearchResponse) -> None:
    if not response.results:
        out.print("No matching policy passages. Has anything been ingested? (`hrbot ingest PATH`)")
        return
    for r in response.results:
        where = (
            f"{r.title}" + (f" > {r.heading_path}" if r.heading_path else "") + (f" (p. {r.page})" if r.page else "")
        )
        out.print(f"[bold cyan]{r.rank}.[/] [bold]{where}[/]  [dim]{r.score:.4f}[/]")
        flat = " ".join(r.text.split())
        snippet = flat if len(flat) <= 400 else flat[:400].rsplit(" ", 1)[0] + " …"
        out.print(f"   {snippet}", highlight=False)
        out.print(f"   [link={r.uri}]{r.uri}[/link] [dim]({r.source}, v{r.version_no})[/]")
    notes = []
    if response.analysis.get("corrections"):
        notes.append("corrected " + ", ".join(f"{a}→{b}" for a, b in response.analysis["corrections"].items()))
    if response.analysis.get("countries"):
        notes.append("audience " + ",".join(response.analysis["countries"]) + " + global")
    out.print(f"[dim]{response.latency_ms:.1f} ms" + ("; " + "; ".join(notes) if notes else "") + "[/]")


def _eval_search(
    service: SearchService, sources: list[str] | None, country: list[str] | None
) -> Callable[[EvalQuestion, int], SearchResponse]:
    def run(q: EvalQuestion, k: int) -> SearchResponse:
        countries = _countries([q.country]) if q.country else _countries(country)
        return service.search(q.question, k=k, countries=countries, sources=sources)

    return run


def _eval_answer(
    engine: Engine, sources: list[str] | None, country: list[str] | None
) -> Callable[[EvalQuestion], Answered]:
    """Each question answered exactly as a policy question in chat is: ``Engine.policy``."""

    def run(q: EvalQuestion) -> Answered:
        countries = _countries([q.country]) if q.country else _countries(country)
        result = engine.policy(q.question, countries=countries or (), sources=sources)
        return result.composition, result.retrieved_chunk_ids

    return run


def _print_retrieval(report: EvalReport, name: str) -> None:
    k = report.k
    table = Table(title=f"{name}: {report.scored} scored questions of {report.questions}")
    for column in ("recall@1", f"recall@{k}", "MRR@10", "p50 ms", "p95 ms"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{report.recall_at_1:.3f}",
        f"{report.recall_at_k:.3f}",
        f"{report.mrr_at_10:.3f}",
        f"{report.latency_p50_ms:.1f}",
        f"{report.latency_p95_ms:.1f}",
    )
    if report.start_page_recall_at_k is not None:
        table.caption = (
            "page level: a chunk counts on every page its text comes from; counted only on the page it starts on: "
            f"recall@1 {report.start_page_recall_at_1:.3f}, recall@{k} {report.start_page_recall_at_k:.3f}, "
            f"MRR@10 {report.start_page_mrr_at_10:.3f}"
        )
    out.print(table)
    misses = [q for q in report.per_question if not q["unanswerable"] and (q["rank"] is None or q["rank"] > k)]
    for miss in misses:
        out.print(f"[yellow]miss[/] line {miss['line']}: {miss['question']}  [dim]top: {miss['top'][:2]}[/]")


def _print_answers(report: AnswerReport) -> None:
    s = report.score
    table = Table(title="answers (as in chat: Engine.policy)")
    table.add_column("answer figure")
    table.add_column("value", justify="right")
    table.add_column("of", style="dim")
    table.add_row("answer_must_contain", f"{s.must_contain_share:.3f}", f"{s.must_contain_scored} with strings")
    table.add_row("abstention precision", f"{s.abstention_precision:.3f}", f"{s.abstained} abstentions")
    table.add_row("abstention recall", f"{s.abstention_recall:.3f}", f"{s.unanswerable} unanswerable")
    table.add_row("wrongly abstained", f"{s.wrongly_abstained_share:.3f}", f"{s.answerable} answerable")
    table.add_row("citation validity", f"{s.citation_validity:.3f}", f"{s.answered} answers")
    table.add_row(
        "latency p50 / p95 ms", f"{report.latency_p50_ms:.1f} / {report.latency_p95_ms:.1f}", "search + compose"
    )
    out.print(table)


def evaluate_command(
    qa_file: Annotated[Path, typer.Argument(help="JSONL question set.", exists=True, dir_okay=False)],
    k: Annotated[int, typer.Option("--k", min=1, max=50)] = 5,
    source: Annotated[list[str] | None, typer.Option(help="Search only these sources.")] = None,
    country: Annotated[list[str] | None, typer.Option(help="Default country of the asker.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write figures and per-question ranks here.")] = None,
    answers: Annotated[bool, typer.Option(help="Also answer every question and score the answers.")] = True,
) -> None:
    """Score retrieval on a question set (recall@1, recall@k, MRR@10, latency) and the answers
    (answer_must_contain, abstention precision/recall, citation validity, answer latency)."""
    from bot.answering.scoring import evaluate_answers
    from bot.engine import Engine
    from retrieval.evaluation import EvalFileError, evaluate, load_questions
    from retrieval.pipeline import SearchService

    try:
        questions = load_questions(qa_file)
    except EvalFileError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    runtime = Runtime()
    service = SearchService(runtime.settings, runtime.url)
    _ = runtime.engine
    service.warm_up()
    report = evaluate(questions, _eval_search(service, source, country), k=k)
    _print_retrieval(report, qa_file.name)
    figures = {**report.summary(), "per_question": report.per_question}
    if answers:
        # a search service of its own: the first one's query-embedding cache would flatter the answer latency
        answering = SearchService(runtime.settings, runtime.url)
        answering.search("warm up the model, the word statistics and the connection pool", k=1)
        answered = evaluate_answers(questions, _eval_answer(Engine(runtime.settings, answering), source, country))
        _print_answers(answered)
        figures["answers"] = {**answered.summary(), "per_question": answered.per_question}
    if json_out:
        json_out.write_text(json.dumps(figures, indent=2, ensure_ascii=False))
