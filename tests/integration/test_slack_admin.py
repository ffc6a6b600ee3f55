"""The App Home tab and ``/hr-admin`` end to end: the real Bolt app over loopback HTTP, signed
requests, the real engine on the sample company and a fake Slack Web API."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import App
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import text

from bot.engine import Engine
from bot.slack import admin as admin_module
from bot.slack.admin import REFUSED_TEXT
from bot.slack.app import build_app, make_server
from hr.db import make_sessionmaker, shared_engine
from hr.settings import Settings
from retrieval.pipeline import SearchService
from tests.fakes.slack_api import Call, FakeSlack, fake_slack
from tests.integration.helpers import ingest_folder

PEOPLE = Path(__file__).resolve().parents[2] / "bot" / "demo" / "data" / "people"
TODAY = date(2026, 11, 21)
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT = "UBOT0001"
ALICE = "U0ALICE01"
MAYA = "U0MAYA01"
ADMIN = "U0ADMIN01"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    users = {ALICE: {"id": ALICE, "profile": {"email": "alice.nguyen@brightwave.example"}}}
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
        slack_admin_user_ids=[ADMIN],
        slack_rate_limit_per_minute=100,
    )


@pytest.fixture(scope="module")
def engine(settings: Settings, company_url: str) -> Engine:
    return Engine(settings, SearchService(settings, company_url), today=lambda: TODAY)


@pytest.fixture(scope="module")
def app(settings: Settings, engine: Engine, company_url: str) -> App:
    return build_app(settings, engine, make_sessionmaker(shared_engine(company_url)))


@pytest.fixture(scope="module")
def bot_url(app: App) -> Iterator[str]:
    server = make_server(app, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/slack/events"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _clean(slack: FakeSlack, embed: Callable[[list[str]], list[list[float]]], monkeypatch) -> None:
    slack.clear()
    # the reindex uses the embedder the session already loaded (the same model the CLI loads)
    monkeypatch.setattr(admin_module, "default_embedder", lambda settings: embed)


# --- helpers -------------------------------------------------------------------------------------


def post(url: str, body: str, *, content_type: str = "application/json") -> tuple[int, str]:
    ts = str(int(time.time()))
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body),
    }
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def event_body(event: dict[str, Any]) -> str:
    return json.dumps(
        {
            "token": "legacy",
            "team_id": "T0TEST01",
            "api_app_id": "A0HRBOT1",
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "event": event,
        }
    )


def home_opened(user: str, tab: str = "home") -> dict[str, Any]:
    return {"type": "app_home_opened", "user": user, "channel": "D0HOME01", "tab": tab, "event_ts": "1.000001"}


def view_of(call: Call) -> dict[str, Any]:
    view = call.params["view"]
    return json.loads(view) if isinstance(view, str) else view


def admin_command(url: str, slack: FakeSlack, text_: str, *, user: str = ADMIN) -> tuple[int, float]:
    form = {
        "command": "/hr-admin",
        "text": text_,
        "user_id": user,
        "channel_id": "C0GENERAL",
        "team_id": "T0TEST01",
        "response_url": slack.response_url("admin"),
        "trigger_id": "1.2.3",
        "token": "legacy",
    }
    started = time.monotonic()
    status, _ = post(url, urlencode(form), content_type=FORM)
    return status, time.monotonic() - started


def answered(slack: FakeSlack, count: int = 1) -> Call:
    reply = slack.wait_for("response_url", count)[count - 1]
    assert reply.params["response_type"] == "ephemeral"
    return reply


# --- App Home ------------------------------------------------------------------------------------


def test_app_home_shows_the_viewers_own_balances(bot_url: str, slack: FakeSlack) -> None:
    assert post(bot_url, event_body(home_opened(ALICE)))[0] == 200
    [publish] = slack.wait_for("views.publish")
    assert publish.params["user_id"] == ALICE
    view = view_of(publish)
    shown = json.dumps(view, ensure_ascii=False)
    assert view["type"] == "home"
    assert "Hi Alice" in shown and "15 days of vacation left" in shown and "4 pending approval" in shown
    assert "/hr" in shown  # how to ask
    # Maya also has 15 days left, but 8 pending: nothing of hers is in Alice's Home
    assert "8 pending" not in shown and "Maya" not in shown
    time.sleep(0.5)
    assert len(slack.of("views.publish")) == 1 and not slack.of("chat.postMessage")


def test_app_home_of_another_employee_shows_only_theirs(bot_url: str, slack: FakeSlack) -> None:
    assert post(bot_url, event_body(home_opened(MAYA)))[0] == 200
    [publish] = slack.wait_for("views.publish")
    shown = json.dumps(view_of(publish), ensure_ascii=False)
    assert publish.params["user_id"] == MAYA
    assert "Hi Maya" in shown and "8 pending approval" in shown
    assert "4 pending" not in shown and "Alice" not in shown


def test_app_home_of_someone_not_in_hr_records(bot_url: str, slack: FakeSlack) -> None:
    assert post(bot_url, event_body(home_opened("U0NOBODY01")))[0] == 200
    [publish] = slack.wait_for("views.publish")
    shown = json.dumps(view_of(publish), ensure_ascii=False)
    assert "can't find your HR record" in shown and "hr@brightwave.example" in shown
    assert "days of vacation" not in shown


def test_messages_tab_publishes_nothing(bot_url: str, slack: FakeSlack) -> None:
    assert post(bot_url, event_body(home_opened(ALICE, tab="messages")))[0] == 200
    time.sleep(1.0)
    assert not slack.of("views.publish")


# --- /hr-admin -----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["status", "reindex brightwave", "audit"])
def test_non_admin_is_refused_and_nothing_runs(bot_url: str, slack: FakeSlack, command: str) -> None:
    status, took = admin_command(bot_url, slack, command, user=ALICE)
    assert status == 200 and took < 3
    refused = answered(slack)
    assert refused.params["text"] == REFUSED_TEXT
    time.sleep(1.0)
    assert not [t for t in threading.enumerate() if t.name == "reindex"]
    assert len(slack.of("response_url")) == 1 and not slack.of("chat.postMessage")


def test_status_lists_the_source(bot_url: str, slack: FakeSlack) -> None:
    status, took = admin_command(bot_url, slack, "status")
    assert status == 200 and took < 3
    reply = answered(slack).params["text"]
    assert "Database revision" in reply
    assert "`brightwave`" in reply and "documents" in reply and "chunks" in reply and "last ingest 20" in reply
    assert "Audit log" in reply and "verify: OK" in reply


def test_audit_lists_entries_after_a_question(bot_url: str, slack: FakeSlack) -> None:
    dm = {
        "type": "message",
        "channel": "D0ALICE01",
        "channel_type": "im",
        "user": ALICE,
        "text": "how much vacation do I have left?",
        "ts": f"{int(time.time())}.000123",
    }
    assert post(bot_url, event_body(dm))[0] == 200
    slack.wait_for("chat.postMessage")
    slack.clear()

    admin_command(bot_url, slack, f"audit <@{ALICE}|alice>")
    reply = answered(slack).params["text"]
    assert f"<@{ALICE}>" in reply and "how much vacation do I have left?" in reply
    assert "15 days" not in reply  # the answer's figures are not listed

    admin_command(bot_url, slack, f"audit alice.nguyen@brightwave.example since {TODAY.isoformat()}")
    assert "how much vacation do I have left?" in answered(slack, 2).params["text"]

    admin_command(bot_url, slack, f"audit <@{MAYA}>")
    assert answered(slack, 3).params["text"] == "No audit entries match."

    admin_command(bot_url, slack, "audit since 2999-01-01")
    assert answered(slack, 4).params["text"] == "No audit entries match."


def test_reindex_runs_a_full_sync_and_updates_the_admins_message(
    bot_url: str, slack: FakeSlack, company_url: str
) -> None:
    status, took = admin_command(bot_url, slack, "reindex brightwave")
    assert status == 200 and took < 3
    assert "Reindexing `brightwave`" in answered(slack).params["text"]
    [started] = slack.wait_for("chat.postMessage")
    assert started.params["channel"] == ADMIN and "started in the bot" in started.params["text"]
    [update] = slack.wait_for("chat.update", timeout=120)
    assert update.params["channel"] == ADMIN and update.params["ts"]
    text_ = update.params["text"]
    assert "Reindex done" in text_ and "`brightwave` succeeded" in text_
    assert "0 new, 0 changed" in text_ and "0 removed, 0 failed; 0 chunks embedded" in text_
    with make_sessionmaker(shared_engine(company_url))() as session:
        row = session.execute(
            text(
                "SELECT r.trigger, r.mode, r.status FROM sync_runs r JOIN sources s ON s.id = r.source_id "
                "WHERE s.name = 'brightwave' ORDER BY r.id DESC LIMIT 1"
            )
        ).one()
    assert tuple(row) == ("admin", "full", "succeeded")


def test_reindex_of_an_unknown_source_is_a_clear_error(bot_url: str, slack: FakeSlack) -> None:
    admin_command(bot_url, slack, "reindex nope")
    reply = answered(slack).params["text"]
    assert "Unknown source `nope`" in reply and "`brightwave`" in reply
    time.sleep(0.5)
    assert not slack.of("chat.postMessage")


def test_unknown_subcommand_shows_usage(bot_url: str, slack: FakeSlack) -> None:
    admin_command(bot_url, slack, "")
    assert "Usage" in answered(slack).params["text"]


def test_usergroup_members_are_admins(settings: Settings, slack: FakeSlack) -> None:
    from slack_sdk import WebClient

    from bot.ratelimit import RateLimiter
    from bot.slack.admin import Admin
    from bot.slack.handlers import Deps
    from bot.slack.identity import SlackIdentity

    client = WebClient(token=slack.token, base_url=slack.api_url)
    grouped = settings.model_copy(update={"slack_admin_usergroup": "S0HRADMINS"})
    deps = Deps(grouped, None, None, SlackIdentity(client), RateLimiter(10))  # type: ignore[arg-type]
    checker = Admin(deps, client)
    assert checker.is_admin(ADMIN)  # listed by id
    # the fake has no usergroups.users.list: an API error means "not an admin"
    assert not checker.is_admin(ALICE)
    assert slack.of("usergroups.users.list")[-1].params["usergroup"] == "S0HRADMINS"
    client.usergroups_users_list = lambda **kwargs: {"ok": True, "users": [ALICE]}  # type: ignore[method-assign]
    assert checker.is_admin(ALICE) and not checker.is_admin(MAYA)


def test_reindex_picks_up_a_changed_file_and_never_prunes_a_missing_folder(
    bot_url: str, slack: FakeSlack, company_url: str, embed, sample_policies: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "scratch"
    shutil.copytree(sample_policies, folder)
    sessions = make_sessionmaker(shared_engine(company_url))
    ingest_folder(Settings(database_url=company_url), sessions, embed, folder, source="scratch")
    changed = sorted(folder.rglob("*.md"))[0]
    changed.write_text(changed.read_text() + "\n\nA new paragraph about bicycles.\n")

    admin_command(bot_url, slack, "reindex scratch")
    assert "Reindexing `scratch`" in answered(slack).params["text"]
    [update] = slack.wait_for("chat.update", timeout=120)
    assert "0 new, 1 changed" in update.params["text"]

    shutil.rmtree(folder)  # the folder is gone: the sync fails and nothing is taken out of search
    slack.clear()
    admin_command(bot_url, slack, "reindex scratch")
    [update] = slack.wait_for("chat.update", timeout=60)
    assert "failed" in update.params["text"] and "none of its folders exists" in update.params["text"]
    with sessions() as session:
        removed = session.execute(
            text(
                "SELECT count(*) FROM documents d JOIN sources s ON s.id = d.source_id "
                "WHERE s.name = 'scratch' AND d.removed_at IS NULL"
            )
        ).scalar_one()
    assert removed > 0
