"""``hrbot audit``: read, export and verify the hash-chained audit log."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.cli.runtime import Runtime
from hr.audit import service
from hr.audit.export import write_export
from hr.audit.records import AuditEntryView, CitedChunk
from hr.db import unit_of_work

app = typer.Typer(help="The audit log: every answer, refusal and personal lookup, hash-chained.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

SinceOption = Annotated[
    str | None, typer.Option("--since", help="Only entries at or after this date or time (ISO 8601; UTC if no zone).")
]
UserOption = Annotated[
    str | None, typer.Option("--user", help="Only entries of this person: email, employee id or platform user id.")
]


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


def parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"--since takes a date or time such as 2026-01-31, got {value!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@app.command("list")
def audit_list(
    since: SinceOption = None,
    user: UserOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many entries, newest first.")] = 50,
) -> None:
    """List entries, newest first."""
    runtime = Runtime()
    with unit_of_work(runtime.sessions) as session:
        entries = service.list_entries(session=session, since=parse_since(since), user=user, limit=limit)
    table = Table("id", "seq", "when (UTC)", "kind", "who", "where", "question", "fb")
    for entry in entries:
        table.add_row(
            str(entry.id),
            str(entry.seq),
            entry.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
            entry.kind,
            escape(entry.employee_email or entry.platform_user_id or "-"),
            escape(" / ".join(p for p in (entry.surface, entry.channel) if p)),
            escape(_short(entry.question, 48)),
            "" if entry.feedback is None else entry.feedback.value,
        )
    out.print(table)
    out.print(f"{len(entries)} entries")


@app.command("show")
def audit_show(audit_id: Annotated[int, typer.Argument(help="The entry's id.")]) -> None:
    """Every field of one entry, its citations with their version hash and the cited chunk text."""
    runtime = Runtime()
    with unit_of_work(runtime.sessions) as session:
        entry = service.get(audit_id, session=session)
        if entry is None:
            err.print(f"no audit entry {audit_id}")
            raise typer.Exit(1)
        chunks = service.cited_chunks(audit_id, session=session)
    fields = [
        ("id", entry.id),
        ("seq", entry.seq),
        ("when", entry.created_at.astimezone(UTC).isoformat()),
        ("kind", entry.kind),
        ("surface", entry.surface),
        ("who", _who(entry)),
        ("where", _where(entry)),
        ("latency", "" if entry.latency_ms is None else f"{entry.latency_ms} ms"),
        ("feedback", _feedback(entry)),
        ("prev hash", entry.prev_hash),
        ("row hash", entry.row_hash),
    ]
    for name, value in fields:
        out.print(f"[bold]{name}:[/bold] {escape(str(value))}", soft_wrap=True)
    out.print(f"[bold]question:[/bold]\n{escape(entry.question)}")
    out.print(f"[bold]answer:[/bold]\n{escape(entry.answer_text)}")
    for lookup in entry.lookups:
        subject = lookup.subject_email or lookup.subject_employee_id or "-"
        out.print(f"[bold]lookup:[/bold] {escape(lookup.query)} for {escape(str(subject))}")
    for citation in entry.citations:
        out.print(
            f"\n[bold]{escape(f'[{citation.n}]')} {escape(citation.title)}[/bold] version {citation.version_no} "
            f"(id {citation.version_id}, sha256 {citation.content_hash})"
            + ("" if citation.page is None else f", page {citation.page}")
            + f"\n    {escape(citation.uri)}",
            soft_wrap=True,
        )
        for chunk in (c for c in chunks if c.n == citation.n):
            out.print(_chunk_text(chunk))


@app.command("export")
def audit_export(
    fmt: Annotated[ExportFormat, typer.Option("--format", help="jsonl or csv.")] = ExportFormat.jsonl,
    since: SinceOption = None,
    user: UserOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Export entries in chain order as JSON Lines or CSV."""
    runtime = Runtime()
    moment = parse_since(since)
    with unit_of_work(runtime.sessions) as session:
        entries = service.iter_export(session=session, since=moment, user=user)
        if output is None:
            write_export(entries, fmt.value, sys.stdout)
            return
        with output.open("w", encoding="utf-8", newline="") as stream:
            count = write_export(entries, fmt.value, stream)
    err.print(f"{count} entries written to {output}")


@app.command("verify")
def audit_verify() -> None:
    """Check the hash chain: report every row edited, removed, reordered or inserted (exit code 1)."""
    runtime = Runtime()
    with unit_of_work(runtime.sessions) as session:
        report = service.verify(session=session)
    if report.ok:
        head = f"head seq {report.head_seq}, hash {report.head_hash}"
        out.print(f"OK: {report.checked} entries, chain intact ({head})", soft_wrap=True)
        return
    for problem in report.problems:
        entry = "" if problem.entry_id is None else f" (id {problem.entry_id})"
        out.print(f"seq {problem.seq}{entry}: {problem.kind}: {escape(problem.detail)}", soft_wrap=True)
    out.print(f"FAILED: {len(report.problems)} problems in {report.checked} entries")
    raise typer.Exit(1)


def _who(entry: AuditEntryView) -> str:
    parts = [entry.employee_email, None if entry.employee_id is None else f"#{entry.employee_id}"]
    parts.append(entry.platform_user_id)
    return " ".join(p for p in parts if p) or "-"


def _where(entry: AuditEntryView) -> str:
    parts = [entry.surface, entry.channel, entry.thread]
    return " / ".join(p for p in parts if p)


def _feedback(entry: AuditEntryView) -> str:
    if entry.feedback is None:
        return "-"
    comment = f" {entry.feedback.comment!r}" if entry.feedback.comment else ""
    return f"{entry.feedback.value}{comment} at {entry.feedback.at.astimezone(UTC).isoformat()}"


def _short(value: str, width: int) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _chunk_text(chunk: CitedChunk) -> str:
    where = " > ".join(p for p in (chunk.title, chunk.heading_path) if p)
    if chunk.body is None:
        return f"    chunk {chunk.chunk_id}: [italic]no longer stored[/italic]"
    state = "current" if chunk.is_current else "superseded"
    body = "\n".join("    | " + line for line in chunk.body.splitlines())
    return f"    chunk {chunk.chunk_id} ({state}) {escape(where)}\n{escape(body)}"
