"""Serve the Slack Events API from several processes on one port (``SO_REUSEPORT``).

Answering is CPU-bound Python, so one process uses one core whatever its thread count. With
``--processes N`` the kernel spreads incoming connections over N processes, each with its own
engine and model. What they must agree on (events already handled, threads answered in, each
user's allowance) lives in PostgreSQL (:mod:`bot.chatstate`), so a Slack retry landing on another
process is still answered once.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from http.server import ThreadingHTTPServer
from types import FrameType

from hr.settings import Settings

log = logging.getLogger(__name__)


def reserve_port(host: str, port: int) -> socket.socket:
    """A bound, not listening, ``SO_REUSEPORT`` socket holding ``port`` (a free one when 0) while
    the serving processes bind to it too."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def build_server(
    settings: Settings, host: str, port: int, path: str, *, reuse_port: bool = False
) -> ThreadingHTTPServer:
    """A serving process's engine, warmed up (:meth:`bot.engine.Engine.warm_up`: the model, the
    search, the personal-figures path), then its Bolt app and HTTP server: the server is bound only
    once the engine is warm, so no event pays first-use costs in the middle of a burst."""
    from bot.engine import Engine
    from bot.slack.app import build_app, make_server
    from hr.db import database_url, make_engine, make_sessionmaker
    from retrieval.pipeline import SearchService

    url = database_url(settings)
    sessions = make_sessionmaker(make_engine(settings, url=url))
    engine = Engine(settings, SearchService(settings, url))
    engine.warm_up(sessions)
    bolt = build_app(settings, engine, sessions)
    return make_server(bolt, host=host, port=port, path=path, reuse_port=reuse_port)


def serve_one(settings: Settings, host: str, port: int, path: str, ready: multiprocessing.Queue[int] | None) -> None:
    """One serving process: its own engine (warmed up) and Bolt app, on the shared port."""
    server = build_server(settings, host, port, path, reuse_port=True)
    if ready is not None:
        ready.put(server.server_port)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


def serve_processes(settings: Settings, *, host: str, port: int, path: str, processes: int) -> None:
    """Start ``processes`` serving processes on one port and wait; SIGINT/SIGTERM stop them all."""
    holder = reserve_port(host, port)
    port = holder.getsockname()[1]
    context = multiprocessing.get_context("spawn")
    ready: multiprocessing.Queue[int] = context.Queue()
    children = [
        context.Process(target=serve_one, args=(settings, host, port, path, ready), name=f"hrbot-slack-{n}")
        for n in range(processes)
    ]
    for child in children:
        child.start()
    try:
        for _ in children:
            ready.get(timeout=600)
    finally:
        holder.close()
    log.info("slack processes ready", extra={"processes": processes, "port": port})
    print(f"hrbot Slack app listening on http://{host}:{port}{path} ({processes} processes)", flush=True)

    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping and all(child.is_alive() for child in children):
            time.sleep(0.5)
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
        for child in children:
            child.join(timeout=10)
    dead = [c.name for c in children if c.exitcode not in (0, -signal.SIGTERM, None)]
    if dead and not stopping:
        raise SystemExit(f"a serving process stopped: {', '.join(dead)}")
