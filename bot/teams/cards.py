"""Render one typed :class:`~bot.question.Answer` as an Adaptive Card for Teams (plain dicts, no SDK).

The answer text keeps its ``[n]`` markers; its sources become a numbered list of links (``file://``
and other addresses Teams cannot open are shown as text), then a subtle line per document version
and HR record (how fresh the answer is), then 👍 / 👎 / Talk to HR as ``Action.Execute`` buttons
(Universal Actions: Teams sends an ``adaptiveCard/action`` invoke and shows the card the bot
answers with). Text from documents cannot add links of its own: ``](`` is broken up.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bot.conversation import citation_label, freshness, is_web_link, strip_sources, wants_feedback
from bot.engine import HELP_TEXT
from bot.question import Answer, CitedSource

Card = dict[str, Any]

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MESSAGE_RESPONSE_TYPE = "application/vnd.microsoft.activity.message"
ERROR_RESPONSE_TYPE = "application/vnd.microsoft.error"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.4"  # Action.Execute (Universal Actions) needs 1.4

VERB_FEEDBACK = "feedback"
VERB_TALK_TO_HR = "talk_to_hr"

MAX_TEXT = 12_000  # one TextBlock; a whole card must stay under Teams' ~28 KB message limit
MAX_SUMMARY = 200
_ZWSP = "\u200b"


# --- text ------------------------------------------------------------------------------------------


def safe_text(text: str) -> str:
    """Card markdown from a document or a question: no links but the ones built here (``[x](y)``
    shows as text), no ``<at>`` mention markup, clipped to :data:`MAX_TEXT`."""
    cleaned = text.replace("](", "]" + _ZWSP + "(").replace("<at>", "<" + _ZWSP + "at>")
    return cleaned if len(cleaned) <= MAX_TEXT else cleaned[: MAX_TEXT - 1] + "…"


def _link_url(uri: str) -> str:
    """A URL that cannot end the ``(url)`` of a markdown link early: spaces and parentheses encoded."""
    return quote(uri.strip(), safe=":/?#[]@!$&'*+,;=%~-._")


def citation_line(c: CitedSource) -> str:
    """One numbered source: a markdown link for http(s), the address as text for anything else."""
    label = citation_label(c).removeprefix(f"{c.n}. ")
    shown = safe_text(label).replace("[", "(").replace("]", ")")
    if is_web_link(c.uri):
        return f"{c.n}. [{shown}]({_link_url(c.uri)})"
    if c.uri.strip():
        return f"{c.n}. {shown} — {safe_text(c.uri.strip())}"
    return f"{c.n}. {shown}"


def summary(answer: Answer) -> str:
    """The notification preview of a card message (plain text, short)."""
    text = " ".join(strip_sources(answer.text).split())
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


# --- cards -------------------------------------------------------------------------------------------


def text_block(text: str, **extra: Any) -> Card:
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


def card(body: list[Card], actions: list[Card] | None = None) -> Card:
    out: Card = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body}
    if actions:
        out["actions"] = actions
    out["msteams"] = {"width": "Full"}
    return out


def answer_card(answer: Answer, *, note: str | None = None, feedback: bool = True, talk_to_hr: bool = True) -> Card:
    """The answer, its numbered sources, how fresh it is, then ``note`` (what a button did) and the
    buttons: 👍 / 👎 while ``feedback``, Talk to HR while ``talk_to_hr``, and only for answers with an
    audit row that are worth rating."""
    body_text = strip_sources(answer.text) if answer.citations else answer.text
    body = [text_block(safe_text(body_text) or "_(no answer text)_")]
    if answer.citations:
        body.append(text_block("**Sources**", spacing="Medium"))
        body += [text_block(citation_line(c), spacing="None") for c in sorted(answer.citations, key=lambda c: c.n)]
    body += [text_block(safe_text(line), isSubtle=True, size="Small", spacing="Small") for line in freshness(answer)]
    if note:
        body.append(text_block(note, weight="Bolder", color="Good", spacing="Medium"))
    actions = feedback_actions(answer.audit_id, feedback=feedback, talk_to_hr=talk_to_hr)
    return card(body, actions if wants_feedback(answer) else None)


def feedback_actions(audit_id: int | None, *, feedback: bool = True, talk_to_hr: bool = True) -> list[Card]:
    value = str(audit_id)
    actions: list[Card] = []
    if feedback:
        actions.append(execute("👍", VERB_FEEDBACK, {"audit_id": value, "value": "up"}, tooltip="This answer helped"))
        actions.append(
            execute("👎", VERB_FEEDBACK, {"audit_id": value, "value": "down"}, tooltip="This answer did not help")
        )
    if talk_to_hr:
        actions.append(execute("Talk to HR", VERB_TALK_TO_HR, {"audit_id": value}, tooltip="Ask a person in HR"))
    return actions


def execute(title: str, verb: str, data: dict[str, str], *, tooltip: str) -> Card:
    return {"type": "Action.Execute", "title": title, "verb": verb, "data": data, "tooltip": tooltip}


def welcome_card(app_name: str = "hrbot") -> Card:
    """Sent when the bot is added to a personal chat, a team or a group chat."""
    return card(
        [
            text_block(f"Hi, I'm {app_name}", size="Large", weight="Bolder"),
            text_block(HELP_TEXT.replace("\n", "\n\n")),  # a line break in card markdown
            text_block(
                "In a channel, mention me (@" + app_name + ") in a post. Your own figures are only ever "
                "shown in our personal chat.",
                isSubtle=True,
                size="Small",
            ),
        ]
    )


def notice_card(text: str) -> Card:
    return card([text_block(text)])


def actions_of(card_: Card) -> list[Card]:
    """The ``Action.Execute`` buttons of a card (for tests and tools)."""
    return [a for a in card_.get("actions", []) if a.get("type") == "Action.Execute"]
