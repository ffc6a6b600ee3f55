"""Question in, answer out; knows no chat platform.

``Engine.answer(question, session=...)`` decides what is asked (policy, the asker's own figures,
both, greeting/help), answers each part from its one source (policy search with extractive quoting;
fixed HR lookups bound to the verified asker) and appends one hash-chained audit row. The caller
(a chat handler, a task, the CLI) owns the session and commits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Generic, TypeVar

from sqlalchemy import text as sql
from sqlalchemy.orm import Session, sessionmaker

from bot import personal
from bot.answering.budget import context_sentences
from bot.answering.extractive import compose, query_terms
from bot.answering.llm import LLMGenerator
from bot.answering.models import Citation, Composition
from bot.intent import Intent, classify
from bot.question import Answer, AnswerKind, Asker, CitedSource, Question
from hr.audit import service as audit
from hr.audit.records import AuditCitation, AuditKind, AuditLookup, AuditRecord
from hr.hrdata import store
from hr.hrdata.store import Person
from hr.settings import Settings
from retrieval.pipeline import SearchService

HELP_TEXT = (
    "I answer HR questions from the company's policy documents, with numbered sources you can check, "
    "and show you your own leave figures. Try:\n"
    "• how many vacation days do I have left?\n"
    "• can I carry PTO into next year?\n"
    "• what's parental leave in Germany?\n"
    "• do I have pending requests? / when is the next public holiday?\n"
    'Managers can ask about their direct reports ("how much vacation does Anna have left?").'
)
GREETING_TEXT = "Hi! Ask me about leave, benefits, expenses or any other HR policy, or about your own leave balance."
THREAD_LOOKBACK = 8  # the asker's latest audit rows in the same thread read for its earlier turns
WARM_UP_QUESTIONS = (  # one per path: the policy search + quoting, and the personal figures + holidays
    "how many vacation days do I get?",
    "how many vacation days do I have left, do I have pending requests and when is the next public holiday?",
)
REFUSAL_TEXT = (
    "I can only share your own HR figures (managers: those of their direct reports). Ask me about yours, or ask HR."
)


log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class PolicyResult:
    composition: Composition
    retrieved_chunk_ids: list[int]
    search_ms: float
    context: Composition | None = None  # a wider ranking of sentences for the LLM (HRBOT_GENERATOR=openai)


class GenerationCache(Generic[T]):
    """A small LRU of results valid for one index generation; thread-safe. :meth:`get_or_compute`
    is single-flight: callers asking for a key (of one generation) that is being computed wait for
    that computation instead of repeating it."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(capacity, 0)
        self._items: OrderedDict[Hashable, tuple[int, T]] = OrderedDict()
        self._flights: dict[tuple[Hashable, int], Future[T]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, generation: int) -> T | None:
        with self._lock:
            return self._get(key, generation)

    def _get(self, key: Hashable, generation: int) -> T | None:
        item = self._items.get(key)
        if item is None or item[0] != generation:
            return None
        self._items.move_to_end(key)
        return item[1]

    def _put(self, key: Hashable, generation: int, value: T) -> None:
        self._items[key] = (generation, value)
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def get_or_compute(self, key: Hashable, generation: int, compute: Callable[[], T]) -> tuple[T, bool]:
        """The cached value, or ``compute()``'s, computed once however many threads ask at the same
        time; with whether it was computed by this call. A failed computation is not remembered: the
        callers already waiting for it get its exception, the next caller computes again."""
        with self._lock:
            cached = self._get(key, generation)
            if cached is not None:
                return cached, False
            flight = self._flights.get((key, generation))
            leader = flight is None
            if flight is None:
                flight = self._flights[(key, generation)] = Future()
        if not leader:
            return flight.result(), False
        try:
            value = compute()
        except BaseException as exc:
            with self._lock:
                del self._flights[(key, generation)]
            flight.set_exception(exc)
            raise
        with self._lock:
            self._put(key, generation, value)
            del self._flights[(key, generation)]
        flight.set_result(value)
        return value, True


class Engine:
    def __init__(self, settings: Settings, search: SearchService, *, today: Callable[[], date] = date.today) -> None:
        self.settings = settings
        self.search = search
        self._policies: GenerationCache[PolicyResult] = GenerationCache(settings.answer_cache_size)
        self.today = today
        self.llm = LLMGenerator(settings) if settings.generator == "openai" else None

    def warm_up(self, sessions: sessionmaker[Session] | None = None) -> None:
        """Take the first-use costs out of the first questions a server answers: the embedding model
        (loaded, and one question embedded), the search and quoting code, and with ``sessions`` the
        personal-figures path (its queries compiled, the holiday calendars of every country employees
        work in). Nothing is cached, written or audited. Call before the server accepts requests."""
        started = time.perf_counter()
        self.search.warm_up()
        question = WARM_UP_QUESTIONS[0]
        classify(question)
        self._policy(question, None, (), self.settings.policy_sources or None)
        if sessions is not None:
            with sessions() as session:
                self._warm_up_personal(session)
                session.rollback()
        log.info("engine warmed up", extra={"warm_up_ms": round((time.perf_counter() - started) * 1000)})

    def _warm_up_personal(self, session: Session) -> None:
        question = WARM_UP_QUESTIONS[1]
        intent = classify(question)
        store.employee_by_slack_id("U0WARMUP-NOBODY", session=session)  # the per-event identity lookup
        rows = session.execute(
            sql("SELECT DISTINCT ON (country) id FROM employees WHERE active ORDER BY country, id")
        ).scalars()
        for n, employee_id in enumerate(rows):
            person = store.employee_by_id(employee_id, session=session)
            if person is None:
                continue
            topics = intent.topics if n == 0 else frozenset({"holidays"})  # every country's calendar
            personal.report(person, topics, question, today=self.today(), session=session, own=True)

    # --- the one entry point ---------------------------------------------------------------------

    def answer(self, question: Question, *, session: Session, asker_record: Person | None = None) -> Answer:
        """``asker_record``: the employee the adapter already resolved from this question's
        platform identity (saves a lookup); otherwise the engine identifies the asker itself."""
        started = time.perf_counter()
        asker = asker_record or self.identify(question.asker, session=session)
        intent = classify(question.text)
        thread = self.recent_thread(question, session=session) if not (intent.greeting or intent.help) else []
        answer = self._answer(question, intent, asker, thread, session=session)
        latency = (time.perf_counter() - started) * 1000
        entry = audit.append(self._audit_record(question, asker, answer, latency), session=session)
        return _with(answer, audit_id=entry.id, latency_ms=round(latency, 1))

    def identify(self, asker: Asker, *, session: Session) -> Person | None:
        """The employee the platform vouches for: a Slack or Teams user id, or an email on the CLI."""
        if asker.surface == "slack":
            return store.employee_by_slack_id(asker.user_id, session=session)
        if asker.surface == "teams":
            return store.employee_by_teams_id(asker.user_id, session=session)
        return store.employee_by_email(asker.user_id, session=session)

    def recent_thread(self, question: Question, *, session: Session) -> list[str]:
        """The asker's earlier turns in this chat thread, oldest first, for the LLM prompt (only with
        ``HRBOT_GENERATOR=openai`` and on a surface with threads): their questions, and the answers
        that held no personal figures (an answer may be posted where others read it), without the
        sources list. Read from the audit log, which records every turn with its thread; other people's
        turns are never included. The generator keeps the newest that fit its share of the budget."""
        if self.llm is None or not question.thread:
            return []
        entries = audit.list_entries(
            session=session,
            user=question.asker.user_id,
            limit=THREAD_LOOKBACK,
            conversation=(question.asker.surface, question.channel, question.thread),
        )
        turns: list[str] = []
        for e in reversed(entries):  # oldest first
            turns.append(f"Asker: {' '.join(e.question.split())}")
            if e.kind == "answer" and not e.lookups:
                body = e.answer_text.partition("\n\nSources:\n")[0]
                turns.append(f"You: {' '.join(body.split())}")
        return turns

    # --- policy ----------------------------------------------------------------------------------

    def policy(
        self,
        text: str,
        audience: Person | None = None,
        *,
        countries: Sequence[str] = (),
        sources: Sequence[str] | None = None,
    ) -> PolicyResult:
        """Hybrid search restricted to the audience (their country and entity, plus documents for
        everyone), then extractive quoting; abstains below the calibrated confidence. The same
        question for the same audience is answered from a cache until the index changes."""
        scope = sources if sources is not None else (self.settings.policy_sources or None)
        key = (
            " ".join(text.lower().split()),
            (audience.country, audience.entity, audience.employment_type) if audience else None,
            tuple(countries),
            tuple(scope) if scope is not None else None,
        )
        if not self._policies.capacity:
            return self._policy(text, audience, countries, scope)
        result, computed = self._policies.get_or_compute(
            key, self.search.generation(), lambda: self._policy(text, audience, countries, scope)
        )
        return result if computed else replace(result, search_ms=0.0)

    def _policy(
        self, text: str, audience: Person | None, countries: Sequence[str], sources: Sequence[str] | None
    ) -> PolicyResult:
        response = self.search.search(
            text,
            k=self.settings.answer_passages,
            countries=[audience.country] if audience else (list(countries) or None),
            entities=[audience.entity] if audience and audience.entity else None,
            employment_types=[audience.employment_type] if audience and audience.employment_type else None,
            sources=list(sources) if sources is not None else None,
        )
        terms = query_terms(text, response.analysis)
        named: Sequence[str] = response.analysis.get("countries") or ()
        entities = [audience.entity] if audience and audience.entity else []
        composition = compose(text, response.results, terms=terms, countries=named, entities=entities)
        context = (
            context_sentences(text, response.results, terms=terms, countries=named, entities=entities)
            if self.llm
            else None
        )
        return PolicyResult(composition, [r.chunk_id for r in response.results], response.latency_ms, context)

    # --- the parts ---------------------------------------------------------------------------------

    def _answer(
        self, question: Question, intent: Intent, asker: Person | None, thread: Sequence[str], *, session: Session
    ) -> Answer:
        if intent.greeting:
            return Answer("greeting", GREETING_TEXT)
        if intent.help:
            return Answer("help", HELP_TEXT)
        if not intent.personal:
            return self._policy_answer(question.text, asker, thread)
        if asker is None:
            return Answer(
                "unknown_user",
                "I can't find your HR record, so I can't show personal figures. "
                f"Please contact {self.settings.hr_contact}.",
            )
        subject = self._subject(asker, intent, session=session)
        if subject is None:
            return Answer("refusal", REFUSAL_TEXT)
        found = personal.report(
            subject, intent.topics, question.text, today=self.today(), session=session, own=subject.id == asker.id
        )
        personal_text = "\n".join(found.lines)
        if not intent.policy:
            return Answer("personal", personal_text, figures=found.figures, lookups=found.lookups)
        policy = self.policy(question.text, subject)
        kind: AnswerKind = "both"
        citations: Sequence[Citation] = policy.composition.citations
        generation: dict[str, Any] | None = None
        if policy.composition.abstain:
            policy_text = f"I couldn't find what the policy says about the rest; please ask {self.settings.hr_contact}."
        else:
            own = found.lines if subject.id == asker.id else ()  # only ever the asker's own figures
            policy_text, citations, generation = self._written(question.text, policy, own, thread)
        return Answer(
            kind,
            f"{personal_text}\n{policy_text}",
            citations=_cited(citations),
            figures=found.figures,
            lookups=found.lookups,
            confidence=round(policy.composition.confidence, 3),
            retrieved_chunk_ids=policy.retrieved_chunk_ids,
            generation=generation,
        )

    def _policy_answer(self, text: str, asker: Person | None, thread: Sequence[str] = ()) -> Answer:
        policy = self.policy(text, asker)
        c = policy.composition
        if c.abstain:
            return Answer(
                "abstain",
                "I couldn't find an answer to that in the policy documents, so I won't guess. "
                f"Please contact {self.settings.hr_contact}.",
                confidence=round(c.confidence, 3),
                retrieved_chunk_ids=policy.retrieved_chunk_ids,
            )
        text_, citations, generation = self._written(text, policy, (), thread)
        return Answer(
            "policy",
            text_,
            citations=_cited(citations),
            confidence=round(c.confidence, 3),
            retrieved_chunk_ids=policy.retrieved_chunk_ids,
            generation=generation,
        )

    def _written(
        self, text: str, policy: PolicyResult, own_figures: Sequence[str] = (), thread: Sequence[str] = ()
    ) -> tuple[str, Sequence[Citation], dict[str, Any] | None]:
        """The policy part of an answer: the LLM's (HRBOT_GENERATOR=openai), checked, or the
        extractive quotes when there is no LLM or it failed; with what the audit row records.
        ``thread``: the recent turns (:meth:`recent_thread`), fitted to the prompt budget here."""
        c = policy.composition
        if self.llm is None:
            return c.text, c.citations, None
        turns = self.llm.thread(thread)
        context = self.llm.context(c, policy.context, thread=turns)
        generated = self.llm.generate(text, context, own_figures=own_figures, thread=turns)
        if generated.text is None:
            return c.text, c.citations, generated.audit()
        return generated.text, generated.citations, generated.audit()

    def _subject(self, asker: Person, intent: Intent, *, session: Session) -> Person | None:
        """Whose figures: the asker's, or a direct report the asker (their manager) names. ``None``
        when the question names anybody else: a refusal that says nothing about that person."""
        directory = store.directory_names(session=session) if intent.mentions else frozenset()
        own = {asker.email, asker.name.lower(), *asker.name.lower().split()}
        if asker.slack_user_id:
            own.add(asker.slack_user_id.lower())
        others: list[str] = []
        for text, certain in intent.mentions:
            needle = store.clean_needle(text)
            if needle.lower() in own:
                continue
            if certain or needle.lower() in directory:
                others.append(text)
        if not others:
            return asker
        if len(others) > 1:
            return None
        matches = store.find_direct_report(asker.id, others[0], session=session)
        return matches[0] if len(matches) == 1 else None

    def _audit_record(self, question: Question, asker: Person | None, answer: Answer, latency: float) -> AuditRecord:
        return AuditRecord(
            kind=_audit_kind(answer.kind),
            surface=question.asker.surface,
            question=question.text,
            answer_text=answer.text,
            platform_user_id=question.asker.user_id,
            employee_id=asker.id if asker else None,
            employee_email=asker.email if asker else None,
            channel=question.channel,
            thread=question.thread,
            citations=tuple(
                AuditCitation(
                    n=c.n,
                    document_id=c.document_id,
                    version_id=c.version_id,
                    version_no=c.version_no,
                    content_hash=c.content_hash,
                    chunk_ids=(c.chunk_id,),
                    uri=c.uri,
                    title=c.title,
                    page=c.page,
                )
                for c in answer.citations
            ),
            lookups=tuple(AuditLookup(lk.query, lk.subject_employee_id, lk.subject_email) for lk in answer.lookups),
            latency_ms=round(latency),
            generation=answer.generation,
        )


def _audit_kind(kind: AnswerKind) -> AuditKind:
    if kind in ("refusal", "unknown_user"):
        return "refusal"
    if kind == "abstain":
        return "abstain"
    return "answer"


def _cited(citations: Sequence[Citation]) -> list[CitedSource]:
    return [
        CitedSource(
            n=x.n,
            title=x.title,
            section=x.heading_path,
            page=x.page,
            uri=x.uri,
            chunk_id=x.chunk_id,
            document_id=x.document_id,
            version_id=x.version_id,
            version_no=x.version_no,
            content_hash=x.content_hash,
        )
        for x in citations
    ]


def _with(answer: Answer, *, audit_id: int, latency_ms: float) -> Answer:
    return replace(answer, audit_id=audit_id, latency_ms=latency_ms)
