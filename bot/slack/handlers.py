"""One handler per Slack interaction: turn the payload into a :class:`Question`, answer it through
the engine in one database session (committed here, at the edge), render the answer back.

Personal figures never reach a shared conversation: in a channel they go to the asker as an
ephemeral message and the thread gets only a notice. Every handler here runs after Bolt has
acknowledged the request (events are acked automatically; commands and actions call ``ack()`` first).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bot.conversation import (
    ERROR_TEXT,
    HR_NOTIFIED_TEXT,
    NOT_YOURS_TEXT,
    THANKS_TEXT,
    answer_question,
    delivery,
    handoff_text,
    is_follow_up,
    load_handoff,
    parse_audit_id,
    rate,
)
from bot.conversation import with_parent as read_with_parent
from bot.engine import Engine
from bot.question import Answer, Asker, Question
from bot.ratelimit import RATE_LIMITED_TEXT, TTLSet
from bot.slack.identity import SlackIdentity
from bot.slack.render import (
    PRIVATE_NOTICE_TEXT,
    fallback_text,
    render_answer,
    render_private_notice,
    safe_mrkdwn,
    split_blocks,
)
from hr.audit.records import FeedbackValue
from hr.settings import Settings

log = logging.getLogger(__name__)


class Respond(Protocol):
    def __call__(self, **kwargs: Any) -> Any: ...


class Ack(Protocol):
    def __call__(self, **kwargs: Any) -> Any: ...


class Allowance(Protocol):
    def allow(self, user_id: str) -> bool: ...


def _logged(fn: Callable[..., None], *args: Any) -> None:
    try:
        fn(*args)
    except Exception:
        log.exception("posting failed")


class EventLog(Protocol):
    def add(self, event_id: str) -> bool: ...


class ThreadMemory(Protocol):
    def add(self, key: str) -> Any: ...
    def __contains__(self, key: object) -> bool: ...


@dataclass
class Deps:
    """What every handler needs, built once by :func:`bot.slack.app.build_app`."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    identity: SlackIdentity
    limiter: Allowance
    threads: ThreadMemory = field(default_factory=lambda: TTLSet(7 * 24 * 3600.0))
    seen: EventLog | None = None  # event ids delivered to any bot process (None: this process's dedupe only)
    poster: Executor | None = None  # posts replies (None: on the answering thread)

    def post(self, fn: Callable[..., None], /, *args: Any) -> None:
        if self.poster is None:
            fn(*args)
        else:
            self.poster.submit(_logged, fn, *args)


@dataclass(frozen=True)
class Where:
    channel: str
    thread: str
    user: str
    private: bool


# --- messages ----------------------------------------------------------------------------------


def strip_mentions(text: str, bot_user_id: str | None) -> str:
    """The text without the bot's own ``<@BOT>`` mention(s)."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    return " ".join(text.split())


def from_bot(event: dict[str, Any], bot_user_id: str | None) -> bool:
    return bool(
        event.get("bot_id")
        or event.get("subtype") == "bot_message"
        or event.get("bot_profile")
        or (bot_user_id and event.get("user") == bot_user_id)
        or not event.get("user")
    )


def on_mention(event: dict[str, Any], client: WebClient, bot_user_id: str | None, deps: Deps) -> None:
    """``app_mention`` in a channel: answer in the thread."""
    if from_bot(event, bot_user_id):
        return
    where = Where(event["channel"], event.get("thread_ts") or event["ts"], event["user"], private=False)
    text = strip_mentions(event.get("text", ""), bot_user_id)
    if event.get("thread_ts") and event["thread_ts"] != event["ts"]:
        text = with_parent(client, where, text, bot_user_id)
    answer_and_reply(client, deps, text, where)


def on_message(event: dict[str, Any], client: WebClient, bot_user_id: str | None, deps: Deps) -> None:
    """``message``: every DM, and follow-ups in channel threads the bot answered (mentions are
    left to :func:`on_mention`)."""
    if from_bot(event, bot_user_id) or event.get("subtype"):
        return
    text = event.get("text", "")
    thread_ts = event.get("thread_ts")
    is_dm = event.get("channel_type") == "im"
    if not is_dm:
        mentioned = bool(bot_user_id) and f"<@{bot_user_id}" in text
        if not thread_ts or mentioned or thread_key(event["channel"], thread_ts) not in deps.threads:
            return
    where = Where(event["channel"], thread_ts or event["ts"], event["user"], private=is_dm)
    text = strip_mentions(text, bot_user_id)
    if thread_ts and thread_ts != event["ts"]:
        text = with_parent(client, where, text, bot_user_id)
    answer_and_reply(client, deps, text, where)


def with_parent(client: WebClient, where: Where, text: str, bot_user_id: str | None) -> str:
    """A short follow-up ("and in Germany?") read with the thread's first question in front of it."""
    if not is_follow_up(text):
        return text
    try:
        replies = client.conversations_replies(channel=where.channel, ts=where.thread, limit=1)
    except SlackApiError as exc:
        log.warning("conversations.replies failed", extra={"channel": where.channel, "error": _error(exc)})
        return text
    messages = replies.get("messages") or []
    parent = messages[0] if messages else {}
    if from_bot(parent, bot_user_id):
        return text
    return read_with_parent(text, strip_mentions(str(parent.get("text", "")), bot_user_id))


def answer_and_reply(client: WebClient, deps: Deps, text: str, where: Where) -> None:
    if not deps.limiter.allow(where.user):
        _tell(client, where, RATE_LIMITED_TEXT)
        return
    question = Question(
        text, Asker("slack", where.user), channel=where.channel, thread=where.thread, private=where.private
    )
    try:
        answer = ask(deps, question)
    except Exception:
        log.exception("answering failed", extra={"channel": where.channel, "slack_user_id": where.user})
        _tell(client, where, ERROR_TEXT)
        return
    blocks = render_answer(answer, audit_id=answer.audit_id)
    if not where.private:
        # before the reply goes out: a follow-up can arrive as soon as the asker sees it (only channel
        # threads are looked up: every DM is answered, so remembering a DM thread is a wasted write)
        deps.threads.add(thread_key(where.channel, where.thread))
    deps.post(_deliver, client, answer, blocks, where)


def _deliver(client: WebClient, answer: Answer, blocks: list[dict[str, Any]], where: Where) -> None:
    """Post an answer (on the posting pool: network waits do not hold an answering thread)."""
    try:
        if delivery(answer, private_surface=where.private) == "privately":
            for chunk in split_blocks(blocks):
                client.chat_postEphemeral(
                    channel=where.channel,
                    user=where.user,
                    thread_ts=where.thread,
                    text=fallback_text(answer),
                    blocks=chunk,
                )
            client.chat_postMessage(
                channel=where.channel, thread_ts=where.thread, text=PRIVATE_NOTICE_TEXT, blocks=render_private_notice()
            )
        else:
            for chunk in split_blocks(blocks):
                client.chat_postMessage(
                    channel=where.channel, thread_ts=where.thread, text=fallback_text(answer), blocks=chunk
                )
    except SlackApiError as exc:
        log.warning(
            "posting an answer failed",
            extra={"channel": where.channel, "audit_id": answer.audit_id, "error": _error(exc)},
        )


def ask(deps: Deps, question: Question) -> Answer:
    """One unit of work: a Slack user HR has no Slack id for is matched once by profile email; the
    engine then answers (and audits) in a session committed by the shared helper."""
    user = question.asker.user_id
    answer = answer_question(
        deps.engine, deps.sessions, question, resolve=lambda session: deps.identity.resolve(user, session=session)
    )
    log.info(
        "slack answer",
        extra={"kind": answer.kind, "audit_id": answer.audit_id, "latency_ms": answer.latency_ms},
    )
    return answer


def thread_key(channel: str, thread_ts: str) -> str:
    return f"{channel}:{thread_ts}"


def _tell(client: WebClient, where: Where, text: str) -> None:
    """A short notice only the asker sees (in a DM, a plain reply)."""
    if where.private:
        client.chat_postMessage(channel=where.channel, thread_ts=where.thread, text=text)
    else:
        client.chat_postEphemeral(channel=where.channel, user=where.user, thread_ts=where.thread, text=text)


# --- /hr ---------------------------------------------------------------------------------------


def on_command(ack: Ack, command: dict[str, Any], respond: Respond, deps: Deps) -> None:
    """``/hr <question>``: ack at once, then answer ephemerally (only the asker sees it)."""
    text = " ".join(str(command.get("text", "")).split())
    if not text:
        ack(response_type="ephemeral", text="Ask me an HR question, e.g. `/hr how many vacation days do I have left?`")
        return
    ack()
    user = command["user_id"]
    if not deps.limiter.allow(user):
        respond(response_type="ephemeral", text=RATE_LIMITED_TEXT)
        return
    question = Question(text, Asker("slack", user), channel=command.get("channel_id"), private=True)
    try:
        answer = ask(deps, question)
    except Exception:
        log.exception("answering failed", extra={"slack_user_id": user})
        respond(response_type="ephemeral", text=ERROR_TEXT)
        return
    for chunk in split_blocks(render_answer(answer, audit_id=answer.audit_id)):
        respond(response_type="ephemeral", replace_original=False, text=fallback_text(answer), blocks=chunk)


# --- buttons -----------------------------------------------------------------------------------


def on_feedback(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, deps: Deps) -> None:
    """👍 / 👎 on an answer: stored beside the audit row (only the asker's own vote counts)."""
    ack()
    value: FeedbackValue = "up" if action.get("action_id") == "feedback_up" else "down"
    user = body.get("user", {}).get("id", "")
    audit_id = parse_audit_id(action.get("value"))
    if audit_id is None:
        return
    outcome, _ = rate(deps.sessions, audit_id, value, user_id=user)
    if outcome != "recorded":
        respond(response_type="ephemeral", replace_original=False, text=NOT_YOURS_TEXT)
        return
    log.info("slack feedback", extra={"audit_id": audit_id, "value": value})
    respond(response_type="ephemeral", replace_original=False, text=THANKS_TEXT)


def on_talk_to_hr(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond, deps: Deps
) -> None:
    """ "Talk to HR": a note in the HR channel pointing at the conversation (never the figures)."""
    ack()
    user = body.get("user", {}).get("id", "")
    audit_id = parse_audit_id(action.get("value"))
    hr_channel = deps.settings.slack_hr_channel
    if not hr_channel:
        respond(response_type="ephemeral", replace_original=False, text=f"Please contact {deps.settings.hr_contact}.")
        return
    handoff = load_handoff(
        deps.sessions, audit_id, resolve=lambda session: deps.identity.resolve(user, session=session)
    )
    # where the question was asked: the audit row (an ephemeral answer has no permalink of its own)
    entry, container = handoff.entry, body.get("container") or {}
    channel = (entry.channel if entry else None) or container.get("channel_id") or body.get("channel", {}).get("id")
    thread = (entry.thread if entry else None) or container.get("thread_ts") or container.get("message_ts")
    private_chat = bool(channel) and str(channel).startswith("D")
    where = None
    if channel and not private_chat:
        link = _permalink(client, str(channel), thread)
        where = link or f"in <#{channel}>"
    text = handoff_text(handoff, who=f"<@{user}>", escape=safe_mrkdwn, private_chat=private_chat, where=where)
    client.chat_postMessage(channel=hr_channel, text=text)
    respond(response_type="ephemeral", replace_original=False, text=HR_NOTIFIED_TEXT)


def _permalink(client: WebClient, channel: str, ts: str | None) -> str | None:
    if not ts:
        return None
    try:
        link = client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
    except SlackApiError as exc:
        log.warning("chat.getPermalink failed", extra={"channel": channel, "error": _error(exc)})
        return None
    return str(link) if link else None


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "")) if exc.response is not None else str(exc)
