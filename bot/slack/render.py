"""Render one typed :class:`~bot.question.Answer` as Slack Block Kit, within Slack's limits.

Everything from a document or a question passes through :func:`safe_mrkdwn` (``&``, ``<`` and ``>``
escaped, broadcast mentions defused) before it reaches Slack; the only ``<…>`` tokens in the output
are the citation links built here. No Slack SDK is imported: blocks are plain dicts.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from bot.conversation import citation_label, strip_sources
from bot.question import Answer, CitedSource

Block = dict[str, Any]

MAX_BLOCKS = 50  # per message
MAX_SECTION_TEXT = 3000  # a section's text object
MAX_FALLBACK_TEXT = 3000  # what we allow ourselves for the notification text
MAX_CONTEXT_ELEMENTS = 10
MAX_HEADER_TEXT = 150
MAX_HOME_BLOCKS = 100

ACTION_FEEDBACK_UP = "feedback_up"
ACTION_FEEDBACK_DOWN = "feedback_down"
ACTION_TALK_TO_HR = "talk_to_hr"
FEEDBACK_BLOCK_ID = "hrbot_feedback"

# kinds that get 👍 / 👎 / Talk to HR (greetings, help and refusals are just text)
_FEEDBACK_KINDS = frozenset({"policy", "personal", "both", "abstain"})

_ZWSP = "\u200b"
_BROADCAST = re.compile(r"(?<![\w.+-])@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
# the plain "Sources:" list the engine appends (bot/answering/models.py render()) at the end of the text
_SENTENCE_END = re.compile(r"[.!?…](?:\s*\[\d+\])?[\"')\]]?\s+")

PRIVATE_NOTICE_TEXT = "I've sent you the answer privately, since it includes personal HR figures."


# --- text --------------------------------------------------------------------------------------


def safe_mrkdwn(text: str) -> str:
    """Escape Slack's control characters and defuse broadcast mentions.

    ``&``, ``<`` and ``>`` become entities, so ``<!channel>``, ``<!here>``, ``<!everyone>``,
    ``<!subteam^…>``, ``<@U…>`` and ``<https://…|…>`` from a document or a question show as text; a
    zero-width space after the ``@`` of ``@channel``, ``@here`` and ``@everyone`` keeps them from
    pinging even where Slack links names (``link_names``).
    """
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@" + _ZWSP, escaped)


def citation_line(c: CitedSource) -> str:
    """One numbered source in mrkdwn: a link for http(s), the address as text for anything else
    (Slack does not open ``file://``)."""
    label = safe_mrkdwn(citation_label(c))
    uri = c.uri.strip()
    if uri.lower().startswith(("http://", "https://")):
        return f"<{_link_url(uri)}|{label.replace('|', '¦')}>"
    if uri:
        shown = safe_mrkdwn(uri.replace("`", "'"))
        return f"{label} — `{shown}`"
    return label


def _link_url(uri: str) -> str:
    """A URL that cannot end the ``<url|label>`` token early: spaces, ``<``, ``>`` and ``|``
    percent-encoded, ``&`` as the entity Slack expects."""
    encoded = quote(uri, safe=":/?#[]@!$&'()*+,;=%~-._")
    return encoded.replace("&", "&amp;")


def split_text(text: str, limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Cut mrkdwn into pieces of at most ``limit`` characters: at line ends first, then sentence
    ends, then spaces, and never inside an entity (``&amp;``) or a ``<…>`` link."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = _cut_point(rest, limit)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if head:
            pieces.append(head)
    if rest.strip():
        pieces.append(rest)
    return pieces


def _cut_point(text: str, limit: int) -> int:
    window = text[: limit + 1]
    newline = window.rfind("\n")
    if newline > limit // 3:
        return _outside_tokens(text, newline)
    ends = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() <= limit]
    if ends and ends[-1] > limit // 3:
        return _outside_tokens(text, ends[-1])
    space = window.rfind(" ")
    if space > limit // 3:
        return _outside_tokens(text, space)
    return _outside_tokens(text, limit)


def _outside_tokens(text: str, cut: int) -> int:
    """Move ``cut`` back so that it does not fall inside ``<…>`` or ``&…;``."""
    opening = text.rfind("<", 0, cut)
    if opening > 0 and text.find(">", opening, cut) == -1:
        cut = opening
    amp = text.rfind("&", max(0, cut - 8), cut)
    if amp > 0 and text.find(";", amp, cut) == -1:
        cut = amp
    return max(cut, 1)


# --- blocks --------------------------------------------------------------------------------------


def mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def sections(text: str) -> list[Block]:
    """One or more section blocks holding ``text`` (already mrkdwn), each within Slack's limit."""
    return [{"type": "section", "text": mrkdwn(piece)} for piece in split_text(text)]


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    out: Block = {"type": "button", "text": plain(text), "action_id": action_id, "value": value}
    if style:
        out["style"] = style
    return out


def render_answer(answer: Answer, *, audit_id: int | None) -> list[Block]:
    """The answer in mrkdwn with its ``[n]`` markers, its sources as numbered links, a context line
    with each source's version and the HR records' dates, then 👍 / 👎 / Talk to HR (carrying
    ``audit_id``) for answers that have an audit row and are worth rating. May exceed 50 blocks
    for a very long answer: post it with :func:`split_blocks`."""
    body = strip_sources(answer.text) if answer.citations else answer.text
    blocks = sections(safe_mrkdwn(body)) or sections("_(no answer text)_")
    if answer.citations:
        listing = "\n".join(citation_line(c) for c in sorted(answer.citations, key=lambda c: c.n))
        blocks += sections("*Sources*\n" + listing)
    context = _context(answer)
    if context:
        blocks.append({"type": "context", "elements": context})
    if audit_id is not None and answer.kind in _FEEDBACK_KINDS:
        blocks.append(feedback_actions(audit_id))
    return blocks


def _context(answer: Answer) -> list[dict[str, str]]:
    elements: list[dict[str, str]] = []
    if answer.citations:
        versions = " · ".join(f"[{c.n}] v{c.version_no}" for c in sorted(answer.citations, key=lambda c: c.n))
        elements.append(mrkdwn(safe_mrkdwn(f"Document versions: {versions}")))
    seen: set[str] = set()
    for f in answer.figures:
        line = f"HR record ({f.source}), as of {f.as_of.isoformat()}" if f.as_of else f"HR record ({f.source})"
        if line not in seen:
            seen.add(line)
            elements.append(mrkdwn(safe_mrkdwn(line)))
    if len(elements) > MAX_CONTEXT_ELEMENTS:
        kept = elements[: MAX_CONTEXT_ELEMENTS - 1]
        merged = " · ".join(e["text"] for e in elements[MAX_CONTEXT_ELEMENTS - 1 :])
        elements = [*kept, mrkdwn(split_text(merged)[0])]
    return [e for e in elements if len(e["text"]) <= MAX_SECTION_TEXT]


def feedback_actions(audit_id: int) -> Block:
    value = str(audit_id)
    return {
        "type": "actions",
        "block_id": FEEDBACK_BLOCK_ID,
        "elements": [
            button("👍", ACTION_FEEDBACK_UP, value),
            button("👎", ACTION_FEEDBACK_DOWN, value),
            button("Talk to HR", ACTION_TALK_TO_HR, value),
        ],
    }


def split_blocks(blocks: list[Block]) -> list[list[Block]]:
    """Slack's limits: every section's text at most 3000 characters (cut at line and sentence
    ends), at most 50 blocks a message. Returns the messages to post, in order."""
    flat: list[Block] = []
    for block in blocks:
        text = block.get("text")
        if block.get("type") == "section" and isinstance(text, dict) and len(text.get("text", "")) > MAX_SECTION_TEXT:
            for piece in split_text(text["text"]):
                flat.append({**block, "text": {**text, "text": piece}})
                block = {k: v for k, v in block.items() if k not in ("block_id", "accessory")}
        else:
            flat.append(block)
    return [flat[i : i + MAX_BLOCKS] for i in range(0, len(flat), MAX_BLOCKS)]


def fallback_text(answer: Answer) -> str:
    """The ``text`` of chat.postMessage (notifications, screen readers): safe and at most 3000
    characters, cut at a line or sentence end."""
    text = safe_mrkdwn(answer.text.strip())
    if len(text) <= MAX_FALLBACK_TEXT:
        return text
    return split_text(text, MAX_FALLBACK_TEXT - 1)[0] + "…"


# --- other surfaces ------------------------------------------------------------------------------


def render_private_notice() -> list[Block]:
    """The public reply when the answer holds personal figures and went to the asker privately."""
    return [{"type": "section", "text": mrkdwn(":lock: " + PRIVATE_NOTICE_TEXT)}]


def render_home(balances_lines: list[str], name: str) -> dict[str, Any]:
    """The App Home tab: the viewer's own leave balances (only the viewer sees their Home) and how
    to ask."""
    greeting = f"Hi {name.strip()}" if name.strip() else "Hi"
    blocks: list[Block] = [
        {"type": "header", "text": plain(_clip(greeting, MAX_HEADER_TEXT))},
        {"type": "section", "text": mrkdwn("*Your leave balances*")},
    ]
    if balances_lines:
        blocks += sections("\n".join("• " + safe_mrkdwn(line) for line in balances_lines))
    else:
        blocks.append({"type": "section", "text": mrkdwn("I found no leave balances for you in the HR records.")})
    blocks += [
        {"type": "divider"},
        {"type": "section", "text": mrkdwn("*How to ask*")},
        {
            "type": "section",
            "text": mrkdwn(
                "• Send me a direct message, e.g. _how many vacation days do I have left?_\n"
                "• Mention me in a channel, e.g. _@hrbot can I carry PTO into next year?_\n"
                "• Use `/hr your question` anywhere\n"
                "Policy answers come with numbered sources you can open and check."
            ),
        },
        {
            "type": "context",
            "elements": [mrkdwn("Your own figures are shown only to you: in this tab, a DM or a reply only you see.")],
        },
    ]
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
