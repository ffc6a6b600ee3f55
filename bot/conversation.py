"""What every chat surface does around the engine, with no chat platform in it.

The adapters (``bot/slack``, ``bot/teams``) turn a payload into a :class:`~bot.question.Question`
and render an :class:`~bot.question.Answer`; the rules in between live here once: a short
follow-up read with its thread's first question, one unit of work per question, the privacy rule
(personal figures only on a private surface), who may rate an answer, and what "Talk to HR" tells
HR. Everything touching the database goes through ``hr`` services; the session is opened and
committed here, at the edge, like a chat handler would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from bot.engine import Engine
from bot.question import Answer, AnswerKind, CitedSource, Question
from hr.audit import service as audit
from hr.audit.records import AuditEntryView, FeedbackValue
from hr.hrdata.store import Person

FOLLOW_UP_MAX_WORDS = 8
ERROR_TEXT = "Sorry, something went wrong while answering. Please try again, or ask HR directly."
THANKS_TEXT = "Thanks for the feedback!"
NOT_YOURS_TEXT = "Only the person who asked can rate it."
PRIVATE_NOTICE_TEXT = "I've sent you the answer privately, since it includes personal HR figures."
ASK_PRIVATELY_TEXT = (
    "Your answer includes personal HR figures, so I won't post it here. Ask me in a personal chat instead."
)
HR_NOTIFIED_TEXT = "HR has been notified and will get back to you directly."
# kinds that get 👍 / 👎 / Talk to HR (greetings, help and refusals are just text)
FEEDBACK_KINDS: frozenset[str] = frozenset({"policy", "personal", "both", "abstain"})

# the plain "Sources:" list the engine appends (bot/answering/models.py render()) at the end of the text
_SOURCES_TAIL = re.compile(r"\n*Sources:\n(?:\[\d+\][^\n]*(?:\n|$))+\s*\Z")

Delivery = Literal["here", "privately"]
Rated = Literal["recorded", "not_yours", "unknown"]
Resolve = Callable[[Session], Person | None]


# --- questions -------------------------------------------------------------------------------------


def is_follow_up(text: str) -> bool:
    """Short enough to be read with the thread's first question ("and in Germany?")."""
    return len(text.split()) < FOLLOW_UP_MAX_WORDS


def with_parent(text: str, parent: str | None) -> str:
    """A short follow-up read with the thread's first question in front of it; anything else as is.
    ``parent`` is that first question as the asker wrote it (mentions already stripped)."""
    if not parent or not is_follow_up(text):
        return text
    parent = " ".join(parent.split())
    return f"{parent} {text}".strip() if parent and parent != text else text


def answer_question(
    engine: Engine, sessions: sessionmaker[Session], question: Question, *, resolve: Resolve | None = None
) -> Answer:
    """One unit of work: the adapter's identity lookup (``resolve``: the employee the platform
    vouches for, or ``None`` to let the engine identify the asker), then the engine answers and
    audits, committed here."""
    with sessions() as session:
        person = resolve(session) if resolve is not None else None
        answer = engine.answer(question, session=session, asker_record=person)
        session.commit()
    return answer


# --- privacy -----------------------------------------------------------------------------------------


def delivery(answer: Answer, *, private_surface: bool) -> Delivery:
    """The privacy rule of every surface: an answer holding somebody's HR figures is shown only on a
    private surface (a DM, a personal chat, an ephemeral reply). Asked in a shared place, it goes to
    the asker privately and the shared place gets only :data:`PRIVATE_NOTICE_TEXT`."""
    return "privately" if answer.personal and not private_surface else "here"


def wants_feedback(answer: Answer) -> bool:
    """Whether the answer gets 👍 / 👎 / Talk to HR: it has an audit row and is worth rating."""
    return answer.audit_id is not None and answer.kind in FEEDBACK_KINDS


# --- buttons -----------------------------------------------------------------------------------------


def parse_audit_id(value: object) -> int | None:
    """The audit id a button carries (a string or an int), or ``None``."""
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else None


def rate(
    sessions: sessionmaker[Session], audit_id: int, value: FeedbackValue, *, user_id: str
) -> tuple[Rated, AuditEntryView | None]:
    """👍 / 👎 stored beside the audit row: only the asker's own vote counts (``user_id`` is the
    platform's id of whoever clicked, compared with the one the audit row recorded). Returns the
    outcome and, when recorded, the rated row as it was read (to render the answer again)."""
    with sessions() as session:
        entry = audit.get(audit_id, session=session)
        if entry is None:
            return "unknown", None
        if not same_user(entry.platform_user_id, user_id):
            return "not_yours", None
        audit.record_feedback(audit_id, value, session=session)
        session.commit()
    return "recorded", entry


def same_user(recorded: str | None, user_id: str) -> bool:
    return bool(recorded) and bool(user_id) and str(recorded).lower() == user_id.lower()


@dataclass(frozen=True)
class Handoff:
    """What "Talk to HR" knows: who clicked (their HR record, when found) and the answer's audit row."""

    audit_id: int | None
    person: Person | None
    entry: AuditEntryView | None


def load_handoff(sessions: sessionmaker[Session], audit_id: int | None, *, resolve: Resolve) -> Handoff:
    with sessions() as session:
        person = resolve(session)
        entry = audit.get(audit_id, session=session) if audit_id is not None else None
    return Handoff(audit_id, person, entry)


def handoff_text(
    handoff: Handoff, *, who: str, escape: Callable[[str], str], private_chat: bool, where: str | None
) -> str:
    """The note HR gets: who (``who``: the platform's mention of the user, already safe), their name
    and email from the HR record (passed through ``escape``), which answer, and where it was asked.
    Never the figures: HR opens the audit row (``hrbot audit show N``) for those."""
    text = f"🙋 {who}"
    if handoff.person is not None:
        text += f" ({escape(handoff.person.name)}, {escape(handoff.person.email)})"
    text += " would like to talk to HR"
    if handoff.audit_id is not None:
        text += f" about answer #{handoff.audit_id}"
    if private_chat:
        text += " (asked in a private chat with me: please message them directly)"
    elif where:
        text += f": {where}"
    return text


# --- rendering, platform-free ------------------------------------------------------------------------


def strip_sources(text: str) -> str:
    """The answer text without the plain ``Sources:`` list at its end (surfaces render it as links)."""
    return _SOURCES_TAIL.sub("", text).rstrip()


def citation_label(c: CitedSource) -> str:
    """``n. Title › Section › Subsection, p. N`` (plain text, not yet escaped for any surface)."""
    where = c.title or "Untitled"
    if c.section:
        where += " › " + c.section.replace(" > ", " › ")
    if c.page is not None:
        where += f", p. {c.page}"
    return f"{c.n}. {where}"


def is_web_link(uri: str) -> bool:
    """Whether a chat client can open ``uri`` (http or https; not ``file://``)."""
    return uri.strip().lower().startswith(("http://", "https://"))


def freshness(answer: Answer) -> list[str]:
    """How fresh the answer is, one plain line each: the cited document versions, then every HR
    record the figures came from with its as-of date."""
    lines: list[str] = []
    if answer.citations:
        versions = " · ".join(f"[{c.n}] v{c.version_no}" for c in sorted(answer.citations, key=lambda c: c.n))
        lines.append(f"Document versions: {versions}")
    for f in answer.figures:
        line = f"HR record ({f.source}), as of {f.as_of.isoformat()}" if f.as_of else f"HR record ({f.source})"
        if line not in lines:
            lines.append(line)
    return lines


# --- re-rendering --------------------------------------------------------------------------------------


def answer_from_audit(entry: AuditEntryView) -> Answer:
    """The answer as its audit row stored it (text, numbered sources, document versions), to render
    it again where it was first shown, e.g. when a button updates the message that holds it. The
    row keeps no figures, so the result is never :attr:`~bot.question.Answer.personal`: do not
    decide where to show it from this (the text still holds the figures, with their sources)."""
    citations = [
        CitedSource(
            n=c.n,
            title=c.title,
            section="",
            page=c.page,
            uri=c.uri,
            chunk_id=c.chunk_ids[0] if c.chunk_ids else 0,
            document_id=c.document_id,
            version_id=c.version_id,
            version_no=c.version_no,
            content_hash=c.content_hash,
        )
        for c in entry.citations
    ]
    return Answer(_kind(entry, bool(citations)), entry.answer_text, citations=citations, audit_id=entry.id)


def _kind(entry: AuditEntryView, cited: bool) -> AnswerKind:
    if entry.kind == "abstain":
        return "abstain"
    if entry.kind == "refusal":
        return "refusal"
    if entry.lookups:
        return "both" if cited else "personal"
    return "policy"
