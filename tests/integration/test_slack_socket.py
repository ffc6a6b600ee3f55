"""The Slack bot over Socket Mode end to end: the real Bolt app behind slack_sdk's built-in Socket
Mode client, which opens its connection through ``apps.connections.open`` on the fake Web API and
then talks to a fake Socket Mode WebSocket server on loopback; the real engine on the sample company."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from slack_bolt.adapter.socket_mode import SocketModeHandler
from typer.testing import CliRunner

from bot.cli.main import app as cli
from bot.engine import Engine
from bot.slack.app import SlackConfigError
from bot.slack.socket import build_socket_handler
from hr.audit import service as audit
from hr.db import make_sessionmaker, shared_engine
from hr.settings import Settings
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_socket import FakeSocketMode, fake_socket_mode
from tests.integration.test_slack import (  # noqa: F401  (module fixtures shared with the HTTP tests)
    ALICE,
    audit_id_of,
    dm,
    engine,
    event_body,
    settings,
    shown,
    slack,
)


@pytest.fixture(scope="module")
def socket_mode() -> Iterator[FakeSocketMode]:
    with fake_socket_mode() as fake:
        yield fake


@pytest.fixture(scope="module")
def socket_settings(settings: Settings, slack: FakeSlack, socket_mode: FakeSocketMode) -> Settings:  # noqa: F811
    slack.socket_url = socket_mode.url
    # no signing secret: Socket Mode needs none
    return settings.model_copy(update={"slack_app_token": SecretStr(slack.app_token), "slack_signing_secret": None})


@pytest.fixture(scope="module")
def handler(
    socket_settings: Settings,
    engine: Engine,  # noqa: F811
    company_url: str,
    socket_mode: FakeSocketMode,
) -> Iterator[SocketModeHandler]:
    handler = build_socket_handler(socket_settings, engine, make_sessionmaker(shared_engine(company_url)))
    handler.connect()
    socket_mode.wait_connected()
    yield handler
    handler.close()


@pytest.fixture(autouse=True)
def _clean(slack: FakeSlack) -> None:  # noqa: F811
    slack.clear()


def test_connects_with_the_app_token_through_apps_connections_open(
    socket_settings: Settings,
    engine: Engine,  # noqa: F811
    company_url: str,
    slack: FakeSlack,  # noqa: F811
    socket_mode: FakeSocketMode,
) -> None:
    before = len(socket_mode.connections)
    handler = build_socket_handler(socket_settings, engine, make_sessionmaker(shared_engine(company_url)))
    try:
        handler.connect()
        [opened] = slack.wait_for("apps.connections.open")
        assert opened.token == slack.app_token  # the app-level token, not the bot token
        deadline = time.monotonic() + 10
        while len(socket_mode.connections) <= before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(socket_mode.connections) > before
    finally:
        handler.close()


def test_missing_app_token_is_a_config_error(
    settings: Settings,  # noqa: F811
    engine: Engine,  # noqa: F811
    company_url: str,
) -> None:
    with pytest.raises(SlackConfigError, match="HRBOT_SLACK_APP_TOKEN"):
        build_socket_handler(settings, engine, make_sessionmaker(shared_engine(company_url)))


def test_dm_over_the_socket_is_acked_and_answered_in_thread(
    handler: SocketModeHandler,
    socket_mode: FakeSocketMode,
    slack: FakeSlack,  # noqa: F811
) -> None:
    event = dm("how much vacation do I have left?")
    started = time.monotonic()
    envelope_id = socket_mode.push_event(json.loads(event_body(event)))
    assert socket_mode.wait_ack(envelope_id, timeout=3) == {"envelope_id": envelope_id}
    assert time.monotonic() - started < 3  # acknowledged before the engine answers
    [reply] = slack.wait_for("chat.postMessage")
    assert reply.params["channel"] == "D0ALICE01" and reply.params["thread_ts"] == event["ts"]
    assert "15 days" in shown(reply)
    assert reply.token == slack.token
    assert not slack.of("chat.postEphemeral")


def test_a_redelivered_envelope_is_acked_and_answered_once(
    handler: SocketModeHandler,
    socket_mode: FakeSocketMode,
    slack: FakeSlack,  # noqa: F811
) -> None:
    body = json.loads(event_body(dm("when is the next public holiday?")))
    first = socket_mode.push_event(body)
    socket_mode.wait_ack(first)
    slack.wait_for("chat.postMessage")
    again = socket_mode.push("events_api", body, retry_attempt=1)
    assert socket_mode.wait_ack(again) == {"envelope_id": again}
    time.sleep(1.0)
    assert len(slack.of("chat.postMessage")) == 1


def command_form(slack: FakeSlack, text_: str) -> dict[str, str]:  # noqa: F811
    return {
        "command": "/hr",
        "text": text_,
        "user_id": ALICE,
        "channel_id": "C0GENERAL",
        "team_id": "T0TEST01",
        "response_url": slack.response_url("command"),
        "trigger_id": "1.2.3",
        "token": "legacy",
    }


def test_slash_command_over_the_socket_is_acked_and_answered_ephemerally(
    handler: SocketModeHandler,
    socket_mode: FakeSocketMode,
    slack: FakeSlack,  # noqa: F811
) -> None:
    started = time.monotonic()
    envelope_id = socket_mode.push_command(command_form(slack, "how much vacation do I have left?"))
    assert socket_mode.wait_ack(envelope_id, timeout=3) == {"envelope_id": envelope_id}
    assert time.monotonic() - started < 3
    [answer] = slack.wait_for("response_url")
    assert answer.params["response_type"] == "ephemeral" and "15 days" in shown(answer)
    assert not slack.of("chat.postMessage")


def test_empty_slash_command_is_answered_in_the_ack_payload(
    handler: SocketModeHandler,
    socket_mode: FakeSocketMode,
    slack: FakeSlack,  # noqa: F811
) -> None:
    envelope_id = socket_mode.push_command(command_form(slack, "   "))
    ack = socket_mode.wait_ack(envelope_id)
    assert ack["payload"]["response_type"] == "ephemeral"
    assert "Ask me an HR question" in ack["payload"]["text"]


def test_feedback_button_over_the_socket_is_acked_and_stored(
    handler: SocketModeHandler,
    company_url: str,
    socket_mode: FakeSocketMode,
    slack: FakeSlack,  # noqa: F811
) -> None:
    socket_mode.wait_ack(socket_mode.push_event(json.loads(event_body(dm("how much vacation do I have left?")))))
    [reply] = slack.wait_for("chat.postMessage")
    audit_id = audit_id_of(reply)
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEST01"},
        "user": {"id": ALICE},
        "api_app_id": "A0HRBOT1",
        "container": {"type": "message", "channel_id": "D0ALICE01", "message_ts": reply.params.get("thread_ts")},
        "channel": {"id": "D0ALICE01"},
        "trigger_id": "1.2.3",
        "response_url": slack.response_url("feedback"),
        "actions": [
            {"action_id": "feedback_up", "block_id": "hrbot_feedback", "value": str(audit_id), "type": "button"}
        ],
    }
    envelope_id = socket_mode.push_interactive(payload)
    assert socket_mode.wait_ack(envelope_id) == {"envelope_id": envelope_id}
    [thanks] = slack.wait_for("response_url")
    assert thanks.params["response_type"] == "ephemeral" and thanks.params["text"] == "Thanks for the feedback!"
    with make_sessionmaker(shared_engine(company_url))() as session:
        entry = audit.get(audit_id, session=session)
    assert entry is not None and entry.feedback is not None and entry.feedback.value == "up"


def test_cli_socket_without_app_token_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HRBOT_SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.delenv("HRBOT_SLACK_APP_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["serve", "slack", "--socket"])
    assert result.exit_code == 2
    assert "HRBOT_SLACK_APP_TOKEN" in result.output
