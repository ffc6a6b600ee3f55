"""``hrbot serve slack --http --processes 2``: two real processes on one port, sharing what they
must agree on through PostgreSQL: a Slack retry is answered once whichever process gets it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack_api import fake_slack

SECRET = "processes-signing-secret-0123456789"
HRBOT = Path(sys.executable).with_name("hrbot")


def post(url: str, body: str, retry: int = 0) -> int:
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body),
    }
    if retry:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def dm(event_id: str, user: str, text: str, ts: str) -> str:
    event = {"type": "message", "channel_type": "im", "channel": "D0PROC01", "user": user, "text": text, "ts": ts}
    return json.dumps({"type": "event_callback", "team_id": "T0TEST01", "event_id": event_id, "event": event})


def test_two_processes_answer_every_event_once(company_url: str, tmp_path: Path) -> None:
    with fake_slack() as slack:
        env = {
            **os.environ,
            "HRBOT_DATABASE_URL": company_url,
            "HRBOT_DATA_DIR": str(tmp_path),
            "HRBOT_SLACK_BOT_TOKEN": slack.token,
            "HRBOT_SLACK_SIGNING_SECRET": SECRET,
            "HRBOT_SLACK_API_URL": slack.api_url,
            "HRBOT_SLACK_RATE_LIMIT_PER_MINUTE": "100",
            "HF_HUB_OFFLINE": "1",
        }
        command = [str(HRBOT), "serve", "slack", "--http", "--host", "127.0.0.1", "--port", "0", "--processes", "2"]
        bot = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            url = ""
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and not url:
                line = bot.stdout.readline() if bot.stdout else ""
                if not line and bot.poll() is not None:
                    break
                if "listening on" in line:
                    url = line.split("listening on ")[1].split()[0]
            assert url, "the bot did not start"
            children = subprocess.run(["pgrep", "-P", str(bot.pid)], capture_output=True, text=True).stdout.split()
            assert len([c for c in children if c]) >= 2  # two serving processes (+ the spawn tracker)

            events = [(f"Ev{uuid.uuid4().hex[:10].upper()}", f"17000000{n:02d}.000100") for n in range(12)]
            for event_id, ts in events:
                body = dm(event_id, "U0MAYA01", "how many vacation days do I have left?", ts)
                assert post(url, body) == 200
                for retry in (1, 2, 3):  # Slack's retries, spread by the kernel over both processes
                    assert post(url, body, retry) == 200
            replies = slack.wait_for("chat.postMessage", len(events), timeout=60)
            time.sleep(1.0)  # a doubled answer would have arrived by now
            replies = slack.of("chat.postMessage")
            assert sorted(r.params["thread_ts"] for r in replies) == sorted(ts for _, ts in events)
            assert all("days of vacation left" in r.params["text"] for r in replies), replies[0].params["text"]
        finally:
            bot.send_signal(signal.SIGTERM)
            try:
                bot.wait(timeout=30)
            except subprocess.TimeoutExpired:
                bot.kill()
        assert bot.returncode == 0


def test_each_serving_process_warms_its_engine_up_before_it_accepts_events(company_url, monkeypatch) -> None:
    """``serve_one`` (one per process of ``--processes N``) builds its server through ``build_server``:
    the engine is warmed up (with the process's sessions) before the app and the listening socket exist."""
    import bot.slack.app
    from bot.engine import Engine
    from bot.slack import serve
    from hr.settings import Settings

    order: list[str] = []

    def warm_up(engine: Engine, sessions: Any = None) -> None:
        assert sessions is not None
        order.append("warm_up")

    def build_app(settings: Settings, engine: Engine, sessions: Any) -> str:
        order.append("build_app")
        return "bolt"

    def make_server(app: str, **kwargs: Any) -> Any:
        order.append("make_server")
        assert app == "bolt" and kwargs["reuse_port"]
        raise RuntimeError("stop here")

    monkeypatch.setattr(Engine, "warm_up", warm_up)
    monkeypatch.setattr(bot.slack.app, "build_app", build_app)
    monkeypatch.setattr(bot.slack.app, "make_server", make_server)
    with pytest.raises(RuntimeError, match="stop here"):
        serve.serve_one(Settings(database_url=company_url), "127.0.0.1", 0, "/slack/events", None)
    assert order == ["warm_up", "build_app", "make_server"]
