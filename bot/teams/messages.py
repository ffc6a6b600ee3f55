"""Teams activities in and out: where a message was asked and what it asks, and the activities and
invoke responses the bot sends back. SDK models only; no engine, no database."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote, urlencode

from microsoft_agents.activity import (
    Activity,
    AdaptiveCardInvokeResponse,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    Mention,
)
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.core.connector import ConnectorClientBase

from bot.conversation import ASK_PRIVATELY_TEXT, PRIVATE_NOTICE_TEXT, Handoff, handoff_text
from bot.teams.cards import CARD_CONTENT_TYPE, ERROR_RESPONSE_TYPE, MESSAGE_RESPONSE_TYPE, Card

PRIVATE_NOTICE = "🔒 " + PRIVATE_NOTICE_TEXT
ASK_PRIVATELY = "🔒 " + ASK_PRIVATELY_TEXT
THREAD_MARK = ";messageid="  # a channel thread's conversation id: <channel id>;messageid=<root message id>
CONNECTOR_KEY = "ConnectorClient"  # where the SDK's adapter leaves the turn's connector client

_AT = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Where:
    """Where a Teams activity happened and who sent it, as the (signed) activity says."""

    conversation: str  # the conversation id, without a thread's ";messageid=…"
    thread: str | None  # the root message id of a channel thread
    user: str  # the sender's Entra ID object id (their Teams id in HR records), else their channel id
    member: str  # the sender's channel account id (29:…), for connector calls
    private: bool  # a personal (1:1) chat with the bot
    root: bool  # this message starts its thread

    @property
    def thread_key(self) -> str:
        return f"{self.conversation}|{self.thread}"

    @classmethod
    def of(cls, activity: Activity) -> Where:
        conversation = activity.conversation
        conversation_id = (conversation.id if conversation else None) or ""
        base, _, root = conversation_id.partition(THREAD_MARK)
        sender = activity.from_property
        member = (sender.id if sender else None) or ""
        user = (sender.aad_object_id if sender else None) or member
        private = bool(conversation) and conversation.conversation_type == "personal"
        return cls(base, root or None, user, member, private, root=bool(root) and root == activity.id)


# --- what was asked ----------------------------------------------------------------------------------


def from_bot(activity: Activity) -> bool:
    sender, recipient = activity.from_property, activity.recipient
    if sender is None or not sender.id:
        return True
    return sender.role == "bot" or (recipient is not None and sender.id == recipient.id)


def mentions_bot(activity: Activity) -> bool:
    """Whether the message @mentions the bot (in a channel or group chat, it answers only then)."""
    bot = activity.recipient.id if activity.recipient else None
    return bool(bot) and any(m.mentioned is not None and m.mentioned.id == bot for m in activity.get_mentions())


def question_text(activity: Activity) -> str:
    """The message as a question: the bot's own mention removed, other mentions kept as the names
    they show, HTML (a formatted message) reduced to its text."""
    text = activity.remove_recipient_mention() if activity.recipient else (activity.text or "")
    text = _AT.sub(lambda m: m.group(1), text or "")
    text = html.unescape(_TAG.sub(" ", text))
    return " ".join(text.split())


def delivery_key(activity: Activity) -> str:
    """Identifies one delivery: the connector re-sends an activity (same id) when the bot was slow."""
    conversation = activity.conversation.id if activity.conversation else ""
    return f"{conversation}|{activity.id}"


def team_id(activity: Activity) -> str | None:
    team = _channel_data(activity).get("team")
    return str(team["id"]) if isinstance(team, dict) and team.get("id") else None


def tenant_id(activity: Activity) -> str | None:
    if activity.conversation and activity.conversation.tenant_id:
        return str(activity.conversation.tenant_id)
    tenant = _channel_data(activity).get("tenant")
    return str(tenant["id"]) if isinstance(tenant, dict) and tenant.get("id") else None


def thread_link(activity: Activity, where: Where) -> str | None:
    """A Teams deep link to the channel thread the question was asked in (``None`` elsewhere)."""
    if where.private or not where.thread:
        return None
    params = {"parentMessageId": where.thread}
    tenant = tenant_id(activity)
    if tenant:
        params["tenantId"] = tenant
    team = _channel_data(activity).get("team")
    if isinstance(team, dict) and team.get("aadGroupId"):
        params["groupId"] = str(team["aadGroupId"])
    return (
        f"https://teams.microsoft.com/l/message/{quote(where.conversation, safe='')}/{where.thread}?{urlencode(params)}"
    )


def _channel_data(activity: Activity) -> dict[str, Any]:
    data = activity.channel_data
    if isinstance(data, dict):
        return data
    dumped = getattr(data, "model_dump", None)
    return cast(dict[str, Any], dumped(by_alias=True)) if callable(dumped) else {}


# --- what the bot sends ------------------------------------------------------------------------------


def connector(context: TurnContext) -> ConnectorClientBase:
    """The turn's connector client (with the bot's token), as the SDK's adapter left it."""
    found = context.turn_state.get(CONNECTOR_KEY)
    if found is None:
        raise RuntimeError("this turn has no connector client")
    return cast(ConnectorClientBase, found)


def card_message(card: Card, summary: str | None = None) -> Activity:
    attachment = Attachment(content_type=CARD_CONTENT_TYPE, content=card)
    message = Activity(type="message", attachments=[attachment])
    if summary:
        message.summary = summary
    return message


def personal_chat(activity: Activity, where: Where) -> ConversationParameters:
    """What ``POST /v3/conversations`` needs to open (or find) the bot's 1:1 chat with the sender."""
    tenant = tenant_id(activity)
    bot = activity.recipient
    parameters: dict[str, Any] = {
        "isGroup": False,
        "bot": {"id": bot.id, "name": bot.name} if bot else None,
        "members": [{"id": where.member}],
    }
    if tenant:
        parameters |= {"tenantId": tenant, "channelData": {"tenant": {"id": tenant}}}
    return ConversationParameters.model_validate(parameters)


def addressed(message: Activity, activity: Activity, conversation_id: str) -> Activity:
    """``message`` from the bot, to the sender of ``activity``, in another conversation."""
    message.conversation = ConversationAccount(id=conversation_id, tenant_id=tenant_id(activity))
    if activity.recipient is not None:
        message.from_property = activity.recipient
    if activity.from_property is not None:
        message.recipient = activity.from_property
    message.channel_id = activity.channel_id
    message.service_url = activity.service_url
    return message


def handoff_note(activity: Activity, where: Where, handoff: Handoff, hr_conversation: str) -> Activity:
    """The "Talk to HR" note for the HR conversation, @mentioning the person who clicked."""
    sender = activity.from_property
    name = escape((sender.name if sender else None) or "Someone").replace("<", "").replace(">", "")
    mention_text = f"<at>{name}</at>"
    text = handoff_text(
        handoff, who=mention_text, escape=escape, private_chat=where.private, where=thread_link(activity, where)
    )
    note = Activity(type="message", text=text, text_format="xml")
    if sender is not None and sender.id:
        note.entities = [Mention(mentioned=ChannelAccount(id=sender.id, name=name), text=mention_text)]
    return addressed(note, activity, hr_conversation)


def escape(text: str) -> str:
    """Plain text for a Teams message: ``&``, ``<`` and ``>`` as entities (no markup, no mentions)."""
    return html.escape(text, quote=False)


# --- invoke responses -----------------------------------------------------------------------------------


def card_response(card: Card) -> AdaptiveCardInvokeResponse:
    """Replace the card that held the button with ``card``."""
    return AdaptiveCardInvokeResponse(status_code=200, type=CARD_CONTENT_TYPE, value=card)


def message_response(text: str) -> AdaptiveCardInvokeResponse:
    """Leave the card as it is and show ``text`` to whoever clicked."""
    return AdaptiveCardInvokeResponse(status_code=200, type=MESSAGE_RESPONSE_TYPE, value=text)


def error_response(status: int, code: str, message: str) -> AdaptiveCardInvokeResponse:
    return AdaptiveCardInvokeResponse(
        status_code=status, type=ERROR_RESPONSE_TYPE, value={"code": code, "message": message}
    )
