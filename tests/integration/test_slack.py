"""The Slack bot end to end: the real Bolt app served over loopback HTTP, requests signed exactly as
Slack signs them, the real engine on the sample company, and a fake Slack Web API recording replies."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from bot.engine import Engine
from bot.ratelimit import RATE_LIMITED_TEXT, RateLimiter, TTLSet
from bot.slack.app import build_app, make_server
from bot.slack.handlers import strip_mentions
from bot.slack.render import PRIVATE_NOTICE_TEXT
from hr.audit import service as audit
from hr.db import make_sessionmaker, shared_engine
from hr.settings import Settings
from retrieval.pipeline import SearchService
from tests.fakes.slack_api import Call, FakeSlack, fake_slack

PEOPLE = Path(__file__).resolve().parents[2] / "bot" / "demo" / "data" / "people"
TODAY = date(2026, 11, 21)
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT = "UBOT0001"
ALICE = "U0ALICE01"


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    users = {
        ALICE: {"id": ALICE, "profile": {"email": "alice.nguyen@brightwave.example"}},
        # a second Slack account whose profile email is Alice's: it must not become Alice
        "U0IMPOSTOR": {"id": "U0IMPOSTOR", "profile": {"email": "alice.nguyen@brightwave.example"}},
        # Isla's HR record has no Slack id (cleared below): her profile email matches her once
        "U0ISLANEW": {"id": "U0ISLANEW", "profile": {"email": "isla.murray@brightwave.example"}},
    }
    with fake_slack(bot_user_id=BOT, users=users) as fake:
        yield fake


@pytest.fixture(scope="module")
def settings(company_url: str, slack: FakeSlack) -> Settings:
    return Settings(
        database_url=company_url,
        policy_sources=["brightwave"],
        hr_contact="HR at hr@brightwave.example",
        slack_bot_token=slack.token,
        slack_signing_secret=SECRET,
        slack_api_url=slack.api_url,
        slack_hr_channel="C0HR0001",
        slack_rate_limit_per_minute=100,
    )


@pytest.fixture(scope="module")
def engine(settings: Settings, company_url: str) -> Engine:
    return Engine(settings, SearchService(settings, company_url), today=lambda: TODAY)


@contextmanager
def serving(settings: Settings, engine: Engine, company_url: str) -> Iterator[str]:
    """The real Bolt app behind a real HTTP server on loopback; yields its request URL."""
    app = build_app(settings, engine, make_sessionmaker(shared_engine(company_url)))
    server = make_server(app, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/slack/events"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def bot_url(settings: Settings, engine: Engine, company_url: str) -> Iterator[str]:
    with serving(settings, engine, company_url) as url:
        yield url


@pytest.fixture(autouse=True)
def _clean(slack: FakeSlack) -> None:
    slack.clear()


# --- helpers -------------------------------------------------------------------------------------


def post(
    url: str,
    body: str,
    *,
    content_type: str = "application/json",
    signed: bool = True,
    timestamp: int | None = None,
    tamper: bool = False,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    sent = {"Content-Type": content_type, **(headers or {})}
    if signed:
        sent["X-Slack-Request-Timestamp"] = ts
        sent["X-Slack-Signature"] = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
    data = (body + (" " if tamper else "")).encode()
    request = urllib.request.Request(url, data=data, headers=sent, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def event_body(event: dict[str, Any], event_id: str | None = None) -> str:
    return json.dumps(
        {
            "token": "legacy",
            "team_id": "T0TEST01",
            "api_app_id": "A0HRBOT1",
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "event": event,
        }
    )


def new_ts() -> str:
    return f"{int(time.time())}.{uuid.uuid4().int % 1_000_000:06d}"


def dm(text_: str, user: str = ALICE, **extra: Any) -> dict[str, Any]:
    ts = new_ts()
    return {"type": "message", "channel": "D0ALICE01", "channel_type": "im", "user": user, "text": text_, "ts": ts} | {
        "event_ts": ts,
        **extra,
    }


def mention(text_: str, user: str = ALICE, channel: str = "C0GENERAL") -> dict[str, Any]:
    ts = new_ts()
    return {"type": "app_mention", "channel": channel, "user": user, "text": f"<@{BOT}> {text_}", "ts": ts}


def shown(call: Call) -> str:
    """Everything a message shows: its text and its blocks."""
    return json.dumps({"text": call.params.get("text"), "blocks": call.params.get("blocks")}, ensure_ascii=False)


def audit_id_of(call: Call) -> int:
    blocks = call.params["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    actions = next(b for b in blocks if b["type"] == "actions")
    return int(actions["elements"][0]["value"])


def quiet(slack: FakeSlack, seconds: float = 1.5) -> list[Call]:
    """The replies (posts of any kind) made within ``seconds``."""
    time.sleep(seconds)
    return [c for c in slack.calls if c.method.startswith("chat.") or c.method == "response_url"]


# --- tests ---------------------------------------------------------------------------------------


def test_url_verification(bot_url: str) -> None:
    status, body = post(bot_url, json.dumps({"type": "url_verification", "challenge": "ch4llenge", "token": "x"}))
    assert status == 200
    assert json.loads(body) == {"challenge": "ch4llenge"}


@pytest.mark.parametrize("how", ["unsigned", "stale", "tampered"])
def test_unverified_requests_are_rejected_and_not_processed(bot_url: str, slack: FakeSlack, how: str) -> None:
    body = event_body(dm("how much vacation do I have left?"))
    status, _ = post(
        bot_url,
        body,
        signed=how != "unsigned",
        timestamp=int(time.time()) - 6 * 60 if how == "stale" else None,
        tamper=how == "tampered",
    )
    assert status == 401
    assert quiet(slack) == []


def test_dm_balance_question_gets_own_figure_in_thread(bot_url: str, slack: FakeSlack) -> None:
    event = dm("how much vacation do I have left?")
    started = time.monotonic()
    status, _ = post(bot_url, event_body(event))
    assert status == 200 and time.monotonic() - started < 3  # acknowledged before the engine answers
    [reply] = slack.wait_for("chat.postMessage")
    assert reply.params["channel"] == "D0ALICE01" and reply.params["thread_ts"] == event["ts"]
    assert "15 days" in shown(reply)
    assert reply.token == slack.token
    assert not slack.of("chat.postEphemeral")


def test_channel_mention_sends_figures_privately(bot_url: str, slack: FakeSlack) -> None:
    event = mention("how much vacation do I have left?")
    assert post(bot_url, event_body(event))[0] == 200
    [private] = slack.wait_for("chat.postEphemeral")
    [public] = slack.wait_for("chat.postMessage")
    assert private.params["user"] == ALICE and private.params["channel"] == "C0GENERAL"
    assert "15 days" in shown(private)
    assert public.params["thread_ts"] == event["ts"]
    assert PRIVATE_NOTICE_TEXT in shown(public)
    assert "15" not in shown(public) and "vacation left" not in shown(public)


def test_policy_question_in_channel_gets_threaded_cited_answer(bot_url: str, slack: FakeSlack) -> None:
    event = mention("can I carry PTO over into next year?")
    assert post(bot_url, event_body(event))[0] == 200
    [reply] = slack.wait_for("chat.postMessage")
    assert reply.params["thread_ts"] == event["ts"]
    text_ = shown(reply)
    assert "*Sources*" in text_ and "[1]" in text_
    assert not slack.of("chat.postEphemeral")
    assert audit_id_of(reply) > 0


def test_short_follow_up_in_answered_thread_uses_the_parent_question(bot_url: str, slack: FakeSlack) -> None:
    parent = mention("how many vacation days do I get?")
    assert post(bot_url, event_body(parent))[0] == 200
    slack.wait_for("chat.postMessage")
    slack.replies[("C0GENERAL", parent["ts"])] = [parent]
    follow = {
        "type": "message",
        "channel": "C0GENERAL",
        "channel_type": "channel",
        "user": ALICE,
        "text": "and in Germany?",
        "ts": new_ts(),
        "thread_ts": parent["ts"],
    }
    assert post(bot_url, event_body(follow))[0] == 200
    replies = slack.wait_for("chat.postMessage", 2)
    assert replies[1].params["thread_ts"] == parent["ts"]
    assert slack.of("conversations.replies")
    assert "28 working days" in shown(replies[1])  # the German handbook


def test_retried_event_is_answered_once(bot_url: str, slack: FakeSlack) -> None:
    body = event_body(dm("what is the parental leave policy?"))
    assert post(bot_url, body)[0] == 200
    assert post(bot_url, body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})[0] == 200
    slack.wait_for("chat.postMessage")
    assert len([c for c in quiet(slack, 2.0) if c.method == "chat.postMessage"]) == 1


def action_payload(
    slack: FakeSlack, action_id: str, audit_id: int, *, user: str, channel: str, ts: str, ephemeral: bool = False
) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "team": {"id": "T0TEST01"},
        "api_app_id": "A0HRBOT1",
        "token": "legacy",
        "trigger_id": "1.2.3",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": ephemeral},
        "channel": {"id": channel},
        "response_url": slack.response_url(action_id),
        "actions": [{"action_id": action_id, "block_id": "hrbot_feedback", "value": str(audit_id), "type": "button"}],
    }
    return urlencode({"payload": json.dumps(payload)})


FORM = "application/x-www-form-urlencoded"


def test_feedback_button_is_stored_on_the_audit_row(bot_url: str, slack: FakeSlack, company_url: str) -> None:
    event = dm("can I carry PTO over into next year?")
    assert post(bot_url, event_body(event))[0] == 200
    [reply] = slack.wait_for("chat.postMessage")
    audit_id = audit_id_of(reply)

    # somebody else's vote does not count
    body = action_payload(slack, "feedback_down", audit_id, user="U0MAYA01", channel="D0ALICE01", ts=event["ts"])
    assert post(bot_url, body, content_type=FORM)[0] == 200
    [refused] = slack.wait_for("response_url")
    assert "Only the person who asked" in refused.params["text"]

    body = action_payload(slack, "feedback_up", audit_id, user=ALICE, channel="D0ALICE01", ts=event["ts"])
    assert post(bot_url, body, content_type=FORM)[0] == 200
    thanks = slack.wait_for("response_url", 2)[1]
    assert thanks.params["response_type"] == "ephemeral" and thanks.params["text"] == "Thanks for the feedback!"
    with sessionmaker(shared_engine(company_url))() as session:
        entry = audit.get(audit_id, session=session)
    assert entry is not None and entry.feedback is not None and entry.feedback.value == "up"


def test_talk_to_hr_notifies_the_hr_channel_without_figures(bot_url: str, slack: FakeSlack) -> None:
    event = mention("how much vacation do I have left?")
    assert post(bot_url, event_body(event))[0] == 200
    [private] = slack.wait_for("chat.postEphemeral")
    slack.wait_for("chat.postMessage")
    body = action_payload(
        slack, "talk_to_hr", audit_id_of(private), user=ALICE, channel="C0GENERAL", ts="1.000001", ephemeral=True
    )
    assert post(bot_url, body, content_type=FORM)[0] == 200
    [ok] = slack.wait_for("response_url")
    assert ok.params["response_type"] == "ephemeral" and "HR has been notified" in ok.params["text"]
    note = slack.wait_for("chat.postMessage", 2)[1]
    assert note.params["channel"] == "C0HR0001"
    assert f"<@{ALICE}>" in note.params["text"] and "Alice Nguyen" in note.params["text"]
    permalink = f"https://test.slack.com/archives/C0GENERAL/p{event['ts'].replace('.', '')}"
    assert permalink in note.params["text"]  # the thread, found through the audit row
    assert "15" not in note.params["text"].split("#", 1)[0]


def test_rate_limited_web_api_call_is_retried(bot_url: str, slack: FakeSlack) -> None:
    slack.rate_limit("chat.postMessage", retry_after=1)
    assert post(bot_url, event_body(dm("when is the next public holiday?")))[0] == 200
    first, second = slack.wait_for("chat.postMessage", 2)
    assert first.params["channel"] == second.params["channel"] == "D0ALICE01"


def test_slash_command_answers_ephemerally(bot_url: str, slack: FakeSlack) -> None:
    form = {
        "command": "/hr",
        "text": "how much vacation do I have left?",
        "user_id": ALICE,
        "channel_id": "C0GENERAL",
        "team_id": "T0TEST01",
        "response_url": slack.response_url("command"),
        "trigger_id": "1.2.3",
        "token": "legacy",
    }
    started = time.monotonic()
    status, _ = post(bot_url, urlencode(form), content_type=FORM)
    assert status == 200 and time.monotonic() - started < 3
    [answer] = slack.wait_for("response_url")
    assert answer.params["response_type"] == "ephemeral" and "15 days" in shown(answer)
    assert not slack.of("chat.postMessage")


def test_bot_messages_are_ignored(bot_url: str, slack: FakeSlack) -> None:
    for event in (
        dm("how much vacation do I have left?", bot_id="B0OTHER01"),
        dm("how much vacation do I have left?", subtype="bot_message"),
        dm("how much vacation do I have left?", user=BOT),
    ):
        assert post(bot_url, event_body(event))[0] == 200
    assert quiet(slack) == []


def test_a_slack_user_is_matched_once_by_profile_email(bot_url: str, slack: FakeSlack, company_url: str) -> None:
    with sessionmaker(shared_engine(company_url))() as s:
        s.execute(text("UPDATE employees SET slack_user_id = NULL WHERE email = 'isla.murray@brightwave.example'"))
        s.commit()
    assert post(bot_url, event_body(dm("how much vacation do I have left?", user="U0ISLANEW")))[0] == 200
    [reply] = slack.wait_for("chat.postMessage")
    assert "11 days of vacation left" in shown(reply)  # 25 entitled - 14 taken
    with sessionmaker(shared_engine(company_url))() as s:
        stored = s.execute(
            text("SELECT slack_user_id FROM employees WHERE email = 'isla.murray@brightwave.example'")
        ).scalar_one()
    assert stored == "U0ISLANEW"


def test_a_matching_email_does_not_take_over_a_recorded_slack_id(bot_url: str, slack: FakeSlack) -> None:
    assert post(bot_url, event_body(dm("how much vacation do I have left?", user="U0IMPOSTOR")))[0] == 200
    [reply] = slack.wait_for("chat.postMessage")
    assert "can't find your HR record" in shown(reply) and "15 days" not in shown(reply)


def test_unknown_slack_user_gets_no_figures(bot_url: str, slack: FakeSlack) -> None:
    assert post(bot_url, event_body(dm("how much vacation do I have left?", user="U0NOBODY01")))[0] == 200
    [reply] = slack.wait_for("chat.postMessage")
    assert "can't find your HR record" in shown(reply)


def test_asking_too_fast_gets_a_friendly_reply(settings: Settings, engine: Engine, company_url: str, slack: FakeSlack):
    strict = settings.model_copy(update={"slack_rate_limit_per_minute": 1})
    with serving(strict, engine, company_url) as url:
        assert post(url, event_body(dm("hi")))[0] == 200
        slack.wait_for("chat.postMessage")
        assert post(url, event_body(dm("how much vacation do I have left?")))[0] == 200
        second = slack.wait_for("chat.postMessage", 2)[1]
    assert second.params["text"] == RATE_LIMITED_TEXT


def test_rate_limiter_is_a_token_bucket_per_user() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.allow("U1") and limiter.allow("U1") and not limiter.allow("U1")
    assert limiter.allow("U2")
    now[0] += 30.0  # one token back (2 a minute)
    assert limiter.allow("U1") and not limiter.allow("U1")


def test_seen_events_expire() -> None:
    now = [0.0]
    seen = TTLSet(10.0, clock=lambda: now[0])
    assert seen.add("Ev1") and not seen.add("Ev1") and "Ev1" in seen
    now[0] += 11.0
    assert "Ev1" not in seen and seen.add("Ev1")


def test_strip_mentions_removes_only_the_bot() -> None:
    assert strip_mentions(f"<@{BOT}>  what is  PTO?", BOT) == "what is PTO?"
    assert strip_mentions(f"<@{BOT}|hrbot> ask <@U0ANNA01>", BOT) == "ask <@U0ANNA01>"


def test_only_channel_threads_are_remembered(bot_url: str, slack: FakeSlack, company_url: str) -> None:
    """A channel thread the bot answered is recorded (follow-ups there need no mention); a DM is
    always answered, so its thread costs no write."""
    asker = "U0THREADS1"  # (a user of its own: the others' allowances are spent by earlier tests)
    direct = dm("what is the parental leave policy?", user=asker)
    channel = mention("what is the parental leave policy?", user=asker)
    assert post(bot_url, event_body(direct))[0] == 200
    assert post(bot_url, event_body(channel))[0] == 200
    slack.wait_for("chat.postMessage", 2)
    with shared_engine(company_url).connect() as conn:
        recorded = set(
            conn.execute(
                text("SELECT channel, thread FROM chat_threads WHERE thread IN (:d, :c)"),
                {"d": direct["ts"], "c": channel["ts"]},
            ).all()
        )
    assert recorded == {("C0GENERAL", channel["ts"])}
