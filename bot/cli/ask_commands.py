"""``hrbot ask`` and ``hrbot demo``: the engine in a terminal."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.cli.runtime import Runtime
from bot.question import Answer, Asker, Question

if TYPE_CHECKING:
    from bot.engine import Engine

out = Console()
err = Console(stderr=True)

DEMO_DATA = Path(__file__).resolve().parents[1] / "demo" / "data"
DEMO_SOURCE = "brightwave"


def _engine(runtime: Runtime) -> Engine:
    from bot.engine import Engine
    from retrieval.pipeline import SearchService

    _ = runtime.engine  # migrate before anything reads the schema
    service = SearchService(runtime.settings, runtime.url)
    service.warm_up()
    return Engine(runtime.settings, service)


def _ask(runtime: Runtime, engine: Engine, text: str, email: str) -> Answer:
    question = Question(text=text, asker=Asker("cli", email.strip().lower()), channel="terminal")
    with runtime.sessions() as session:
        answer = engine.answer(question, session=session)
        session.commit()
    return answer


def _render(answer: Answer) -> None:
    out.print(escape(answer.text))
    foot = f"[dim]{answer.kind} · {answer.latency_ms:.0f} ms · audit #{answer.audit_id}"
    if answer.lookups:
        foot += " · looked up: " + ", ".join(f"{lk.query} ({lk.subject_email})" for lk in answer.lookups)
    out.print(foot + "[/]")


def ask(
    question: Annotated[str, typer.Argument(help="The question, in the employee's own words.")],
    as_email: Annotated[str, typer.Option("--as", help="Ask as this employee (their email).")],
    as_json: Annotated[bool, typer.Option("--json", help="answer, citations, lookups, audit_id, latency_ms")] = False,
) -> None:
    """Answer one question as an employee, with citations and their own figures; audited."""
    runtime = Runtime()
    answer = _ask(runtime, _engine(runtime), question, as_email)
    if as_json:
        data = answer.as_dict()
        out.print_json(
            json.dumps(
                {
                    "answer": data["text"],
                    "kind": data["kind"],
                    "citations": data["citations"],
                    "figures": data["figures"],
                    "lookups": data["lookups"],
                    "audit_id": data["audit_id"],
                    "latency_ms": data["latency_ms"],
                },
                default=str,
            )
        )
    else:
        _render(answer)


def _prepare_demo(runtime: Runtime) -> None:
    # the sample company's policies (unchanged files embed nothing the second time) and people
    from bot.cli.search_commands import ingest
    from hr.hrdata.importer import import_files

    ingest([DEMO_DATA / "policies"], source=DEMO_SOURCE, meta=[], prune=True)
    with runtime.sessions() as session:
        summaries = import_files(sorted((DEMO_DATA / "people").glob("*.csv")), session=session)
        session.commit()
    for s in summaries:
        out.print(f"[bold]{s.file}[/]: {s.inserted} new, {s.updated} updated, {s.unchanged} unchanged")


def _pick_employee(runtime: Runtime) -> str:
    from hr.hrdata import store

    with runtime.sessions() as session:
        people = store.list_employees(session=session)
    table = Table(title="Brightwave employees (all fictional)")
    for column in ("#", "name", "email", "country", "department", "manager"):
        table.add_column(column)
    for i, p in enumerate(people, start=1):
        table.add_row(str(i), p.name, p.email, p.country, p.department, p.manager_name or "")
    out.print(table)
    while True:
        choice = typer.prompt("Chat as (number or email)", default="1").strip()
        if choice.isdigit() and 1 <= int(choice) <= len(people):
            return people[int(choice) - 1].email
        if any(p.email == choice.lower() for p in people):
            return choice.lower()
        err.print(f"no employee {choice!r}")


def demo(
    as_email: Annotated[str | None, typer.Option("--as", help="Chat as this employee (skip the picker).")] = None,
) -> None:
    """Sample company on the embedded database, then a chat in the terminal as an employee you pick.

    Type a question; `/as EMAIL` switches employee, `/quit` ends. Questions can also be piped in.
    """
    runtime = Runtime()
    if runtime.settings.database_url is None:
        out.print(f"[dim]embedded PostgreSQL in {runtime.settings.embedded_pgdata()}[/]")
    if not runtime.settings.policy_sources:
        runtime.settings.policy_sources = [DEMO_SOURCE]
    _prepare_demo(runtime)
    engine = _engine(runtime)
    interactive = sys.stdin.isatty()
    email = as_email or (_pick_employee(runtime) if interactive else "alice.nguyen@brightwave.example")
    out.print(f"[bold]Chatting as {email}[/]. Try: how much vacation do I have left and can I carry it over?")
    while True:
        try:
            line = input(f"{email.split('@')[0]}> ") if interactive else sys.stdin.readline()
        except EOFError:
            break
        if not interactive and not line:
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit", "quit", "exit"):
            break
        if text.startswith("/as "):
            email = text.removeprefix("/as ").strip().lower()
            out.print(f"[bold]Chatting as {email}[/]")
            continue
        if not interactive:
            out.print(f"[bold]> {escape(text)}[/]")
        _render(_ask(runtime, engine, text, email))
