"""Slack-shaped requests, signed as Slack signs them, for a bot's request URL (``/slack/events``):
``app_mention`` and DM events, slash commands and button clicks (``block_actions``).

By hand (README, "Slack"), against ``hrbot serve slack --http`` and the fake Web API
(``python -m tests.fakes.slack_api``); the signing secret is ``HRBOT_SLACK_SIGNING_SECRET``:

    python -m tests.fakes.slack_events mention "can I carry PTO into next year?"
    python -m tests.fakes.slack_events dm "how much vacation do I have left?"
    python -m tests.fakes.slack_events command /hr "what is the parental leave policy?"
    python -m tests.fakes.slack_events command /hr-admin "status"
    python -m tests.fakes.slack_events click feedback_up --audit-id 7
    python -m tests.fakes.slack_events click talk_to_hr --audit-id 7
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

TEAM = "T0TEST01"
APP = "A0HRBOT1"
BOT = "UBOT0001"  # FakeSlack's bot_user_id
MAYA = "U0MAYA01"  # in the sample company (bot/demo/data/people/employees.csv)
CHANNEL = "C0GENERAL"
FORM = "application/x-www-form-urlencoded"


def new_ts() -> str:
    return f"{int(time.time())}.{uuid.uuid4().int % 1_000_000:06d}"


def dm_channel(user: str) -> str:
    return "D" + user.removeprefix("U")


def event_body(event: dict[str, Any]) -> str:
    return json.dumps(
        {
            "token": "legacy",
            "team_id": TEAM,
            "api_app_id": APP,
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "event": event,
        }
    )


def mention(text: str, *, user: str = MAYA, channel: str = CHANNEL, thread: str | None = None) -> dict[str, Any]:
    """``app_mention``: a channel post (or a reply in thread ``thread``) @mentioning the bot."""
    ts = new_ts()
    event = {"type": "app_mention", "channel": channel, "user": user, "text": f"<@{BOT}> {text}", "ts": ts}
    return event | ({"thread_ts": thread} if thread else {}) | {"event_ts": ts}


def dm(text: str, *, user: str = MAYA, thread: str | None = None) -> dict[str, Any]:
    """``message`` in the user's DM with the bot."""
    ts = new_ts()
    event = {"type": "message", "channel": dm_channel(user), "channel_type": "im", "user": user, "text": text}
    return event | {"ts": ts, "event_ts": ts} | ({"thread_ts": thread} if thread else {})


def command(name: str, text: str, *, user: str = MAYA, channel: str = CHANNEL, response_url: str) -> str:
    """A slash command, form-encoded."""
    form = {
        "command": name,
        "text": text,
        "user_id": user,
        "channel_id": channel,
        "team_id": TEAM,
        "response_url": response_url,
        "trigger_id": "1.2.3",
        "token": "legacy",
    }
    return urlencode(form)


def click(
    action_id: str,
    audit_id: str,
    *,
    user: str = MAYA,
    channel: str,
    ts: str,
    response_url: str,
    ephemeral: bool = False,
) -> str:
    """``block_actions``: a click on one of the answer's buttons (their value is the audit id)."""
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "team": {"id": TEAM},
        "api_app_id": APP,
        "token": "legacy",
        "trigger_id": "1.2.3",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": ephemeral},
        "channel": {"id": channel},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "hrbot_feedback", "value": audit_id, "type": "button"}],
    }
    return urlencode({"payload": json.dumps(payload)})


def post(url: str, body: str, *, secret: str, content_type: str = "application/json") -> tuple[int, str]:
    """POST ``body`` signed with ``secret`` (``X-Slack-Signature``); returns the status and the body."""
    ts = str(int(time.time()))
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body),
    }
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def main() -> None:
    parser = argparse.ArgumentParser(description="Post a signed Slack event, slash command or click to a bot.")
    parser.add_argument("--url", default="http://127.0.0.1:3000/slack/events", help="the bot's request URL")
    parser.add_argument("--slack-url", default="http://127.0.0.1:8080", help="the fake Web API (response URLs)")
    parser.add_argument("--secret", default=os.environ.get("HRBOT_SLACK_SIGNING_SECRET"))
    parser.add_argument("--user", default=MAYA, help="the Slack user id asking (default Maya Chen)")
    sub = parser.add_subparsers(dest="what", required=True)
    p_mention = sub.add_parser("mention", help="@hrbot in a channel")
    p_mention.add_argument("text")
    p_mention.add_argument("--channel", default=CHANNEL)
    p_mention.add_argument("--thread", help="reply in the thread of this message ts")
    p_dm = sub.add_parser("dm", help="a message in the DM with the bot")
    p_dm.add_argument("text")
    p_dm.add_argument("--thread", help="reply in the thread of this message ts")
    p_command = sub.add_parser("command", help="/hr or /hr-admin")
    p_command.add_argument("name", choices=["/hr", "/hr-admin"])
    p_command.add_argument("text", nargs="?", default="")
    p_command.add_argument("--channel", default=CHANNEL)
    p_click = sub.add_parser("click", help="a button on an answer")
    p_click.add_argument("action", choices=["feedback_up", "feedback_down", "talk_to_hr"])
    p_click.add_argument("--audit-id", required=True, help="the audit id the fake printed with the buttons")
    p_click.add_argument("--channel", help="where the answer was (default: the user's DM)")
    p_click.add_argument("--ts", help="the answer's message ts (default: a new one)")
    p_click.add_argument("--ephemeral", action="store_true", help="the answer was ephemeral")
    # --user also after the sub-command: `dm "..." --user U0ALICE01`
    for sub_parser in (p_mention, p_dm, p_command, p_click):
        sub_parser.add_argument("--user", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.secret:
        sys.exit("set HRBOT_SLACK_SIGNING_SECRET (the bot's) or pass --secret")
    respond = f"{args.slack_url.rstrip('/')}/respond/{args.what}-{uuid.uuid4().hex[:8]}"
    content_type = FORM
    if args.what == "mention":
        body = event_body(mention(args.text, user=args.user, channel=args.channel, thread=args.thread))
        content_type = "application/json"
    elif args.what == "dm":
        body = event_body(dm(args.text, user=args.user, thread=args.thread))
        content_type = "application/json"
    elif args.what == "command":
        body = command(args.name, args.text, user=args.user, channel=args.channel, response_url=respond)
    else:
        body = click(
            args.action,
            args.audit_id,
            user=args.user,
            channel=args.channel or dm_channel(args.user),
            ts=args.ts or new_ts(),
            response_url=respond,
            ephemeral=args.ephemeral,
        )
    try:
        status, text = post(args.url, body, secret=args.secret, content_type=content_type)
    except urllib.error.URLError as exc:
        sys.exit(f"cannot reach the bot at {args.url} ({exc.reason}): is `hrbot serve slack --http` running?")
    print(f"{status} {text}".rstrip())


if __name__ == "__main__":
    main()
