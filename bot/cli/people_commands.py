"""``hrbot people``: import HR exports and look at what was imported."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.runtime import Runtime
from hr.db import unit_of_work
from hr.hrdata import store
from hr.hrdata.importer import ImportRejected, import_files
from hr.hrdata.parsing import accepted_headers

app = typer.Typer(help="HR data: employees, leave balances, leave requests, public holidays.", no_args_is_help=True)
out = Console()


def _number(value: Decimal) -> str:
    """12.50 -> 12.5, 20.00 -> 20."""
    return f"{value.normalize():f}"


@app.command(
    "import", help=f"Import CSV files (all of them or none), recognised by their header:\n\n{accepted_headers()}"
)
def people_import(
    files: Annotated[list[Path], typer.Argument(help="CSV files, in any order.", exists=True, dir_okay=False)],
    as_of: Annotated[str | None, typer.Option(help="Date the figures are true on (YYYY-MM-DD); default today.")] = None,
) -> None:
    try:
        today = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        raise typer.BadParameter(f"{as_of!r} is not a date (YYYY-MM-DD)", param_hint="--as-of") from None
    runtime = Runtime()
    try:
        with unit_of_work(runtime.sessions) as session:
            summaries = import_files(files, session=session, today=today)
    except ImportRejected as rejected:
        for error in rejected.errors:
            typer.echo(str(error), err=True)
        typer.echo(f"{len(rejected.errors)} bad rows; nothing was imported", err=True)
        raise typer.Exit(1) from None
    for summary in summaries:
        out.print(
            f"{summary.file} ({summary.kind}): {summary.rows} rows, {summary.inserted} inserted, "
            f"{summary.updated} updated, {summary.unchanged} unchanged",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


@app.command("list")
def people_list(
    country: Annotated[str | None, typer.Option(help="Only people in this country (ISO code).")] = None,
) -> None:
    """List the active employees."""
    runtime = Runtime()
    with unit_of_work(runtime.sessions) as session:
        people = store.list_employees(session=session)
    if country:
        people = [person for person in people if person.country == country.strip().upper()]
    table = Table("name", "email", "country", "entity", "department", "manager", "type", "slack", "locale")
    for person in people:
        table.add_row(
            person.name,
            person.email,
            person.country,
            person.entity,
            person.department,
            person.manager_name or "",
            person.employment_type,
            person.slack_user_id or "",
            person.locale,
        )
    out.print(table)
    out.print(f"{len(people)} employees", highlight=False)


@app.command("show")
def people_show(
    email: Annotated[str, typer.Argument(help="The employee's email.")],
    period: Annotated[str | None, typer.Option(help="Balance period, e.g. 2026; default the latest.")] = None,
) -> None:
    """One employee's balances, open and upcoming leave, and next public holidays."""
    runtime = Runtime()
    today = date.today()
    with unit_of_work(runtime.sessions) as session:
        person = store.employee_by_email(email, session=session)
        if person is None:
            typer.echo(f"no active employee {email}", err=True)
            raise typer.Exit(1)
        balances = store.balances(person.id, period=period, session=session)
        upcoming = store.upcoming_requests(person.id, today=today, session=session)
        holidays = store.next_public_holidays(person.country, from_date=today, n=5, session=session)
    out.print(f"{person.name} <{person.email}>, {person.country}, manager: {person.manager_name or '-'}")
    table = Table("leave", "period", "entitled", "carried over", "taken", "pending", "remaining", "available", "as of")
    for b in balances:
        table.add_row(
            b.leave_type_name,
            b.period,
            *(f"{_number(value)} {b.unit}" for value in (b.entitled, b.carried_over, b.taken, b.pending)),
            *(f"{_number(value)} {b.unit}" for value in (b.remaining, b.available)),
            f"{b.as_of} ({b.source})",
        )
    out.print(table)
    for r in upcoming:
        out.print(
            f"{r.leave_type_name} {r.start_date}..{r.end_date}: {_number(r.amount)} {r.unit}, {r.status}",
            highlight=False,
            soft_wrap=True,
        )
    for h in holidays:
        out.print(f"{h.day} {h.name} ({h.source})", highlight=False, markup=False, soft_wrap=True)
