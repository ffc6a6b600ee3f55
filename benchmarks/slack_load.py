"""The Slack bot under load, end to end on loopback: the real Bolt app (``build_app`` + ``make_server``)
in a process of its own, on a fresh embedded database holding the sample company (bot/demo/data:
policies ingested as source "brightwave", people imported); a fake Slack Web API recording every reply;
``--senders`` threads posting ``--events`` signed events (DMs and channel mentions from the sample
employees; balance and policy questions; each a new ``event_id``) plus ``--retries`` Slack retries
(``X-Slack-Retry-Num``) of events already sent, which must not be answered again. A delivery whose
connection is refused or reset is re-sent at once as a retry (as Slack would), at most three times.

Per event: the ack time (first attempt to an HTTP 200) and the time until its answer is posted (the
last ``chat.postMessage``/``chat.postEphemeral`` in its thread). An answer is counted by its audit id
(the feedback buttons), so a channel's "sent privately" notice plus its ephemeral count as one answer.
Also printed: where the time goes inside the bot (waiting for a listener thread, ``ask()``, posting)
and the CPU the bot process used. Target (the issue): every event answered exactly once; ack p95
<= 300 ms; answer posted p95 <= 1.5 s (2 cores, loopback).

    python benchmarks/slack_load.py [--events 200] [--senders 50] [--retries 10] [--pace 0] [--no-cache]
                                    [--backlog N] [--listener-workers N] [--processes N] [--profile PATH]

The bot process warms its engine up as ``bot.slack.serve`` does (``Engine.warm_up``). Before the
burst, two warm-up questions (one drawn like the burst's, one public-holidays question
worded unlike any of the burst's) take first-use costs (imports, holiday calendars) out of the
figures. The fake Slack Web API speaks HTTP/1.1 with kept-alive connections, as Slack's does; the
events are still signed and sent one connection each. CPU is reported per delivery for the bot, the
load generator + fake Slack, and the embedded PostgreSQL (user + kernel time from /proc), since they
share the machine. ``--profile PATH`` records the bot with py-spy (GIL-holding samples, collapsed
stacks, ``PATH.<n>``; ``pip install py-spy``); ``HRBOT_BENCH_THREADS=1`` prints CPU by bot thread.

``--backlog`` and ``--listener-workers`` are experiments that patch the running bot (the listen
backlog of make_server's socket, Bolt's listener thread pool); the defaults measure the bot as built.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from _common import SAMPLE_TODAY, pct, sample_company
from slack_sdk.signature import SignatureVerifier

from bot.engine import Engine
from bot.slack import handlers
from bot.slack.app import build_app, make_server
from bot.slack.render import FEEDBACK_BLOCK_ID, PRIVATE_NOTICE_TEXT
from bot.slack.serve import reserve_port
from hr.db import make_sessionmaker, shared_engine
from hr.settings import Settings
from retrieval.pipeline import SearchService
from tests.fakes.slack_api import FakeSlack, _handler

SECRET = "bench-signing-secret-0123456789abcdef"
BOT = "UBOT0001"
TODAY = SAMPLE_TODAY
CHANNELS = ["C0GENERAL", "C0RANDOM", "C0ENGINEERING", "C0PEOPLE"]
BALANCE_QUESTIONS = [
    "how many vacation days do I have left?",
    "how much pto do i have left",
    "whats my sick leave balance",
    "do I have any pending requests?",
    "how many days off have I taken this year",
]
POLICY_QUESTIONS = [
    "can I carry PTO over into next year?",
    "what is the parental leave policy?",
    "how many vacation days do I get?",
    "how do I claim travel expenses?",
    "can I work remotely from another country?",
    "what happens if I am sick for more than a week?",
    "is there an employee assistance program?",
    "when is the next public holiday?",
    "how much notice do I need to give before taking vacation?",
    "what does the code of conduct say about gifts?",
    "how long is maternity leave in the UK?",
    "how many days of annual leave do employees in Germany get?",
]
WARM_UP_HOLIDAYS = "which upcoming public holidays are there?"


@dataclass
class Sent:
    event_id: str
    channel: str
    ts: str
    kind: str  # "dm" | "mention"
    question: str
    body: str
    started: float = 0.0
    acks_ms: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


class Recorder:
    """Wraps the fake's ``handle`` to time-stamp every reply it receives."""

    def __init__(self, fake: FakeSlack) -> None:
        self.lock = threading.Lock()
        self.replies: list[tuple[float, str, dict[str, Any]]] = []
        inner = fake.handle

        def handle(
            method: str, params: dict[str, Any], token: str | None
        ) -> tuple[int, dict[str, Any], dict[str, str]]:
            if method in ("chat.postMessage", "chat.postEphemeral"):
                with self.lock:
                    self.replies.append((time.monotonic(), method, params))
            return inner(method, params, token)

        fake.handle = handle  # type: ignore[method-assign]


def start_fake() -> tuple[FakeSlack, ThreadingHTTPServer]:
    fake = FakeSlack(bot_user_id=BOT)

    class KeepAlive(_handler(fake)):  # type: ignore[misc]  # as Slack's API does: HTTP/1.1, connections kept open
        protocol_version = "HTTP/1.1"

    server = ThreadingHTTPServer(("127.0.0.1", 0), KeepAlive, bind_and_activate=False)
    server.daemon_threads = True
    server.request_queue_size = 256
    server.server_bind()
    server.server_activate()
    fake.server = server
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return fake, server


def post(url: str, body: str, headers: dict[str, str] | None = None) -> int:
    ts = str(int(time.time()))
    sent = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body),
        **(headers or {}),
    }
    request = urllib.request.Request(url, data=body.encode(), headers=sent, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:  # refused / reset: Slack would retry the delivery
        return 0


def make_events(n: int, people: list[str], rng: random.Random) -> list[Sent]:
    events: list[Sent] = []
    base = int(time.time())
    for i in range(n):
        user = people[i % len(people)]
        question = rng.choice(BALANCE_QUESTIONS if i % 2 else POLICY_QUESTIONS)
        ts = f"{base}.{i + 1:06d}"
        if i % 3 == 0:  # a third are channel mentions, the rest DMs
            channel, kind = CHANNELS[i % len(CHANNELS)], "mention"
            event = {"type": "app_mention", "channel": channel, "user": user, "text": f"<@{BOT}> {question}"}
        else:
            channel, kind = f"D{user[1:]}", "dm"
            event = {"type": "message", "channel": channel, "channel_type": "im", "user": user, "text": question}
        event |= {"ts": ts, "event_ts": ts}
        event_id = f"EvBENCH{i:05d}"
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": "T0TEST01",
                "api_app_id": "A0HRBOT1",
                "type": "event_callback",
                "event_id": event_id,
                "event_time": base,
                "event": event,
            }
        )
        events.append(Sent(event_id, channel, ts, kind, question, body))
    return events


def prepare_database(settings_kwargs: dict[str, Any]) -> tuple[str, list[str]]:
    url, employees = sample_company("hrbot_bench_slack", settings_kwargs)
    return url, sorted(p.slack_user_id for p in employees if p.slack_user_id)


def serve_bot(
    url: str, settings_kwargs: dict[str, Any], listener_workers: int, backlog: int, ports: Any, port: int = 0
) -> None:
    """The bot as deployed: engine, Bolt app and HTTP server in one process of their own."""
    settings = Settings(database_url=url, **settings_kwargs)
    latencies = open(Path(settings_kwargs["data_dir"]) / "engine_ms.txt", "a")  # noqa: SIM115 (the process's life)

    class EngineLatency(logging.Handler):  # the "slack answer" log line carries the engine's latency
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage() == "slack answer":
                latencies.write(f"{getattr(record, 'latency_ms', 0)}\n")
                latencies.flush()

    reply, ask = handlers.answer_and_reply, handlers.ask

    def timed_reply(client: Any, deps: Any, text: str, where: Any) -> None:  # when the listener thread gets it
        started = time.monotonic()
        asked: list[float] = []

        def timed_ask(deps_: Any, question: Any) -> Any:
            t = time.monotonic()
            try:
                return ask(deps_, question)
            finally:
                asked.append(time.monotonic() - t)

        handlers_ask[threading.get_ident()] = timed_ask
        try:
            reply(client, deps, text, where)
        finally:
            ended = time.monotonic()
            timings.write(f"{where.channel} {where.thread} {started} {ended} {sum(asked)}\n")
            timings.flush()

    handlers_ask: dict[int, Any] = {}
    timings = open(Path(settings_kwargs["data_dir"]) / "timings.txt", "a")  # noqa: SIM115
    handlers.answer_and_reply = timed_reply
    handlers.ask = lambda deps_, question: handlers_ask.get(threading.get_ident(), ask)(deps_, question)
    handlers_log = logging.getLogger("bot.slack.handlers")
    handlers_log.setLevel(logging.INFO)
    handlers_log.addHandler(EngineLatency())
    engine = Engine(settings, SearchService(settings, url), today=lambda: TODAY)
    sessions = make_sessionmaker(shared_engine(url))
    engine.warm_up(sessions)  # as bot.slack.serve does before a serving process accepts events
    app = build_app(settings, engine, sessions)
    if listener_workers:  # an experiment: Bolt's default listener pool is ThreadPoolExecutor(max_workers=5)
        pool = ThreadPoolExecutor(max_workers=listener_workers)
        app._listener_runner.listener_executor = pool
        app._listener_runner.lazy_listener_runner.executor = pool  # type: ignore[attr-defined]
    server = make_server(app, host="127.0.0.1", port=port, reuse_port=bool(port))
    if backlog:  # make_server listens with socketserver's default backlog of 5
        server.socket.listen(backlog)
    ports.put(server.server_port)
    server.serve_forever(poll_interval=0.05)


def cpu_seconds(pid: int, which: slice = slice(11, 13), path: Path | None = None) -> float:
    """User + system CPU time of a process so far (Linux /proc); ``which=SYSTEM``: the system part."""
    try:
        fields = (path or Path(f"/proc/{pid}/stat")).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[which]) / os.sysconf("SC_CLK_TCK")


SYSTEM = slice(12, 13)


def postgres_pids(url: str) -> list[int]:
    """The embedded server's postmaster and its backends (none for a server of your own)."""
    host = dict(parse_qsl(urlsplit(url).query)).get("host")
    try:
        postmaster = int((Path(str(host)) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return [postmaster, *children]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--retries", type=int, default=10, help="Slack retries of events already sent")
    parser.add_argument("--pace", type=float, default=0.0, help="seconds a sender waits between its events")
    parser.add_argument("--no-cache", action="store_true", help="query cache off (every policy question searches)")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds to wait for the last answers")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--listener-workers", type=int, default=0, help="swap Bolt's 5-thread listener pool")
    parser.add_argument("--backlog", type=int, default=0, help="re-listen the bot's socket with this backlog")
    parser.add_argument("--processes", type=int, default=1, help="bot processes sharing the port (SO_REUSEPORT)")
    parser.add_argument("--profile", type=Path, help="py-spy (collapsed stacks) of the bot during the burst, to here")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    fake, fake_server = start_fake()
    recorder = Recorder(fake)
    base_settings: dict[str, Any] = {
        "data_dir": Path(tempfile.mkdtemp(prefix="hrbot-bench-slack-")),
        "policy_sources": ["brightwave"],
        "hr_contact": "HR at hr@brightwave.example",
        "slack_bot_token": fake.token,
        "slack_signing_secret": SECRET,
        "slack_api_url": fake.api_url,
        "slack_rate_limit_per_minute": 100_000,
    }
    if args.no_cache:
        base_settings["query_cache_size"] = 0
    url, people = prepare_database(base_settings)
    ports: multiprocessing.Queue[int] = multiprocessing.get_context("spawn").Queue()
    holder = reserve_port("127.0.0.1", 0) if args.processes > 1 else None
    shared_port = holder.getsockname()[1] if holder else 0
    bots = [
        multiprocessing.get_context("spawn").Process(
            target=serve_bot,
            args=(url, base_settings, args.listener_workers, args.backlog, ports, shared_port),
            daemon=True,
        )
        for _ in range(args.processes)
    ]
    for bot in bots:
        bot.start()  # own processes (and GILs): the senders and the fake Slack API do not compete with them
    bot_port = [ports.get(timeout=300) for _ in bots][-1]  # every process is up
    if holder:
        holder.close()
    bot_url = f"http://127.0.0.1:{bot_port}/slack/events"

    # warm-up questions through the whole path (first-use costs out of the figures: imports, the holiday
    # calendars): one drawn like the burst's first, and one public-holidays question worded unlike any of them
    warm = make_events(1, people, rng)[0]
    warm.body = warm.body.replace("EvBENCH00000", "EvWARMUP0000").replace(warm.ts, "1.000001")
    holidays = make_events(2, people, random.Random(0))[1]
    holidays.body = (
        holidays.body.replace("EvBENCH00001", "EvWARMUP0001")
        .replace(holidays.ts, "1.000002")
        .replace(json.dumps(holidays.question)[1:-1], WARM_UP_HOLIDAYS)
    )
    for event in (warm, holidays):
        post(bot_url, event.body)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not recorder.replies:
            time.sleep(0.05)
        time.sleep(0.2)
        with recorder.lock:
            recorder.replies.clear()
    time.sleep(0.3)

    events = make_events(args.events, people, rng)
    # each sender's share; a few senders re-send (as Slack retries) an event they sent earlier
    shares: list[list[tuple[Sent, int]]] = [[] for _ in range(args.senders)]
    for i, event in enumerate(events):
        shares[i % args.senders].append((event, 0))
    retried = rng.sample([s for s in range(args.senders) if shares[s]], min(args.retries, args.senders))
    for s in retried:
        first, _ = shares[s][0]
        shares[s].insert(min(len(shares[s]), 1 + rng.randrange(len(shares[s]))), (first, 1))
    retry_acks: list[float] = []
    failed_sends: list[str] = []  # (connection refused/reset: re-sent at once as a Slack retry)
    gate = threading.Barrier(args.senders + 1)

    def sender(share: list[tuple[Sent, int]]) -> None:
        gate.wait()
        for event, retry in share:
            headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
            started = time.monotonic()
            if not retry:
                event.started = started
            status = post(bot_url, event.body, headers)
            for attempt in range(retry + 1, retry + 4):
                if status:
                    break
                failed_sends.append(event.event_id)
                retry_headers = {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "connection_failed"}
                status = post(bot_url, event.body, retry_headers)
            took = (time.monotonic() - started) * 1000
            event.statuses.append(status)
            (retry_acks if retry else event.acks_ms).append(took)
            if args.pace:
                time.sleep(args.pace)

    threads = [threading.Thread(target=sender, args=(share,), daemon=True) for share in shares]
    for t in threads:
        t.start()
    spies = [
        subprocess.Popen(
            [
                *(
                    shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "--pid",
                    str(b.pid),
                    "--rate",
                    "1000",
                    "--format",
                    "raw",
                    "--threads",
                    "--gil",
                ),
                *("--output", f"{args.profile}.{n}", "--nonblocking"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n, b in enumerate(bots if args.profile else [])
    ]
    if spies:
        time.sleep(1.0)  # py-spy attached
    gate.wait()
    wall_started = time.monotonic()
    thread_cpu = {
        task.name: cpu_seconds(0, path=task / "stat")
        for b in bots
        for task in Path(f"/proc/{b.pid}/task").iterdir()
        if os.environ.get("HRBOT_BENCH_THREADS")
    }
    database_pids = postgres_pids(url)
    cpu_started = (
        time.process_time(),
        sum(cpu_seconds(b.pid or 0) for b in bots),
        sum(cpu_seconds(pid) for pid in database_pids),
        sum(cpu_seconds(b.pid or 0, SYSTEM) for b in bots),
        os.times().system,
    )
    for t in threads:
        t.join()
    sent_done = time.monotonic()

    by_thread = {(e.channel, e.ts): e for e in events}

    def tally() -> dict[str, list[tuple[float, str, dict[str, Any]]]]:
        out: dict[str, list[tuple[float, str, dict[str, Any]]]] = defaultdict(list)
        with recorder.lock:
            for at, method, params in recorder.replies:
                event = by_thread.get((str(params.get("channel")), str(params.get("thread_ts"))))
                if event is not None:
                    out[event.event_id].append((at, method, params))
        return out

    def complete(calls: list[tuple[float, str, dict[str, Any]]], event: Sent) -> bool:
        methods = [m for _, m, _ in calls]
        if event.kind == "mention" and "chat.postEphemeral" in methods:
            return any(PRIVATE_NOTICE_TEXT in str(p.get("text")) for _, m, p in calls if m == "chat.postMessage")
        return bool(calls)

    deadline = time.monotonic() + args.settle
    while time.monotonic() < deadline:
        replies = tally()
        if all(complete(replies.get(e.event_id, []), e) for e in events):
            break
        time.sleep(0.05)
    answered_at = max((at for calls in tally().values() for at, _, _ in calls), default=sent_done)
    cpu_wall = time.monotonic() - wall_started
    cpu_senders = time.process_time() - cpu_started[0]
    cpu_bot = sum(cpu_seconds(b.pid or 0) for b in bots) - cpu_started[1]
    cpu_database = sum(cpu_seconds(pid) for pid in database_pids) - cpu_started[2]
    sys_bot = sum(cpu_seconds(b.pid or 0, SYSTEM) for b in bots) - cpu_started[3]
    sys_senders = os.times().system - cpu_started[4]
    if os.environ.get("HRBOT_BENCH_THREADS"):  # CPU by thread of the bot processes (Linux /proc)
        for b in bots:
            per = {task.name: cpu_seconds(0, path=task / "stat") for task in Path(f"/proc/{b.pid}/task").iterdir()}
            during = {tid: cpu - thread_cpu.get(tid, 0.0) for tid, cpu in per.items()}
            busy = sorted((round(v, 2) for v in during.values() if v), reverse=True)
            print("  bot threads' CPU in the burst (s):", busy)
    for spy in spies:
        spy.send_signal(signal.SIGINT)
        spy.wait()
    time.sleep(2.0)  # anything doubled arrives late
    replies = tally()

    once = lost = doubled = not_ok = 0
    answer_ms: list[float] = []
    kinds: dict[str, int] = defaultdict(int)
    for event in events:
        calls = replies.get(event.event_id, [])
        audit_ids = {_audit_id(p) for _, _, p in calls} - {None}
        notices = sum(1 for _, m, p in calls if m == "chat.postMessage" and PRIVATE_NOTICE_TEXT in str(p.get("text")))
        answers = len(audit_ids) if audit_ids else (1 if calls else 0)
        if not audit_ids and calls:
            not_ok += 1  # replied, but not with an answer (rate limited / error text)
        if notices > 1:
            answers = max(answers, notices)
        if answers == 0:
            lost += 1
        elif answers == 1:
            once += 1
            answer_ms.append((max(at for at, _, _ in calls) - event.started) * 1000)
            kinds[event.kind] += 1
        else:
            doubled += 1
    acks = [ms for e in events for ms in e.acks_ms]
    bad_status = sum(1 for e in events for s in e.statuses if s != 200)

    print(
        f"events {len(events)} (+{len(retry_acks)} retries) from {args.senders} senders, "
        f"pace {args.pace:g} s, query cache {'off' if args.no_cache else 'on'}, "
        f"bot listen backlog {args.backlog or 'make_server default'}"
    )
    print(f"  connection failures re-sent as retries: {len(failed_sends)} ({len(set(failed_sends))} events)")
    print(f"  answered once {once}   lost {lost}   doubled {doubled}   non-answers {not_ok}   non-200 {bad_status}")
    print(f"  ack            p50 {pct(acks, 50):7.1f} ms   p95 {pct(acks, 95):7.1f} ms   max {max(acks):7.1f} ms")
    if retry_acks:
        print(f"  retry ack      p50 {pct(retry_acks, 50):7.1f} ms   p95 {pct(retry_acks, 95):7.1f} ms")
    if answer_ms:
        print(
            f"  answer posted  p50 {pct(answer_ms, 50):7.1f} ms   p95 {pct(answer_ms, 95):7.1f} ms"
            f"   max {max(answer_ms):7.1f} ms   {dict(kinds)}"
        )
    print(
        f"  wall {answered_at - wall_started:.2f} s (all sent in {sent_done - wall_started:.2f} s); "
        f"{once / max(answered_at - wall_started, 1e-9):.1f} answers/s; "
        f"CPU: bot processes ({len(bots)}) {cpu_bot:.1f} s ({100 * cpu_bot / max(cpu_wall, 1e-9):.0f}%), "
        f"senders+fake Slack {cpu_senders:.1f} s ({100 * cpu_senders / max(cpu_wall, 1e-9):.0f}%), "
        f"PostgreSQL {cpu_database:.1f} s, {os.cpu_count()} cores"
    )
    requests = len(events) + len(retry_acks)
    print(
        f"  CPU per delivery: bot {1000 * cpu_bot / requests:.1f} ms, senders+fake Slack "
        f"{1000 * cpu_senders / requests:.1f} ms, PostgreSQL {1000 * cpu_database / requests:.1f} ms "
        f"(of which kernel: bot {1000 * sys_bot / requests:.1f} ms, "
        f"senders+fake {1000 * sys_senders / requests:.1f} ms)"
    )
    engine_file = Path(base_settings["data_dir"]) / "engine_ms.txt"
    # (not the two warm-ups)
    engine_ms = [float(x) for x in engine_file.read_text().split()[2:]] if engine_file.exists() else []
    if engine_ms:
        print(
            f"  engine.answer() under this load p50 {pct(engine_ms, 50):7.1f} ms   p95 {pct(engine_ms, 95):7.1f} ms"
            f"   (n={len(engine_ms)}; the rest of answer-posted is waiting for a listener thread + posting)"
        )
    timing_file = Path(base_settings["data_dir"]) / "timings.txt"
    waits: list[float] = []
    asks: list[float] = []
    posts: list[float] = []
    for line in timing_file.read_text().splitlines() if timing_file.exists() else []:
        channel, thread, begun, ended, asked = line.split()
        event = by_thread.get((channel, thread))
        if event is not None:
            waits.append((float(begun) - event.started) * 1000)
            asks.append(float(asked) * 1000)
            posts.append((float(ended) - float(begun) - float(asked)) * 1000)
    if waits:
        print(
            f"  in the bot: sent->listener starts p50 {pct(waits, 50):.0f} / p95 {pct(waits, 95):.0f} ms;"
            f" ask() p50 {pct(asks, 50):.0f} / p95 {pct(asks, 95):.0f} ms;"
            f" render+post p50 {pct(posts, 50):.0f} / p95 {pct(posts, 95):.0f} ms"
        )
    for bot in bots:
        bot.terminate()
    ports.close()
    ports.join_thread()
    fake_server.shutdown()


def _audit_id(params: dict[str, Any]) -> int | None:
    blocks = params.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return None
    for block in blocks or []:
        if isinstance(block, dict) and block.get("block_id") == FEEDBACK_BLOCK_ID:
            for element in block.get("elements") or []:
                value = str(element.get("value", ""))
                if value.isdigit():
                    return int(value)
    return None


if __name__ == "__main__":
    main()
