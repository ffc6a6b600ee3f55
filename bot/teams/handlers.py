"""One handler per Teams interaction: turn the activity into a :class:`Question`, answer it through
the engine (on a thread, in one database session committed at the edge), send the card back.

A message is acknowledged at once (the SDK answers 202 when the handler returns); the answer is sent
afterwards, as a reply to the message, from a proactive turn of its own
(``continue_conversation_with_claims``: a fresh connector client with the bot's token). Buttons
(``adaptiveCard/action`` invokes) are answered inside the request, with the updated card.

Personal figures never reach a channel or group chat: the answer goes to the asker in a 1:1 chat
the bot opens (``POST /v3/conversations``) and the thread gets only a notice; where Teams refuses
to open one (the app is not installed for the user), the thread is told to ask in a personal chat.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

from microsoft_agents.activity import (
    Activity,
    AdaptiveCardInvokeResponse,
    AdaptiveCardInvokeValue,
    ChannelAccount,
    TurnContextProtocol,
)
from microsoft_agents.hosting.core import ActivityHandler, ChannelServiceAdapter, ClaimsIdentity, TurnContext
from sqlalchemy.orm import Session, sessionmaker

from bot.conversation import (
    ERROR_TEXT,
    HR_NOTIFIED_TEXT,
    NOT_YOURS_TEXT,
    THANKS_TEXT,
    answer_from_audit,
    answer_question,
    delivery,
    load_handoff,
    parse_audit_id,
    rate,
    same_user,
    with_parent,
)
from bot.engine import Engine
from bot.question import Answer, Asker, Question
from bot.ratelimit import RATE_LIMITED_TEXT, ThreadMemory, TTLSet
from bot.teams import messages
from bot.teams.cards import VERB_FEEDBACK, VERB_TALK_TO_HR, answer_card, summary, welcome_card
from bot.teams.identity import FetchAddresses, TeamsIdentity, member_addresses
from bot.teams.messages import Where
from hr.audit.records import FeedbackValue
from hr.settings import Settings

log = logging.getLogger(__name__)

GONE_TEXT = "I can't find that answer any more."
T = TypeVar("T")


class Allowance(Protocol):
    def allow(self, user_id: str) -> bool: ...


class EventLog(Protocol):
    def add(self, key: str) -> bool: ...


class Threads(Protocol):
    def add(self, key: str, question: str | None = None) -> None: ...
    def question(self, key: str) -> str | None: ...


@dataclass
class Deps:
    """What every handler needs, built once by :func:`bot.teams.app.build_app`."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    identity: TeamsIdentity
    limiter: Allowance
    executor: ThreadPoolExecutor
    # in memory by default; build_app shares them between processes through PostgreSQL
    seen: EventLog = field(default_factory=lambda: TTLSet(3600.0))
    threads: Threads = field(default_factory=lambda: ThreadMemory(7 * 24 * 3600.0))


class TeamsBot(ActivityHandler):
    """The Agents SDK agent: personal chats, channel mentions, the bot being added, card buttons."""

    def __init__(self, deps: Deps, adapter: ChannelServiceAdapter) -> None:
        self.deps = deps
        self.adapter = adapter
        self._tasks: set[asyncio.Task[None]] = set()

    # --- messages --------------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContextProtocol[Any]) -> None:
        context = cast(TurnContext, turn_context)
        activity = context.activity
        if messages.from_bot(activity):
            return
        if not Where.of(activity).private and not messages.mentions_bot(activity):
            return  # a channel or group chat message for somebody else (with permission to read them all)
        text = messages.question_text(activity)
        if not text:
            return
        if not await self._run(self.deps.seen.add, messages.delivery_key(activity)):
            log.info("dropped a repeated activity", extra={"activity_id": activity.id})
            return
        claims = context.identity or ClaimsIdentity()
        self._spawn(self._answer_later(claims, activity.model_copy(deep=True), text))

    async def _answer_later(self, claims: ClaimsIdentity, activity: Activity, text: str) -> None:
        async def reply(context: TurnContext) -> None:
            await self.reply(context, text)

        try:
            await self.adapter.continue_conversation_with_claims(claims, activity, reply)
        except Exception:
            log.exception("teams reply failed", extra={"activity_id": activity.id})

    async def reply(self, context: TurnContext, text: str) -> None:
        """Answer ``text`` (the message without the bot's mention) as a reply to ``context.activity``."""
        deps = self.deps
        where = Where.of(context.activity)
        if not await self._run(deps.limiter.allow, where.user):
            await context.send_activity(RATE_LIMITED_TEXT)
            return
        if where.thread and where.root:
            await self._run(deps.threads.add, where.thread_key, text)
        elif where.thread:
            text = with_parent(text, await self._run(deps.threads.question, where.thread_key))
        question = Question(
            text, Asker("teams", where.user), channel=where.conversation, thread=where.thread, private=where.private
        )
        fetch = self._fetcher(context, where)
        try:
            answer = await self._run(
                answer_question,
                deps.engine,
                deps.sessions,
                question,
                resolve=lambda session: deps.identity.resolve(where.user, session=session, fetch=fetch),
            )
        except Exception:
            log.exception("answering failed", extra={"conversation": where.conversation, "teams_user_id": where.user})
            await context.send_activity(ERROR_TEXT)
            return
        log.info(
            "teams answer", extra={"kind": answer.kind, "audit_id": answer.audit_id, "latency_ms": answer.latency_ms}
        )
        if delivery(answer, private_surface=where.private) == "here":
            await context.send_activity(messages.card_message(answer_card(answer), summary(answer)))
            return
        sent = await self._send_privately(context, where, answer)
        await context.send_activity(messages.PRIVATE_NOTICE if sent else messages.ASK_PRIVATELY)

    async def _send_privately(self, context: TurnContext, where: Where, answer: Answer) -> bool:
        """The answer in a 1:1 chat with the asker (opened, or found, by the connector)."""
        activity = context.activity
        connector = messages.connector(context)
        try:
            created = await connector.conversations.create_conversation(messages.personal_chat(activity, where))
            card = messages.card_message(answer_card(answer), summary(answer))
            await connector.conversations.send_to_conversation(
                created.id, messages.addressed(card, activity, created.id)
            )
        except Exception as exc:
            log.warning("could not open a personal chat", extra={"teams_user_id": where.user, "error": repr(exc)})
            return False
        return True

    # --- the bot is added --------------------------------------------------------------------------

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContextProtocol[Any]
    ) -> None:
        context = cast(TurnContext, turn_context)
        bot_id = context.activity.recipient.id if context.activity.recipient else None
        if bot_id and any(m.id == bot_id for m in members_added):
            await context.send_activity(messages.card_message(welcome_card(), "Hi, I'm hrbot"))

    # --- buttons -------------------------------------------------------------------------------------

    async def on_adaptive_card_invoke(
        self, turn_context: TurnContextProtocol[Any], invoke_value: AdaptiveCardInvokeValue
    ) -> AdaptiveCardInvokeResponse:
        context = cast(TurnContext, turn_context)
        action = invoke_value.action
        data = dict(action.data or {})
        where = Where.of(context.activity)
        audit_id = parse_audit_id(data.get("audit_id"))
        try:
            if action.verb == VERB_FEEDBACK:
                value: FeedbackValue = "down" if data.get("value") == "down" else "up"
                return await self.on_feedback(where, audit_id, value)
            if action.verb == VERB_TALK_TO_HR:
                return await self.on_talk_to_hr(context, where, audit_id)
        except Exception:
            log.exception("card action failed", extra={"verb": action.verb, "audit_id": audit_id})
            return messages.message_response(ERROR_TEXT)
        return messages.error_response(400, "NotSupported", "This button is not supported.")

    async def on_feedback(self, where: Where, audit_id: int | None, value: FeedbackValue) -> AdaptiveCardInvokeResponse:
        """👍 / 👎: stored beside the audit row (only the asker's own vote counts); the card
        loses its rating buttons and says thanks."""
        if audit_id is None:
            return messages.message_response(GONE_TEXT)
        rated, entry = await self._run(rate, self.deps.sessions, audit_id, value, user_id=where.user)
        if rated == "not_yours":
            return messages.message_response(NOT_YOURS_TEXT)
        if entry is None:
            return messages.message_response(GONE_TEXT)
        log.info("teams feedback", extra={"audit_id": audit_id, "value": value})
        note = ("👍 " if value == "up" else "👎 ") + THANKS_TEXT
        return messages.card_response(answer_card(answer_from_audit(entry), note=note, feedback=False))

    async def on_talk_to_hr(
        self, context: TurnContext, where: Where, audit_id: int | None
    ) -> AdaptiveCardInvokeResponse:
        """ "Talk to HR": a note in the HR conversation naming the asker and the answer (never the
        figures); the asker's card then says what happens next."""
        settings = self.deps.settings
        hr_conversation = settings.teams_hr_conversation_id
        if not hr_conversation:
            return messages.message_response(f"Please contact {settings.hr_contact}.")
        fetch = self._fetcher(context, where)
        handoff = await self._run(
            load_handoff,
            self.deps.sessions,
            audit_id,
            resolve=lambda session: self.deps.identity.resolve(where.user, session=session, fetch=fetch),
        )
        note = messages.handoff_note(context.activity, where, handoff, hr_conversation)
        try:
            await messages.connector(context).conversations.send_to_conversation(hr_conversation, note)
        except Exception as exc:
            log.warning("could not post to the HR conversation", extra={"error": repr(exc)})
            return messages.message_response(f"I couldn't reach HR just now. Please contact {settings.hr_contact}.")
        log.info("teams handoff", extra={"audit_id": audit_id})
        entry = handoff.entry
        if entry is None or not same_user(entry.platform_user_id, where.user):
            return messages.message_response(HR_NOTIFIED_TEXT)
        card = answer_card(
            answer_from_audit(entry), note="🙋 " + HR_NOTIFIED_TEXT, feedback=entry.feedback is None, talk_to_hr=False
        )
        return messages.card_response(card)

    # --- plumbing --------------------------------------------------------------------------------------

    def _fetcher(self, context: TurnContext, where: Where) -> FetchAddresses:
        """A blocking member lookup for :class:`TeamsIdentity` (which runs on an engine thread):
        the connector call itself runs on this event loop, in this turn."""
        loop = asyncio.get_running_loop()
        connector = messages.connector(context)
        conversation = messages.team_id(context.activity) or where.conversation

        async def lookup() -> tuple[str, ...]:
            member = await connector.conversations.get_conversation_member(conversation, where.member)
            return member_addresses(member)

        def fetch() -> tuple[str, ...]:
            return asyncio.run_coroutine_threadsafe(lookup(), loop).result(timeout=10)

        return fetch

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self.deps.executor, functools.partial(fn, *args, **kwargs)
        )

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the answers still being worked on (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def on_turn_error(context: TurnContext, error: Exception) -> None:
    """Replaces the SDK's default, which sends the exception's text to the user."""
    log.error("teams turn failed", exc_info=error, extra={"activity_type": context.activity.type})
    if context.activity.type == "message":
        try:
            await context.send_activity(ERROR_TEXT)
        except Exception:
            log.exception("could not tell the user")
