"""Teams-shaped activities, as the Bot Connector posts them to a bot's ``/api/messages``, and a
client that posts them (optionally with a bearer token).

By hand (README, "Microsoft Teams"), against ``hrbot serve teams`` and the fake connector:

    python -m tests.fakes.teams_activities personal "how many vacation days do I have left?"
    python -m tests.fakes.teams_activities channel "can I carry PTO into next year?"
    python -m tests.fakes.teams_activities click feedback --audit-id 7 --value up
    python -m tests.fakes.teams_activities click talk_to_hr --audit-id 7
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

BOT_ID = "28:7f5b4b1e-2a9c-4d27-9c1b-6f0f1c2a3b4d"
BOT_NAME = "hrbot"
TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
TEAM = "19:team-hr-pilot@thread.tacv2"
CHANNEL = "19:general-channel@thread.tacv2"
_ids = itertools.count(int(time.time() * 1000))


@dataclass(frozen=True)
class TeamsUser:
    member_id: str  # 29:…
    aad_object_id: str
    name: str

    def account(self) -> dict[str, Any]:
        return {"id": self.member_id, "name": self.name, "aadObjectId": self.aad_object_id}


ALICE = TeamsUser("29:alice", "e52fec14-2d75-4a6a-8584-0f4ce50ee168", "Alice Nguyen")


def new_id() -> str:
    return str(next(_ids))


def _base(kind: str, user: TeamsUser, service_url: str, conversation: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "id": extra.pop("id", None) or new_id(),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": user.account(),
        "conversation": {"tenantId": TENANT, **conversation},
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "locale": "en-US",
        "channelData": {"tenant": {"id": TENANT}, **extra.pop("channel_data", {})},
        **extra,
    }


def personal_conversation(user: TeamsUser) -> str:
    return f"a:1:{user.member_id}"


def personal_message(text: str, *, user: TeamsUser = ALICE, service_url: str, **extra: Any) -> dict[str, Any]:
    """A message in the user's personal (1:1) chat with the bot."""
    conversation = {"id": personal_conversation(user), "conversationType": "personal"}
    return _base("message", user, service_url, conversation, text=text, textFormat="plain", **extra)


def channel_mention(
    text: str, *, user: TeamsUser = ALICE, service_url: str, root: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A channel post (``root=None``) or a reply in the thread of post ``root``, @mentioning the bot."""
    activity_id = extra.pop("id", None) or new_id()
    thread = root or activity_id
    mention = f"<at>{BOT_NAME}</at>"
    conversation = {"id": f"{CHANNEL};messageid={thread}", "conversationType": "channel", "isGroup": True}
    return _base(
        "message",
        user,
        service_url,
        conversation,
        id=activity_id,
        text=f"{mention} {text}",
        textFormat="plain",
        entities=[{"type": "mention", "text": mention, "mentioned": {"id": BOT_ID, "name": BOT_NAME}}],
        channel_data={
            "team": {"id": TEAM, "aadGroupId": "b0e5cdb0-95a3-4d42-8d8b-5f2c9a2f3b1e"},
            "channel": {"id": CHANNEL},
        },
        **({"replyToId": root} if root else {}),
        **extra,
    )


def members_added(
    members: list[dict[str, Any]], *, user: TeamsUser = ALICE, service_url: str, personal: bool = True
) -> dict[str, Any]:
    """``conversationUpdate``: ``members`` joined (the bot itself when it was just added)."""
    if personal:
        conversation = {"id": personal_conversation(user), "conversationType": "personal"}
    else:
        conversation = {"id": CHANNEL, "conversationType": "channel", "isGroup": True}
    return _base("conversationUpdate", user, service_url, conversation, membersAdded=members)


def card_action(
    verb: str,
    data: dict[str, Any],
    *,
    user: TeamsUser = ALICE,
    service_url: str,
    conversation_id: str | None = None,
    conversation_type: str = "personal",
    reply_to_id: str | None = None,
) -> dict[str, Any]:
    """``invoke`` ``adaptiveCard/action``: a click on an ``Action.Execute`` button."""
    conversation = {"id": conversation_id or personal_conversation(user), "conversationType": conversation_type}
    return _base(
        "invoke",
        user,
        service_url,
        conversation,
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"},
        replyToId=reply_to_id or new_id(),
    )


def post(url: str, activity: dict[str, Any], *, token: str | None = None, timeout: float = 30) -> tuple[int, Any]:
    """POST ``activity`` as the Bot Connector would; returns the status and the decoded body."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(activity).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _decode(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _decode(exc.read())


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Post a Teams activity to a bot (no token: HRBOT_TEAMS_AUTH_DISABLED)."
    )
    parser.add_argument("--bot", default="http://127.0.0.1:3978/api/messages")
    parser.add_argument("--connector", default="http://127.0.0.1:3979/", help="serviceUrl: where the bot replies")
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("personal").add_argument("text")
    channel = sub.add_parser("channel")
    channel.add_argument("text")
    channel.add_argument("--thread", help="reply in the thread of this root message id")
    sub.add_parser("added")
    click = sub.add_parser("click")
    click.add_argument("verb", choices=["feedback", "talk_to_hr"])
    click.add_argument("--audit-id", required=True)
    click.add_argument("--value", choices=["up", "down"], default="up")
    args = parser.parse_args()
    url = args.connector
    if args.what == "personal":
        activity = personal_message(args.text, service_url=url)
    elif args.what == "channel":
        activity = channel_mention(args.text, service_url=url, root=args.thread)
    elif args.what == "added":
        activity = members_added([{"id": BOT_ID, "name": BOT_NAME}], service_url=url)
    else:
        data = {"audit_id": args.audit_id} | ({"value": args.value} if args.verb == "feedback" else {})
        activity = card_action(args.verb, data, service_url=url)
    status, body = post(args.bot, activity)
    print(f"{status} {json.dumps(body, indent=2, ensure_ascii=False) if body is not None else ''}".rstrip())


if __name__ == "__main__":
    main()
