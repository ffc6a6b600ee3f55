"""Slack rendering: citations as numbered links, escaping, defused mentions, Slack's limits, the manifest."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.question import Answer, CitedSource, Figure
from bot.slack.render import (
    fallback_text,
    render_answer,
    render_home,
    render_private_notice,
    safe_mrkdwn,
    split_blocks,
    split_text,
)

ROOT = Path(__file__).resolve().parents[2]
ZWSP = "\u200b"


def cited(n: int, title: str, uri: str, *, section: str = "", page: int | None = None, version: int = 1) -> CitedSource:
    return CitedSource(
        n=n,
        title=title,
        section=section,
        page=page,
        uri=uri,
        chunk_id=100 + n,
        document_id=10 + n,
        version_id=20 + n,
        version_no=version,
        content_hash="0" * 64,
    )


HTTP = cited(1, "Vacation Policy", "https://handbook.example.com/time-off?a=1&b=2", section="Time off > Carry-over")
PDF = cited(2, "Employee Handbook", "file:///srv/policies/handbook.pdf", section="Leave", page=7, version=4)

POLICY_TEXT = (
    "You can carry over up to 5 days into the next year. [1]\n"
    "Carried-over days expire on 31 March. [2]\n\n"
    "Sources:\n"
    f"[1] Vacation Policy › Time off › Carry-over — {HTTP.uri}\n"
    f"[2] Employee Handbook › Leave, p. 7 — {PDF.uri}"
)


def policy_answer(**kw: Any) -> Answer:
    return Answer("policy", POLICY_TEXT, citations=[HTTP, PDF], **kw)


def personal_answer() -> Answer:
    lines = [
        "You have 12.5 days of vacation left for 2026 (25 entitled, 12.5 taken). "
        "Source: HR record (bamboohr), as of 20 Nov 2026.",
        "Vacation: 22 Dec 2026 to 24 Dec 2026, 3 days, approved. Source: HR record (bamboohr), as of 20 Nov 2026.",
    ]
    figures = [
        Figure("Vacation 2026 remaining", "12.5 days", "bamboohr", date(2026, 11, 20), "anna@example.com"),
        Figure(
            "Vacation",
            "Vacation: 22 Dec 2026 to 24 Dec 2026, 3 days, approved",
            "bamboohr",
            date(2026, 11, 20),
            "anna@example.com",
        ),
    ]
    return Answer("personal", "\n".join(lines), figures=figures)


def all_text(blocks: list[dict[str, Any]]) -> str:
    """Every string in the blocks, in order."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                out.append(node["text"])
            for value in node.values():
                if not isinstance(value, str):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(out)


def of_type(blocks: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [b for b in blocks if b["type"] == kind]


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").replace(ZWSP, "")


def slack_tokens(text: str) -> list[str]:
    """The ``<…>`` tokens Slack would parse (links, mentions, broadcasts)."""
    return re.findall(r"<[^<>]*>", text)


# --- citations -------------------------------------------------------------------------------------


def test_citations_become_numbered_links_and_plain_sources_list_is_dropped() -> None:
    blocks = render_answer(policy_answer(), audit_id=1)
    text = all_text(blocks)
    assert "Sources:\n[1]" not in text  # the plain list is replaced...
    assert "<https://handbook.example.com/time-off?a=1&amp;b=2|1. Vacation Policy › Time off › Carry-over>" in text
    # ...and the [n] markers in the answer are kept
    assert "next year. [1]" in text
    assert "31 March. [2]" in text


def test_file_uris_are_shown_as_text_not_links() -> None:
    text = all_text(render_answer(policy_answer(), audit_id=1))
    assert "2. Employee Handbook › Leave, p. 7 — `file:///srv/policies/handbook.pdf`" in text
    assert not any(t.startswith("<file:") for t in slack_tokens(text))
    assert [t for t in slack_tokens(text) if t.startswith("<http")] == [slack_tokens(text)[0]]


def test_only_built_links_are_slack_tokens() -> None:
    evil = cited(1, "Guide <https://evil.example|click> & more", "https://ok.example/x|y>z", section="A > B")
    answer = Answer("policy", "See <https://evil.example|here> [1]\n\nSources:\n[1] Guide", citations=[evil])
    text = all_text(render_answer(answer, audit_id=1))
    tokens = slack_tokens(text)
    assert len(tokens) == 1
    url, label = tokens[0][1:-1].split("|", 1)
    assert url == "https://ok.example/x%7Cy%3Ez"
    assert "|" not in label
    assert "&lt;https://evil.example" in label
    assert "See &lt;https://evil.example|here&gt; [1]" in text


def test_context_shows_each_source_version() -> None:
    blocks = render_answer(policy_answer(), audit_id=1)
    (context,) = of_type(blocks, "context")
    assert "[1] v1 · [2] v4" in all_text([context])


def test_both_keeps_personal_lines_and_policy_with_links() -> None:
    personal = personal_answer()
    both = Answer("both", personal.text + "\n" + POLICY_TEXT, citations=[HTTP, PDF], figures=personal.figures)
    blocks = render_answer(both, audit_id=9)
    text = all_text(blocks)
    assert "You have 12.5 days of vacation left" in text
    assert "<https://handbook.example.com/" in text
    assert "Sources:" not in text
    assert "HR record (bamboohr), as of 2026-11-20" in all_text(of_type(blocks, "context"))


# --- escaping and mentions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["@channel", "@here", "@everyone", "@Channel", "<!channel>", "<!here>", "<!everyone>", "<!subteam^S123|@hr>"],
)
def test_broadcast_mentions_cannot_ping(raw: str) -> None:
    out = safe_mrkdwn(f"Attention {raw} please")
    assert "<" not in out and ">" not in out
    assert not re.search(r"@(channel|here|everyone)\b", out, re.IGNORECASE)
    assert not re.search(r"<!(channel|here|everyone|subteam)", out)
    assert unescape(out) == f"Attention {raw} please"  # nothing else changes


def test_broadcast_in_document_text_and_titles_is_defused() -> None:
    title = cited(1, "Notice to @everyone", "https://x.example/a", section="<!here>")
    answer = Answer("policy", "Tell @here and <!channel> about it. [1]", citations=[title])
    text = all_text(render_answer(answer, audit_id=1)) + fallback_text(answer)
    assert not re.search(r"@(channel|here|everyone)\b", text)
    assert "<!" not in text


def test_escaping() -> None:
    assert safe_mrkdwn("R&D <b> 5 > 3") == "R&amp;D &lt;b&gt; 5 &gt; 3"
    assert safe_mrkdwn("already &amp;") == "already &amp;amp;"  # a literal "&amp;" stays literal
    assert safe_mrkdwn("mail anna@here.example") == "mail anna@here.example"  # emails are untouched
    assert safe_mrkdwn("*bold* [1]") == "*bold* [1]"


def test_user_mentions_from_text_do_not_resolve() -> None:
    answer = Answer("policy", "Ask <@U123ABC> or <#C999>. [1]", citations=[HTTP])
    text = all_text(render_answer(answer, audit_id=1))
    assert "<@" not in text and "<#" not in text


# --- buttons -----------------------------------------------------------------------------------------


def test_feedback_buttons_carry_the_audit_id() -> None:
    blocks = render_answer(policy_answer(), audit_id=4242)
    (actions,) = of_type(blocks, "actions")
    assert blocks[-1] is actions
    by_id = {e["action_id"]: e for e in actions["elements"]}
    assert set(by_id) == {"feedback_up", "feedback_down", "talk_to_hr"}
    assert {e["value"] for e in by_id.values()} == {"4242"}
    assert "👍" in by_id["feedback_up"]["text"]["text"]
    assert "👎" in by_id["feedback_down"]["text"]["text"]


@pytest.mark.parametrize("kind", ["policy", "both", "personal", "abstain"])
def test_rated_kinds_get_buttons(kind: str) -> None:
    answer = Answer(kind, "Some answer.")  # type: ignore[arg-type]
    assert len(of_type(render_answer(answer, audit_id=3), "actions")) == 1


def test_no_buttons_without_audit_id() -> None:
    assert of_type(render_answer(policy_answer(), audit_id=None), "actions") == []


@pytest.mark.parametrize("kind", ["greeting", "help", "refusal"])
def test_greeting_help_refusal_are_just_text(kind: str) -> None:
    answer = Answer(kind, "Hi! Ask me about leave & benefits.")  # type: ignore[arg-type]
    blocks = render_answer(answer, audit_id=5)
    assert [b["type"] for b in blocks] == ["section"]
    assert blocks[0]["text"]["text"] == "Hi! Ask me about leave &amp; benefits."


# --- figures -------------------------------------------------------------------------------------------


def test_no_figures_lost() -> None:
    answer = personal_answer()
    blocks = render_answer(answer, audit_id=1)
    text = unescape(all_text(blocks))
    for figure in answer.figures:
        assert figure.value in text
    context = all_text(of_type(blocks, "context"))
    assert context.count("HR record (bamboohr), as of 2026-11-20") == 1  # one line per record and date
    assert all(f.value in unescape(fallback_text(answer)) for f in answer.figures)


# --- limits ----------------------------------------------------------------------------------------------


def long_answer(chars: int = 10_000) -> Answer:
    sentences: list[str] = []
    i = 0
    while sum(len(s) + 1 for s in sentences) < chars:
        i += 1
        sentences.append(f"Sentence {i} says R&D staff get {i} days & more <for> @here. [{1 + i % 2}]")
    return Answer("policy", "\n".join(sentences) + "\n\nSources:\n[1] a\n[2] b", citations=[HTTP, PDF])


def words(text: str) -> list[str]:
    return text.split()


def test_long_answer_is_split_within_limits_without_losing_text() -> None:
    answer = long_answer()
    messages = split_blocks(render_answer(answer, audit_id=77))
    for message in messages:
        assert 1 <= len(message) <= 50
        json.dumps(message)
        for block in of_type(message, "section"):
            assert len(block["text"]["text"]) <= 3000
            assert not re.search(r"&[a-z]{0,3}$", block["text"]["text"])  # no entity cut in half
    flat = [b for m in messages for b in m]
    body = "\n".join(
        b["text"]["text"] for b in of_type(flat, "section") if not b["text"]["text"].startswith("*Sources")
    )
    assert words(unescape(body)) == words(answer.text.split("\n\nSources:")[0])
    assert of_type(messages[-1], "actions")[0]["elements"][0]["value"] == "77"


def test_split_blocks_splits_an_oversized_section_and_caps_block_count() -> None:
    oversized = {"type": "section", "block_id": "big", "text": {"type": "mrkdwn", "text": "word " * 2000}}
    many = [{"type": "divider"} for _ in range(120)]
    messages = split_blocks([oversized, *many])
    flat = [b for m in messages for b in m]
    sections = of_type(flat, "section")
    assert len(sections) >= 4
    assert all(len(s["text"]["text"]) <= 3000 for s in sections)
    assert [s.get("block_id") for s in sections].count("big") == 1  # block ids stay unique
    assert all(len(m) <= 50 for m in messages)
    assert len(flat) == len(sections) + 120


def test_empty_answer_still_renders_a_valid_section() -> None:
    blocks = render_answer(Answer("abstain", "  "), audit_id=None)
    assert [b["type"] for b in blocks] == ["section"]
    assert blocks[0]["text"]["text"].strip()
    assert split_blocks([]) == []


def test_split_text_prefers_lines_then_sentences() -> None:
    lines = ["a" * 1500, "b" * 1400, "c" * 500]
    assert split_text("\n".join(lines)) == ["a" * 1500 + "\n" + "b" * 1400, "c" * 500]
    one_line = ("This is a sentence. " * 200).strip()  # 4000 chars, no newline
    pieces = split_text(one_line)
    assert all(len(p) <= 3000 for p in pieces)
    assert pieces[0].endswith("sentence.")
    assert " ".join(pieces) == one_line


def test_split_text_never_cuts_inside_a_link() -> None:
    link = "<https://x.example/" + "p" * 100 + "|label here>"
    text = "x" * 2950 + link
    pieces = split_text(text)
    assert pieces == ["x" * 2950, link]


def test_fallback_text_is_safe_and_short() -> None:
    text = fallback_text(long_answer())
    assert len(text) <= 3000
    assert "<" not in text and ">" not in text
    assert not re.search(r"@(here|channel|everyone)\b", text)
    assert fallback_text(Answer("greeting", "Hi!")) == "Hi!"


# --- other views ------------------------------------------------------------------------------------------


def test_private_notice() -> None:
    blocks = render_private_notice()
    assert "privately" in all_text(blocks)
    assert of_type(blocks, "actions") == []


def test_home_view_lists_own_balances_safely() -> None:
    view = render_home(["Vacation: 12.5 days left <@U1> & @channel", "Sick leave: 10 days left"], "Anna Becker")
    assert view["type"] == "home"
    assert 0 < len(view["blocks"]) <= 100
    text = all_text(view["blocks"])
    assert "Anna Becker" in text
    assert "Vacation: 12.5 days left &lt;@U1&gt; &amp; @\u200bchannel" in text
    assert "Sick leave: 10 days left" in text
    assert "/hr" in text
    header = view["blocks"][0]
    assert header["type"] == "header" and len(header["text"]["text"]) <= 150
    assert "no leave balances" in all_text(render_home([], "")["blocks"])


# --- manifest ------------------------------------------------------------------------------------------------


def test_manifest_scopes_events_and_commands() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read",
        "chat:write",
        "commands",
        "im:history",
        "im:read",
        "im:write",
        "channels:history",
        "groups:history",
        "users:read",
        "users:read.email",
    }
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.im",
        "message.channels",
        "message.groups",
        "app_home_opened",
    }
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is False
    url = "https://YOUR-HOST/slack/events"
    assert settings["event_subscriptions"]["request_url"] == url
    assert settings["interactivity"]["request_url"] == url
    features = manifest["features"]
    assert {c["command"]: c["url"] for c in features["slash_commands"]} == {"/hr": url, "/hr-admin": url}
    assert features["bot_user"]["always_online"] is True
    assert features["app_home"]["home_tab_enabled"] is True
    assert features["app_home"]["messages_tab_enabled"] is True
