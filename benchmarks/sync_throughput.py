"""Sync throughput of a folder source of synthetic policies (1,000 by default) in a fresh database:

1. the cold sync, in-process: chunks/s;
2. a re-sync of the unchanged folder, in-process (incremental and full) and through a real
   ``hrbot worker`` on a real Redis: seconds and chunks embedded (must be 0);
3. one document edited, the sync enqueued to the running worker: seconds from the task starting
   (its sync_runs row's started_at) until a search finds the new text, and chunks embedded. The
   first edit on a fresh worker includes loading the model; the second is what a warm worker does.

Redis: HRBOT_REDIS_URL (its database is flushed), else a redis-server of our own on a free port.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import fresh_database
from pydantic import SecretStr
from sqlalchemy import text

from hr.db import make_sessionmaker, shared_engine, unit_of_work
from hr.settings import Settings
from retrieval.ingest import embedder_from_settings
from retrieval.pipeline import SearchService
from tests.integration.workers_support import (
    Processes,
    RedisServer,
    flush_redis,
    process_env,
    result_of,
    wait_for_worker,
    write_policies,
)
from workers import store
from workers.celery_app import configure
from workers.dispatch import enqueue_sync
from workers.sync import Syncer

# (document, heading, sentence): an edit on the document's own topic (policy-0001 is about sick pay,
# policy-0002 about remote work), as a real edit would be.
EDITS = [
    (1, "Carers", "Employees caring for a sick child get five extra paid carer days a year in Lisbon."),
    (2, "Cafes", "Working from a cafe is fine for two days a week if the laptop screen has a privacy filter."),
]


def counts_line(counts: dict[str, Any]) -> str:
    keys = ("seen", "new", "changed", "unchanged", "removed", "chunks_written", "chunks_embedded")
    return ", ".join(f"{k} {counts.get(k, 0)}" for k in keys)


def started_at(sessions: Any, task_id: str) -> datetime:
    with sessions() as s:
        return s.execute(
            text("SELECT started_at FROM sync_runs WHERE task_id = :t ORDER BY id LIMIT 1"), {"t": task_id}
        ).scalar_one()


def edit_and_time(
    label: str,
    folder: Path,
    edit: tuple[int, str, str],
    settings: Settings,
    sid: int,
    sessions: Any,
    search: Any,
    worker: Any,
) -> None:
    index, heading, sentence = edit
    target = folder / f"policy-{index:04d}.md"
    target.write_text(target.read_text() + f"\n## {heading}\n\n{sentence}\n")
    enqueued = time.time()
    handle = enqueue_sync(settings, sid, trigger="admin")
    deadline = time.monotonic() + 60
    while True:
        hits = search.search(sentence, k=3).results
        if any(sentence in hit.text for hit in hits):
            found = time.time()
            break
        if not worker.alive() or time.monotonic() > deadline:
            shown = "\n".join(f"  {hit.path}: {hit.text[:100]!r}" for hit in hits)
            raise SystemExit(f"the edit never became searchable; the top hits:\n{shown}\n{worker.log_tail()}")
        time.sleep(0.05)
    result = result_of(handle, worker)
    start = started_at(sessions, handle.id).timestamp()
    print(
        f"  {label}: searchable {found - start:.2f} s after the task started ({found - enqueued:.2f} s after"
        f" enqueueing; the sync itself {result['seconds']:.2f} s, mode {result['mode']}):"
        f" {counts_line(result['counts'])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1000, help="synthetic policies to sync")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hrbot-bench-sync-"))
    folder = work / "policies"
    write_policies(folder, args.docs, seed=args.seed)
    url = fresh_database("hrbot_bench_sync")
    redis_server = None if os.environ.get("HRBOT_REDIS_URL") else RedisServer.start()
    redis_url = redis_server.url if redis_server is not None else os.environ["HRBOT_REDIS_URL"]
    flush_redis(redis_url)
    settings = Settings(database_url=SecretStr(url), redis_url=SecretStr(redis_url), data_dir=work / "data")
    configure(settings)
    engine = shared_engine(url)
    sessions = make_sessionmaker(engine)
    with unit_of_work(sessions) as session:
        sid = store.add_source(session, "bench", "folder", {"path": str(folder)}, None).id

    processes = Processes(work)
    try:
        embed = embedder_from_settings(settings)
        embed(["warm up"])
        syncer = Syncer(settings, engine, sessions, embed=embed)
        print(f"{args.docs} synthetic policies in {folder}")

        cold = syncer.sync(sid, trigger="cli")
        written = cold.counts["chunks_written"]
        print(
            f"cold sync (in-process): {cold.counts['seen']} documents, {written} chunks"
            f" ({cold.counts['chunks_embedded']} embedded) in {cold.seconds:.1f} s"
            f" = {written / cold.seconds:.1f} chunks/s"
        )

        print("re-sync, unchanged:")
        for label, full in (("in-process, incremental", False), ("in-process, full", True)):
            again = syncer.sync(sid, trigger="cli", full=full)
            print(f"  {label} ({again.mode}): {again.seconds:.2f} s, {counts_line(again.counts)}")

        worker = processes.worker("worker", process_env(url, redis_url, work / "data"))
        wait_for_worker(worker)
        for label, full in (("worker, incremental", False), ("worker, full", True)):
            enqueued = time.perf_counter()
            result = result_of(enqueue_sync(settings, sid, trigger="admin", full=full), worker)
            print(
                f"  {label} ({result['mode']}): {result['seconds']:.2f} s in the task,"
                f" {time.perf_counter() - enqueued:.2f} s enqueue to result, {counts_line(result['counts'])}"
            )

        search = SearchService(settings, url)
        search.search("warm up the query model", k=3)
        print("one document edited, synced by the worker:")
        edit_and_time("fresh worker (loads the model)", folder, EDITS[0], settings, sid, sessions, search, worker)
        edit_and_time("warm worker", folder, EDITS[1], settings, sid, sessions, search, worker)
    finally:
        processes.kill_all()
        if redis_server is not None:
            redis_server.stop()


if __name__ == "__main__":
    main()
