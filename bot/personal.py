"""Personal figures: fixed lookups for one employee, chosen by the engine, never by the text.

Each lookup is a call into ``hr.hrdata.store`` with the subject's id; each figure says where it came
from and its as-of date, and each lookup is recorded (which query, for whom; never the figures).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from bot.question import Figure, Lookup
from hr.hrdata import store
from hr.hrdata.store import Balance, Person

_LEAVE_WORDS = {
    "vacation": ("vacation", "pto", "paid time off", "annual leave", "holiday allowance", "time off", "days off"),
    "sick": ("sick", "illness", "ill"),
    "parental": ("parental", "maternity", "paternity", "mat leave", "pat leave"),
}


@dataclass
class PersonalReport:
    lines: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    lookups: list[Lookup] = field(default_factory=list)


def number(value: Decimal) -> str:
    """12.50 -> "12.5", 20.00 -> "20"."""
    text = f"{value.normalize():f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def wanted_leave_types(text: str) -> set[str]:
    lowered = text.lower()
    return {code for code, words in _LEAVE_WORDS.items() if any(re.search(rf"\b{w}\b", lowered) for w in words)}


def report(
    subject: Person, topics: Iterable[str], text: str, *, today: date, session: Session, own: bool
) -> PersonalReport:
    out = PersonalReport()
    who = "You have" if own else f"{subject.name} has"
    for topic in sorted(topics):
        if topic == "balance":
            _balances(subject, text, who, out, session=session)
        elif topic == "requests":
            _requests(subject, who, out, today=today, session=session)
        elif topic == "holidays":
            _holidays(subject, out, today=today, session=session)
    return out


def _lookup(out: PersonalReport, query: str, subject: Person) -> None:
    out.lookups.append(Lookup(query=query, subject_employee_id=subject.id, subject_email=subject.email))


def _balances(subject: Person, text: str, who: str, out: PersonalReport, *, session: Session) -> None:
    _lookup(out, "leave_balances", subject)
    rows = store.balances(subject.id, session=session)
    wanted = wanted_leave_types(text)
    chosen = [b for b in rows if b.leave_type in wanted] or rows
    if not chosen:
        out.lines.append(f"I found no leave balances for {subject.name} in the HR records.")
        return
    for b in chosen:
        out.lines.append(_balance_line(b, who))
        out.figures.append(
            Figure(
                label=f"{b.leave_type_name} {b.period} remaining",
                value=f"{number(b.remaining)} {b.unit}",
                source=b.source,
                as_of=b.as_of,
                subject_email=subject.email,
            )
        )


def leave_name(b: Balance) -> str:
    """ "vacation", "sick leave", "parental leave": how the figure reads in a sentence."""
    name = b.leave_type_name.lower()
    return name if "leave" in name or name in ("vacation", "pto", "time off") else f"{name} leave"


def _balance_line(b: Balance, who: str) -> str:
    parts = [f"{number(b.entitled)} entitled"]
    if b.carried_over:
        parts.append(f"{number(b.carried_over)} carried over")
    parts.append(f"{number(b.taken)} taken")
    pending = f"; {number(b.pending)} pending approval, {number(b.available)} free to book" if b.pending else ""
    return (
        f"{who} {number(b.remaining)} {b.unit} of {leave_name(b)} left for {b.period} "
        f"({', '.join(parts)}{pending}). Source: HR record ({b.source}), as of {day(b.as_of)}."
    )


def _requests(subject: Person, who: str, out: PersonalReport, *, today: date, session: Session) -> None:
    _lookup(out, "open_and_upcoming_requests", subject)
    rows = store.upcoming_requests(subject.id, today=today, session=session)
    pending = store.pending_requests(subject.id, session=session)
    seen = {r.id for r in rows}
    rows += [r for r in pending if r.id not in seen]
    if not rows:
        out.lines.append(f"{who} no pending or upcoming leave requests.")
        return
    for r in sorted(rows, key=lambda r: r.start_date):
        span = day(r.start_date) if r.start_date == r.end_date else f"{day(r.start_date)} to {day(r.end_date)}"
        line = f"{r.leave_type_name}: {span}, {number(r.amount)} {r.unit}, {r.status}"
        out.lines.append(f"{line}. Source: HR record ({r.source}), as of {day(r.as_of)}.")
        out.figures.append(Figure(r.leave_type_name, line, r.source, r.as_of, subject.email))


def _holidays(subject: Person, out: PersonalReport, *, today: date, session: Session) -> None:
    _lookup(out, "next_public_holidays", subject)
    rows = store.next_public_holidays(subject.country, from_date=today, session=session, n=3)
    # public holidays are not personal data: they are listed, but not counted as the subject's figures
    if not rows:
        out.lines.append(f"I have no public holidays on record for {subject.country}.")
        return
    listed = "; ".join(f"{h.name} ({day(h.day)})" for h in rows)
    out.lines.append(f"Next public holidays in {subject.country}: {listed}. Source: {rows[0].source}.")
