"""The Teams bot end to end: the real aiohttp app (Agents SDK ``CloudAdapter``) on loopback, receiving
Teams-shaped activities signed with a key this test generates (served as OpenID metadata + JWKS by a
fake issuer), the real engine on the sample company, and a fake Bot Connector recording the replies
(which must carry the bot's own token, fetched from the fake's token endpoint)."""

from __future__ import annotations

import json
import logging
import time
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from bot.conversation import HR_NOTIFIED_TEXT, NOT_YOURS_TEXT, THANKS_TEXT
from bot.engine import Engine
from bot.ratelimit import RATE_LIMITED_TEXT
from bot.teams.app import BackgroundServer, TeamsConfigError, build_app
from bot.teams.cards import actions_of
from bot.teams.messages import ASK_PRIVATELY, PRIVATE_NOTICE
from bot.teams.package import png_size
from hr.audit import service as audit
from hr.db import make_sessionmaker, shared_engine
from hr.settings import Settings
from retrieval.pipeline import SearchService
from tests.fakes.bot_connector import Call, FakeConnector, fake_connector
from tests.fakes.jwks import FakeIssuer, fake_issuer, new_key
from tests.fakes.teams_activities import (
    ALICE,
    BOT_ID,
    BOT_NAME,
    TeamsUser,
    card_action,
    channel_mention,
    members_added,
    personal_message,
    post,
)

TODAY = date(2026, 11, 21)
APP_ID = "7f5b4b1e-2a9c-4d27-9c1b-6f0f1c2a3b4d"
PASSWORD = "test-app-password"
HR_CONVERSATION = "19:hr-team@thread.tacv2"
ISLA = TeamsUser("29:isla", "0b8f6f0e-1111-4c4c-9a9a-0123456789ab", "Isla Murray")
IMPOSTOR = TeamsUser("29:impostor", "0b8f6f0e-2222-4c4c-9a9a-0123456789ab", "Not Alice")
STRANGER = TeamsUser("29:stranger", "0b8f6f0e-3333-4c4c-9a9a-0123456789ab", "Stranger")
BOB = TeamsUser("29:marcus", "43c243ee-0945-46ce-9f76-663f8330df68", "Marcus Johnson")


def member(user: TeamsUser, email: str) -> dict[str, Any]:
    return user.account() | {"email": email, "userPrincipalName": email}


@pytest.fixture(scope="module")
def connector() -> Iterator[FakeConnector]:
    members = {
        ALICE.member_id: member(ALICE, "alice.nguyen@brightwave.example"),
        ISLA.member_id: member(ISLA, "isla.murray@brightwave.example"),
        IMPOSTOR.member_id: member(IMPOSTOR, "alice.nguyen@brightwave.example"),  # Alice's email, not Alice
    }
    with fake_connector(members=members, client_id=APP_ID, client_secret=PASSWORD, require_token=True) as fake:
        yield fake


@pytest.fixture(scope="module")
def issuer() -> Iterator[FakeIssuer]:
    with fake_issuer() as fake:
        yield fake


@pytest.fixture(scope="module")
def settings(company_url: str, connector: FakeConnector, issuer: FakeIssuer) -> Settings:
    return Settings(
        database_url=company_url,
        policy_sources=["brightwave"],
        hr_contact="HR at hr@brightwave.example",
        teams_app_id=APP_ID,
        teams_app_password=PASSWORD,
        teams_openid_metadata_url=issuer.metadata_url,
        teams_token_url=connector.token_url,
        teams_hr_conversation_id=HR_CONVERSATION,
        teams_rate_limit_per_minute=1000,
    )


@pytest.fixture(scope="module")
def engine(settings: Settings, company_url: str) -> Engine:
    return Engine(settings, SearchService(settings, company_url), today=lambda: TODAY)


def serve(settings: Settings, engine: Engine, company_url: str) -> BackgroundServer:
    return BackgroundServer(build_app(settings, engine, make_sessionmaker(shared_engine(company_url)))).start()


@pytest.fixture(scope="module")
def bot(settings: Settings, engine: Engine, company_url: str) -> Iterator[str]:
    server = serve(settings, engine, company_url)
    yield server.url
    server.stop()


@pytest.fixture(autouse=True)
def _clean(connector: FakeConnector) -> None:
    connector.clear()


def send(bot: str, issuer: FakeIssuer, activity: dict[str, Any], **token: Any) -> tuple[int, Any]:
    """Post as the Bot Connector does: signed for this bot and the activity's serviceUrl."""
    signed = issuer.token(audience=APP_ID, service_url=activity["serviceUrl"]) if not token else issuer.token(**token)
    return post(bot, activity, token=signed)


def card_text(call: Call) -> str:
    return call.card_text() + call.text


def quiet(connector: FakeConnector, seconds: float = 1.0) -> list[Call]:
    """Calls that arrive in the next ``seconds`` (after the ones already awaited)."""
    before = len(connector.of("create", "send", "reply", "update"))
    time.sleep(seconds)
    return connector.of("create", "send", "reply", "update")[before:]


# --- messages ----------------------------------------------------------------------------------


def test_personal_chat_balance_question_gets_own_figures(bot: str, issuer: FakeIssuer, connector: FakeConnector):
    activity = personal_message("how much vacation do I have left?", service_url=connector.service_url)
    started = time.monotonic()
    status, _ = send(bot, issuer, activity)
    acked = time.monotonic() - started
    assert status == 202
    [reply] = connector.wait_for("reply")
    assert acked < 1.0  # acknowledged before the answer was worked out and sent
    assert reply.conversation_id == activity["conversation"]["id"] and reply.activity_id == activity["id"]
    assert "15 days" in card_text(reply)
    assert reply.authorization == f"Bearer {connector.token}"  # the bot's own token, from the token endpoint
    [card] = reply.cards
    assert [a["title"] for a in actions_of(card)] == ["👍", "👎", "Talk to HR"]
    assert {a["type"] for a in actions_of(card)} == {"Action.Execute"}
    assert not connector.of("create")


def test_channel_mention_policy_question_answered_in_thread_with_sources(
    bot: str, issuer: FakeIssuer, connector: FakeConnector, company_url: str
):
    activity = channel_mention("can I carry PTO over into next year?", service_url=connector.service_url)
    assert send(bot, issuer, activity)[0] == 202
    [reply] = connector.wait_for("reply")
    assert reply.conversation_id == activity["conversation"]["id"] and reply.activity_id == activity["id"]
    shown = card_text(reply)
    assert "**Sources**" in shown and "1. " in shown and "[1]" in shown and "Document versions" in shown
    audit_id = int(actions_of(reply.cards[0])[0]["data"]["audit_id"])
    with make_sessionmaker(shared_engine(company_url))() as session:
        entry = audit.get(audit_id, session=session)
    assert entry is not None and entry.surface == "teams"
    assert entry.question == "can I carry PTO over into next year?"  # the mention stripped
    assert entry.platform_user_id == ALICE.aad_object_id and entry.employee_email == "alice.nguyen@brightwave.example"
    assert entry.channel == "19:general-channel@thread.tacv2" and entry.thread == activity["id"]


def test_channel_mention_sends_figures_in_a_personal_chat(bot: str, issuer: FakeIssuer, connector: FakeConnector):
    activity = channel_mention("how much vacation do I have left?", service_url=connector.service_url)
    assert send(bot, issuer, activity)[0] == 202
    [notice] = connector.wait_for("reply")
    [created] = connector.of("create")
    [private] = connector.wait_for("send")
    assert notice.text == PRIVATE_NOTICE and "15" not in card_text(notice)
    assert created.body["members"] == [{"id": ALICE.member_id}] and created.body["isGroup"] is False
    assert created.body["tenantId"] == activity["conversation"]["tenantId"]
    assert private.conversation_id == f"a:1:{ALICE.member_id}" and "15 days" in card_text(private)


def test_figures_stay_out_of_the_channel_when_no_personal_chat_can_be_opened(
    bot: str, issuer: FakeIssuer, connector: FakeConnector
):
    connector.fail("create", 403)
    activity = channel_mention("how much vacation do I have left?", service_url=connector.service_url)
    assert send(bot, issuer, activity)[0] == 202
    [reply] = connector.wait_for("reply")
    assert reply.text == ASK_PRIVATELY
    assert not connector.of("send") and "15" not in card_text(reply)


def test_short_follow_up_in_a_thread_is_read_with_its_first_question(
    bot: str, issuer: FakeIssuer, connector: FakeConnector
):
    root = channel_mention("how many vacation days do I get?", service_url=connector.service_url)
    assert send(bot, issuer, root)[0] == 202
    connector.wait_for("reply")
    follow = channel_mention("and in Germany?", service_url=connector.service_url, root=root["id"])
    assert send(bot, issuer, follow)[0] == 202
    second = connector.wait_for("reply", count=2)[1]
    assert second.activity_id == follow["id"] and second.conversation_id == root["conversation"]["id"]
    assert "28 working days" in card_text(second)  # the German handbook


def test_channel_messages_without_a_mention_are_left_alone(bot: str, issuer: FakeIssuer, connector: FakeConnector):
    activity = channel_mention("how many vacation days do I get?", service_url=connector.service_url)
    activity["text"] = "how many vacation days do I get?"
    activity["entities"] = []
    assert send(bot, issuer, activity)[0] == 202
    assert quiet(connector) == []


def test_a_repeated_delivery_is_answered_once(bot: str, issuer: FakeIssuer, connector: FakeConnector):
    activity = personal_message("what is the parental leave policy?", service_url=connector.service_url)
    assert send(bot, issuer, activity)[0] == 202
    assert send(bot, issuer, activity)[0] == 202
    connector.wait_for("reply")
    assert quiet(connector) == []


def test_bot_added_gets_a_welcome_card_and_other_members_nothing(
    bot: str, issuer: FakeIssuer, connector: FakeConnector
):
    added = members_added([{"id": BOT_ID, "name": BOT_NAME}], service_url=connector.service_url)
    assert send(bot, issuer, added)[0] == 202
    [welcome] = connector.wait_for("reply", "send")
    assert "Hi, I'm hrbot" in card_text(welcome) and "vacation" in card_text(welcome)
    someone = members_added([ALICE.account()], service_url=connector.service_url, personal=False)
    assert send(bot, issuer, someone)[0] == 202
    assert quiet(connector, 0.5) == []


# --- identity --------------------------------------------------------------------------------------


def test_a_teams_user_without_a_recorded_id_is_matched_by_member_email(
    bot: str, issuer: FakeIssuer, connector: FakeConnector, company_url: str
):
    with sessionmaker(shared_engine(company_url))() as s:
        s.execute(text("UPDATE employees SET teams_user_id = NULL WHERE email = 'isla.murray@brightwave.example'"))
        s.commit()
    activity = personal_message("how much vacation do I have left?", user=ISLA, service_url=connector.service_url)
    assert send(bot, issuer, activity)[0] == 202
    [reply] = connector.wait_for("reply")
    assert "11 days of vacation left" in card_text(reply)  # 25 entitled - 14 taken
    [lookup] = connector.of("member")
    assert lookup.activity_id == ISLA.member_id


@pytest.mark.parametrize("user", [IMPOSTOR, STRANGER], ids=["email-of-someone-with-another-teams-id", "unknown"])
def test_no_hr_record_means_no_figures(bot: str, issuer: FakeIssuer, connector: FakeConnector, user: TeamsUser):
    activity = personal_message("how much vacation do I have left?", user=user, service_url=connector.service_url)
    assert send(bot, issuer, activity)[0] == 202
    [reply] = connector.wait_for("reply")
    assert "can't find your HR record" in card_text(reply) and "15 days" not in card_text(reply)


def test_asking_too_fast_gets_a_friendly_reply(
    settings: Settings, engine: Engine, company_url: str, issuer: FakeIssuer, connector: FakeConnector
):
    server = serve(settings.model_copy(update={"teams_rate_limit_per_minute": 1}), engine, company_url)
    try:
        assert send(server.url, issuer, personal_message("hi", service_url=connector.service_url))[0] == 202
        connector.wait_for("reply")
        second = personal_message("how much vacation do I have left?", service_url=connector.service_url)
        assert send(server.url, issuer, second)[0] == 202
        reply = connector.wait_for("reply", count=2)[1]
    finally:
        server.stop()
        # allowances are shared by every bot process through the database: give the asker theirs back
        with make_sessionmaker(shared_engine(company_url))() as session:
            session.execute(text("DELETE FROM chat_allowances WHERE platform = 'teams'"))
            session.commit()
    assert reply.text == RATE_LIMITED_TEXT


# --- buttons -------------------------------------------------------------------------------------------


def answered(bot: str, issuer: FakeIssuer, connector: FakeConnector, question: str) -> tuple[dict[str, Any], int]:
    activity = personal_message(question, service_url=connector.service_url)
    assert send(bot, issuer, activity)[0] == 202
    [reply] = connector.wait_for("reply")
    audit_id = int(actions_of(reply.cards[0])[0]["data"]["audit_id"])
    connector.clear()
    return activity, audit_id


def test_feedback_button_records_the_vote_and_updates_the_card(
    bot: str, issuer: FakeIssuer, connector: FakeConnector, company_url: str
):
    _, audit_id = answered(bot, issuer, connector, "what is the parental leave policy?")
    click = card_action("feedback", {"audit_id": str(audit_id), "value": "up"}, service_url=connector.service_url)
    status, body = send(bot, issuer, click)
    assert status == 200 and body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    card = body["value"]
    shown = json.dumps(card, ensure_ascii=False)
    assert THANKS_TEXT in shown and "**Sources**" in shown
    assert [a["title"] for a in actions_of(card)] == ["Talk to HR"]  # no second vote
    with make_sessionmaker(shared_engine(company_url))() as session:
        entry = audit.get(audit_id, session=session)
    assert entry is not None and entry.feedback is not None and entry.feedback.value == "up"


def test_only_the_asker_can_rate(bot: str, issuer: FakeIssuer, connector: FakeConnector, company_url: str):
    _, audit_id = answered(bot, issuer, connector, "what is the parental leave policy?")
    click = card_action(
        "feedback", {"audit_id": str(audit_id), "value": "down"}, user=BOB, service_url=connector.service_url
    )
    status, body = send(bot, issuer, click)
    assert status == 200 and body == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": NOT_YOURS_TEXT,
    }
    with make_sessionmaker(shared_engine(company_url))() as session:
        entry = audit.get(audit_id, session=session)
    assert entry is not None and entry.feedback is None


def test_talk_to_hr_notifies_the_hr_conversation_without_figures(
    bot: str, issuer: FakeIssuer, connector: FakeConnector
):
    _, audit_id = answered(bot, issuer, connector, "how much vacation do I have left?")
    click = card_action("talk_to_hr", {"audit_id": str(audit_id)}, service_url=connector.service_url)
    status, body = send(bot, issuer, click)
    assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    shown = json.dumps(body["value"], ensure_ascii=False)
    assert HR_NOTIFIED_TEXT in shown and "Talk to HR" not in shown
    [note] = connector.of("send")
    assert note.conversation_id == HR_CONVERSATION
    assert f"answer #{audit_id}" in note.text and "<at>Alice Nguyen</at>" in note.text
    assert "alice.nguyen@brightwave.example" in note.text and "15" not in note.text
    assert note.body["entities"][0]["mentioned"]["id"] == ALICE.member_id


# --- who may post ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "how", ["no-token", "bad-signature", "wrong-audience", "expired", "wrong-issuer", "other-service-url"]
)
def test_requests_without_a_valid_token_are_refused_and_not_answered(
    bot: str, issuer: FakeIssuer, connector: FakeConnector, how: str
):
    activity = personal_message("how much vacation do I have left?", service_url=connector.service_url)
    tokens = {
        "bad-signature": {"key": new_key()},  # same kid, another key
        "wrong-audience": {"audience": "another-bot"},
        "expired": {"expires_in": -3600},
        "wrong-issuer": {"issuer": "https://evil.example"},
        "other-service-url": {"service_url": "https://smba.example/elsewhere/"},
    }
    if how == "no-token":
        status, _ = post(bot, activity)
    else:
        claims = {"audience": APP_ID, "service_url": activity["serviceUrl"]} | tokens[how]
        status, _ = post(bot, activity, token=issuer.token(**claims))
    assert status == 401
    assert quiet(connector) == []


def test_validation_is_on_unless_explicitly_turned_off(
    settings: Settings, engine: Engine, company_url: str, connector: FakeConnector, caplog: pytest.LogCaptureFixture
):
    default = Settings(database_url=company_url, teams_app_id=APP_ID, teams_app_password=PASSWORD)
    assert default.teams_auth_disabled is False
    server = serve(default, engine, company_url)
    try:
        assert post(server.url, personal_message("hi", service_url=connector.service_url))[0] == 401
    finally:
        server.stop()
    with pytest.raises(TeamsConfigError):
        build_app(Settings(database_url=company_url), engine, make_sessionmaker(shared_engine(company_url)))
    off = Settings(database_url=company_url, policy_sources=["brightwave"], teams_auth_disabled=True)
    with caplog.at_level(logging.WARNING, logger="bot.teams.app"):
        server = serve(off, engine, company_url)
    assert any("validation is OFF" in r.getMessage() for r in caplog.records)
    connector.require_token = False  # a local fake, as in the README
    try:
        assert post(server.url, personal_message("hi", service_url=connector.service_url))[0] == 202
        [reply] = connector.wait_for("reply")
    finally:
        connector.require_token = True
        server.stop()
    assert reply.authorization is None  # no credentials: replies go without a token


# --- the app package ------------------------------------------------------------------------------------


def test_teams_package_holds_the_manifest_and_icons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli.teams_commands import app

    monkeypatch.setenv("HRBOT_TEAMS_APP_ID", APP_ID)
    out = tmp_path / "hrbot-teams.zip"
    result = CliRunner().invoke(app, ["package", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(zf.read("manifest.json"))
        assert png_size(zf.read("color.png")) == (192, 192) and png_size(zf.read("outline.png")) == (32, 32)
    assert manifest["id"] == APP_ID and manifest["bots"][0]["botId"] == APP_ID
    assert set(manifest["bots"][0]["scopes"]) == {"personal", "team", "groupChat"}


# --- the shared rules and the card rendering (no network) ------------------------------------------


def test_shared_rules_follow_ups_privacy_and_limits() -> None:
    from bot.conversation import delivery, with_parent
    from bot.question import Answer, Figure
    from bot.ratelimit import RateLimiter, ThreadMemory

    assert with_parent("and in Germany?", "how many vacation days do I get?") == (
        "how many vacation days do I get? and in Germany?"
    )
    assert with_parent("what is the policy on gifts from customers and suppliers?", "x") == (
        "what is the policy on gifts from customers and suppliers?"
    )
    assert with_parent("and in Germany?", None) == "and in Germany?"
    figures = [Figure("Vacation", "15 days", "csv", TODAY, "a@b.example")]
    assert delivery(Answer("personal", "15 days", figures=figures), private_surface=False) == "privately"
    assert delivery(Answer("personal", "15 days", figures=figures), private_surface=True) == "here"
    assert delivery(Answer("policy", "text"), private_surface=False) == "here"
    now = [0.0]
    threads = ThreadMemory(60.0, clock=lambda: now[0])
    threads.add("c|1", "first question")
    threads.add("c|1", "later question")  # the opening question is kept once
    assert threads.question("c|1") == "first question" and "c|1" in threads
    now[0] += 61.0
    assert threads.question("c|1") is None and "c|1" not in threads
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.allow("u") and limiter.allow("u") and not limiter.allow("u") and limiter.allow("v")


def test_answer_card_links_sources_and_keeps_document_text_from_making_links() -> None:
    from bot.question import Answer, CitedSource
    from bot.teams.cards import answer_card

    cited = [
        CitedSource(1, "Leave (EU)", "Carry-over", 3, "https://hr.example/leave policy.pdf", 1, 1, 1, 2, "h"),
        CitedSource(2, "Local", "", None, "file:///srv/policies/local.md", 2, 2, 2, 1, "h"),
    ]
    body = "See [this](https://evil.example) [1] [2]\n\nSources:\n[1] Leave\n[2] Local"
    answer = Answer("policy", body, cited, audit_id=5)
    card = answer_card(answer)
    texts = [b["text"] for b in card["body"]]
    assert "](https://evil" not in texts[0] and "Sources:" not in texts[0]
    assert "1. [Leave (EU) › Carry-over, p. 3](https://hr.example/leave%20policy.pdf)" in texts
    assert "2. Local — file:///srv/policies/local.md" in texts
    assert "Document versions: [1] v2 · [2] v1" in texts
    assert actions_of(card)[0]["data"] == {"audit_id": "5", "value": "up"}
