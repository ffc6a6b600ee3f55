"""The Teams bot under load, end to end on loopback: the real aiohttp app (``bot.teams.app.build_app``,
the Agents SDK's CloudAdapter) in a process of its own, on a fresh embedded database holding the
sample company (policies ingested as source "brightwave", people imported); token validation ON,
with a key this script generates (a fake OpenID issuer) and the bot's own token from a fake token
endpoint; a fake Bot Connector recording every reply.

``--conversations`` conversations (default 20), each one employee: half are personal chats asking
balance questions, half are channel posts @mentioning the bot with policy questions (each post a
thread of its own). ``--activities`` (default 100) are shared out among them. By default a
conversation sends its next message once the previous one is answered (people wait for the answer);
``--open-loop`` sends them back to back, waiting only for the 202.

Per activity: the ack time (POST to its HTTP response) and the reply time (POST until the
connector receives the reply to that activity id). An answer is counted by its audit id (the card's
buttons), so an activity answered twice shows as doubled. Target (issue 6): every activity answered
exactly once; reply p95 <= 1.5 s on loopback.

    python benchmarks/teams_load.py [--activities 100] [--conversations 20] [--open-loop] [--threads 4]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import SAMPLE_TODAY, pct, sample_company
from slack_load import BALANCE_QUESTIONS, POLICY_QUESTIONS, cpu_seconds

from bot.engine import Engine
from bot.teams.cards import actions_of
from hr.db import make_sessionmaker, shared_engine
from hr.settings import Settings
from retrieval.pipeline import SearchService
from tests.fakes.bot_connector import Call, fake_connector
from tests.fakes.jwks import fake_issuer
from tests.fakes.teams_activities import TeamsUser, channel_mention, personal_message, post

APP_ID = "7f5b4b1e-2a9c-4d27-9c1b-6f0f1c2a3b4d"
PASSWORD = "bench-app-password"
TODAY = SAMPLE_TODAY


@dataclass
class Sent:
    activity: dict[str, Any]
    kind: str  # personal | channel
    started: float = 0.0
    ack_ms: float = 0.0
    status: int = 0
    replies: list[tuple[float, Call]] = field(default_factory=list)


def prepare_database(settings_kwargs: dict[str, Any]) -> tuple[str, list[TeamsUser]]:
    url, employees = sample_company("hrbot_bench_teams", settings_kwargs)
    people = [TeamsUser(f"29:{p.email.split('@')[0]}", p.teams_user_id, p.name) for p in employees if p.teams_user_id]
    return url, sorted(people, key=lambda u: u.member_id)


def serve_bot(url: str, settings_kwargs: dict[str, Any], ports: Any) -> None:
    """The bot as deployed: engine, Agents SDK adapter and aiohttp server in a process of their own."""
    import asyncio

    from aiohttp import web

    from bot.teams.app import build_app

    settings = Settings(database_url=url, **settings_kwargs)
    engine_ms = open(Path(settings_kwargs["data_dir"]) / "engine_ms.txt", "a")  # noqa: SIM115 (the process's life)

    class EngineLatency(logging.Handler):  # the "teams answer" log line carries the engine's latency
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage() == "teams answer":
                engine_ms.write(f"{getattr(record, 'latency_ms', 0)}\n")
                engine_ms.flush()

    handlers_log = logging.getLogger("bot.teams.handlers")
    handlers_log.setLevel(logging.INFO)
    handlers_log.addHandler(EngineLatency())
    engine = Engine(settings, SearchService(settings, url), today=lambda: TODAY)
    engine.search.warm_up()
    app = build_app(settings, engine, make_sessionmaker(shared_engine(url)))

    async def run() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=512)
        await site.start()
        ports.put(int(runner.addresses[0][1]))
        await asyncio.Event().wait()

    asyncio.run(run())


def make_activities(n: int, people: list[TeamsUser], conversations: int, service_url: str, rng: random.Random):
    shares: list[list[Sent]] = [[] for _ in range(conversations)]
    for i in range(n):
        c = i % conversations
        user = people[c % len(people)]
        if c % 2 == 0:
            activity = personal_message(rng.choice(BALANCE_QUESTIONS), user=user, service_url=service_url)
            shares[c].append(Sent(activity, "personal"))
        else:
            activity = channel_mention(rng.choice(POLICY_QUESTIONS), user=user, service_url=service_url)
            shares[c].append(Sent(activity, "channel"))
    return shares


def audit_ids(call: Call) -> set[str]:
    return {str(a["data"].get("audit_id")) for card in call.cards for a in actions_of(card)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--activities", type=int, default=100)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--open-loop", action="store_true", help="do not wait for an answer before the next message")
    parser.add_argument("--threads", type=int, default=4, help="HRBOT_TEAMS_ANSWER_THREADS of the bot")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds to wait for the last answers")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    lock = threading.Lock()
    by_id: dict[str, Sent] = {}
    arrived = threading.Condition(lock)

    def record(call: Call) -> None:
        if call.kind in ("reply", "send"):
            with lock:
                sent = by_id.get(call.activity_id or "")
                if sent is not None:
                    sent.replies.append((time.monotonic(), call))
                arrived.notify_all()

    with (
        fake_connector(client_id=APP_ID, client_secret=PASSWORD, require_token=True, on_call=record) as connector,
        fake_issuer() as issuer,
    ):
        base_settings: dict[str, Any] = {
            "data_dir": Path(tempfile.mkdtemp(prefix="hrbot-bench-teams-")),
            "policy_sources": ["brightwave"],
            "hr_contact": "HR at hr@brightwave.example",
            "teams_app_id": APP_ID,
            "teams_app_password": PASSWORD,
            "teams_openid_metadata_url": issuer.metadata_url,
            "teams_token_url": connector.token_url,
            "teams_rate_limit_per_minute": 100_000,
            "teams_answer_threads": args.threads,
        }
        url, people = prepare_database(base_settings)
        spawn = multiprocessing.get_context("spawn")
        ports: Any = spawn.Queue()
        bot = spawn.Process(target=serve_bot, args=(url, base_settings, ports), daemon=True)
        bot.start()  # its own process (and GIL): the senders and the fakes do not compete with it
        bot_url = f"http://127.0.0.1:{ports.get(timeout=300)}/api/messages"
        token = issuer.token(audience=APP_ID, service_url=connector.service_url)
        data_dir = base_settings["data_dir"]
        run_load(args, rng, bot, bot_url, token, people, connector.service_url, by_id, arrived, data_dir)
        bot.terminate()
        ports.close()
        ports.join_thread()


def run_load(args, rng, bot, bot_url, token, people, service_url, by_id, arrived, data_dir: Path) -> None:
    def send(sent: Sent) -> None:
        with arrived:
            by_id[sent.activity["id"]] = sent
        sent.started = time.monotonic()
        sent.status, _ = post(bot_url, sent.activity, token=token)
        sent.ack_ms = (time.monotonic() - sent.started) * 1000

    def wait_answer(sent: Sent, timeout: float) -> None:
        with arrived:
            arrived.wait_for(lambda: bool(sent.replies), timeout=timeout)

    warm = personal_message("how much vacation do I have left?", user=people[0], service_url=service_url)
    send(Sent(warm, "personal"))  # first-use costs (token fetches, JWKS) out of the figures
    wait_answer(by_id[warm["id"]], 60)
    time.sleep(0.5)

    shares = make_activities(args.activities, people, args.conversations, service_url, rng)
    gate = threading.Barrier(len(shares) + 1)

    def conversation(share: list[Sent]) -> None:
        gate.wait()
        for sent in share:
            send(sent)
            if not args.open_loop:
                wait_answer(sent, 30)

    threads = [threading.Thread(target=conversation, args=(s,), daemon=True) for s in shares]
    for t in threads:
        t.start()
    gate.wait()
    wall_started = time.monotonic()
    cpu_started = time.process_time(), cpu_seconds(bot.pid or 0)
    for t in threads:
        t.join()
    everything = [s for share in shares for s in share]
    with arrived:
        arrived.wait_for(lambda: all(s.replies for s in everything), timeout=args.settle)
    wall = time.monotonic() - wall_started
    cpu_here, cpu_bot = time.process_time() - cpu_started[0], cpu_seconds(bot.pid or 0) - cpu_started[1]
    time.sleep(2.0)  # anything doubled arrives late
    report(args, everything, wall, cpu_here, cpu_bot, data_dir)


def report(args, everything: list[Sent], wall: float, cpu_here: float, cpu_bot: float, data_dir: Path) -> None:
    once = lost = doubled = non_answers = 0
    reply_ms: list[float] = []
    for sent in everything:
        ids = set().union(*(audit_ids(call) for _, call in sent.replies)) if sent.replies else set()
        count = len(ids) if ids else len(sent.replies)
        if sent.replies and not ids:
            non_answers += 1
        if count == 0:
            lost += 1
        elif count == 1 and len(sent.replies) == 1:
            once += 1
            reply_ms.append((sent.replies[0][0] - sent.started) * 1000)
        else:
            doubled += 1
    acks = [s.ack_ms for s in everything]
    personal = sum(1 for s in everything if s.kind == "personal")
    print(
        f"activities {len(everything)} from {args.conversations} conversations ({personal} personal-chat balance"
        f" questions, {len(everything) - personal} channel mentions with policy questions),"
        f" {'open' if args.open_loop else 'closed'} loop, token validation on, {args.threads} answer threads"
    )
    print(
        f"  answered once {once}   lost {lost}   doubled {doubled}   non-answers {non_answers}"
        f"   non-202 {sum(1 for s in everything if s.status != 202)}"
    )
    print(f"  ack    p50 {pct(acks, 50):7.1f} ms   p95 {pct(acks, 95):7.1f} ms   max {max(acks):7.1f} ms")
    if reply_ms:
        print(
            f"  reply  p50 {pct(reply_ms, 50):7.1f} ms   p95 {pct(reply_ms, 95):7.1f} ms"
            f"   max {max(reply_ms):7.1f} ms   (target p95 <= 1500 ms)"
        )
    print(
        f"  wall {wall:.2f} s, {once / max(wall, 1e-9):.1f} answers/s; CPU: bot process {cpu_bot:.1f} s"
        f" ({100 * cpu_bot / max(wall, 1e-9):.0f}% of one core), senders+fakes {cpu_here:.1f} s"
        f" ({100 * cpu_here / max(wall, 1e-9):.0f}%), {multiprocessing.cpu_count()} cores"
    )
    engine_file = data_dir / "engine_ms.txt"
    engine_ms = [float(x) for x in engine_file.read_text().split()[1:]] if engine_file.exists() else []  # not warm-up
    if engine_ms:
        print(
            f"  engine.answer() under this load p50 {pct(engine_ms, 50):7.1f} ms   p95 {pct(engine_ms, 95):7.1f} ms"
            f"   (n={len(engine_ms)}; the rest of a reply is the ack, waiting for an answer thread and posting)"
        )


if __name__ == "__main__":
    main()
