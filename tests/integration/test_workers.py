"""The Celery side for real: ``hrbot worker`` and ``hrbot beat`` subprocesses, a real Redis broker,
the real embedding model, and a worker SIGKILLed half-way through a sync.

Every test gets a fresh database (``database_url``) and an empty broker (``redis_url``); every
process it starts is killed at its end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery.result import AsyncResult
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from hr.db import make_sessionmaker, shared_engine, unit_of_work
from hr.settings import Settings
from retrieval.ingest import Embedder
from tests.integration.workers_support import (  # noqa: F401  (the *_fixture imports register fixtures)
    Processes,
    make_database_fixture,
    process_env,
    processes_fixture,
    redis_server_url_fixture,
    redis_url_fixture,
    result_of,
    wait_for_worker,
    wait_until,
    write_policies,
)
from workers import store
from workers.celery_app import configure
from workers.dispatch import enqueue_reindex, enqueue_sync
from workers.sync import Syncer

Sessions = sessionmaker[Session]
TASK_TIMEOUT = 120  # a cold worker: start, load the model, sync


# --- helpers ---------------------------------------------------------------------------------------------


def _settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    settings = Settings(
        database_url=SecretStr(database_url), redis_url=SecretStr(redis_url), data_dir=tmp_path / "data"
    )
    configure(settings)
    return settings


def _add_folder(sessions: Sessions, name: str, folder: Path, interval: int | None = None) -> int:
    with unit_of_work(sessions) as session:
        return store.add_source(session, name, "folder", {"path": str(folder)}, interval).id


def _runs(sessions: Sessions, source_id: int) -> list[dict[str, Any]]:
    with sessions() as s:
        rows = s.execute(
            text(
                "SELECT id, trigger, mode, status, task_id, counts, errors FROM sync_runs"
                " WHERE source_id = :id ORDER BY id"
            ),
            {"id": source_id},
        )
        return [dict(row._mapping) for row in rows]


def _documents(sessions: Sessions, source: str) -> dict[str, dict[str, Any]]:
    """Per path: live or removed, its versions, its current chunks and its current version's chunk count."""
    with sessions() as s:
        rows = s.execute(
            text(
                "SELECT d.path, d.removed_at IS NULL AS live,"
                " (SELECT count(*) FROM document_versions v WHERE v.document_id = d.id) AS versions,"
                " (SELECT count(*) FROM chunks c WHERE c.document_id = d.id AND c.is_current) AS current_chunks,"
                " (SELECT v.chunk_count FROM document_versions v WHERE v.id = d.current_version_id) AS chunk_count"
                " FROM documents d JOIN sources s ON s.id = d.source_id WHERE s.name = :source"
            ),
            {"source": source},
        )
        return {row.path: dict(row._mapping) for row in rows}


def _index_problems(sessions: Sessions) -> dict[str, int]:
    """Counts of what must never be: two current chunks at one place, a current chunk of an old
    version, a live document without current chunks."""
    with sessions() as s:
        return {
            "duplicate current chunks": s.execute(
                text(
                    "SELECT count(*) FROM (SELECT document_id, ordinal FROM chunks WHERE is_current"
                    " GROUP BY 1, 2 HAVING count(*) > 1) dup"
                )
            ).scalar_one(),
            "current chunks of an old version": s.execute(
                text(
                    "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id"
                    " WHERE c.is_current AND c.version_id IS DISTINCT FROM d.current_version_id"
                )
            ).scalar_one(),
            "live documents without chunks": s.execute(
                text(
                    "SELECT count(*) FROM documents d WHERE d.removed_at IS NULL AND NOT EXISTS"
                    " (SELECT 1 FROM chunks c WHERE c.document_id = d.id AND c.is_current)"
                )
            ).scalar_one(),
        }


NO_PROBLEMS = {"duplicate current chunks": 0, "current chunks of an old version": 0, "live documents without chunks": 0}


def _keyword_hits(sessions: Sessions, words: str) -> list[str]:
    """Paths of the documents whose current chunks match ``words`` (the keyword half of search)."""
    with sessions() as s:
        return list(
            s.scalars(
                text(
                    "SELECT DISTINCT d.path FROM chunks c JOIN documents d ON d.id = c.document_id"
                    " WHERE c.is_current AND c.tsv @@ plainto_tsquery('english', :q) ORDER BY 1"
                ),
                {"q": words},
            )
        )


def _count(sessions: Sessions, sql: str, **params: Any) -> int:
    with sessions() as s:
        return int(s.execute(text(sql), params).scalar_one())


# --- tests -------------------------------------------------------------------------------------------------


def test_worker_syncs_a_folder_then_only_what_changed(
    database_url: str, redis_url: str, sessions: Sessions, processes: Processes, tmp_path: Path
) -> None:
    folder = tmp_path / "handbook"
    write_policies(folder, 4, seed=1)
    source_id = _add_folder(sessions, "handbook", folder)
    settings = _settings(database_url, redis_url, tmp_path)
    worker = processes.worker("worker", process_env(database_url, redis_url, tmp_path / "data"))

    handle = enqueue_sync(settings, source_id, trigger="admin")
    first = result_of(handle, worker)
    assert (first["status"], first["mode"]) == ("succeeded", "full"), first
    assert (first["counts"]["new"], first["counts"]["failed"]) == (4, 0)
    docs = _documents(sessions, "handbook")
    assert sorted(docs) == [f"policy-{i:04d}.md" for i in range(4)]
    assert all(d["live"] and d["versions"] == 1 and d["current_chunks"] == d["chunk_count"] > 0 for d in docs.values())
    assert _index_problems(sessions) == NO_PROBLEMS
    assert _keyword_hits(sessions, "Policy 0002") == ["policy-0002.md"]
    [run] = _runs(sessions, source_id)
    assert (run["trigger"], run["mode"], run["status"], run["task_id"]) == ("admin", "full", "succeeded", handle.id)

    edited = folder / "policy-0001.md"
    edited.write_text(edited.read_text() + "\n## Dogs\n\nDogs are welcome in the Austin office on Fridays.\n")
    (folder / "policy-0003.md").unlink()
    second = result_of(enqueue_sync(settings, source_id, trigger="admin"), worker)
    assert (second["status"], second["mode"]) == ("succeeded", "changes"), second
    counts = second["counts"]
    # read: the edited file (the folder connector may skip files whose size and mtime it knows)
    assert (counts["new"], counts["changed"], counts["removed"], counts["failed"]) == (0, 1, 1, 0), counts
    assert counts["seen"] - counts["unchanged"] == 1, counts
    assert counts["chunks_embedded"] == 1  # the new section only: the edited file's other chunks are reused

    after = _documents(sessions, "handbook")
    assert after["policy-0001.md"]["versions"] == 2 and after["policy-0001.md"]["live"]
    assert not after["policy-0003.md"]["live"] and after["policy-0003.md"]["current_chunks"] == 0
    for path in ("policy-0000.md", "policy-0002.md"):
        assert after[path] == docs[path]  # untouched
    assert _keyword_hits(sessions, "dogs welcome Fridays") == ["policy-0001.md"]
    assert _keyword_hits(sessions, "Policy 0003") == []
    assert _index_problems(sessions) == NO_PROBLEMS
    assert [(r["mode"], r["status"]) for r in _runs(sessions, source_id)] == [
        ("full", "succeeded"),
        ("changes", "succeeded"),
    ]


def test_two_syncs_of_one_source_at_once_one_is_skipped(
    database_url: str, redis_url: str, sessions: Sessions, processes: Processes, tmp_path: Path
) -> None:
    folder = tmp_path / "handbook"
    write_policies(folder, 6, seed=2)
    source_id = _add_folder(sessions, "handbook", folder)
    settings = _settings(database_url, redis_url, tmp_path)
    worker = processes.worker("worker", process_env(database_url, redis_url, tmp_path / "data"), concurrency=2)
    wait_for_worker(worker)  # idle and consuming: it takes both messages at once

    handles = [enqueue_sync(settings, source_id, trigger="admin") for _ in range(2)]
    results = [result_of(h, worker) for h in handles]
    assert sorted(r["status"] for r in results) == ["skipped", "succeeded"], results
    runs = _runs(sessions, source_id)
    assert sorted(r["status"] for r in runs) == ["skipped", "succeeded"]
    assert {r["task_id"] for r in runs} == {h.id for h in handles}
    skipped = next(r for r in runs if r["status"] == "skipped")
    assert skipped["errors"] == ["another sync of this source was running"]

    docs = _documents(sessions, "handbook")
    assert len(docs) == 6
    assert all(d["live"] and d["versions"] == 1 and d["current_chunks"] == d["chunk_count"] > 0 for d in docs.values())
    assert _index_problems(sessions) == NO_PROBLEMS


def test_a_failing_source_does_not_stop_the_others(
    database_url: str, redis_url: str, sessions: Sessions, processes: Processes, tmp_path: Path
) -> None:
    good_folder, gone_folder = tmp_path / "good", tmp_path / "gone"
    write_policies(good_folder, 3, seed=3)
    write_policies(gone_folder, 2, seed=4)
    gone_id = _add_folder(sessions, "gone", gone_folder)
    good_id = _add_folder(sessions, "good", good_folder)
    for path in gone_folder.iterdir():
        path.unlink()
    gone_folder.rmdir()  # deleted after the source was added
    settings = _settings(database_url, redis_url, tmp_path)
    worker = processes.worker("worker", process_env(database_url, redis_url, tmp_path / "data"))  # one at a time

    results = result_of(enqueue_reindex(settings, [gone_id, good_id], trigger="admin"), worker)
    by_source = {r["source"]: r for r in results}
    assert by_source["gone"]["status"] == "failed" and not by_source["gone"]["retryable"]
    assert "does not exist" in " ".join(by_source["gone"]["errors"])
    assert by_source["good"]["status"] == "succeeded" and by_source["good"]["counts"]["new"] == 3

    [gone_run] = _runs(sessions, gone_id)
    assert (gone_run["trigger"], gone_run["mode"], gone_run["status"]) == ("admin", "full", "failed")
    assert any("does not exist" in str(e) for e in gone_run["errors"])
    [good_run] = _runs(sessions, good_id)
    assert (good_run["mode"], good_run["status"]) == ("full", "succeeded")
    assert sorted(_documents(sessions, "good")) == ["policy-0000.md", "policy-0001.md", "policy-0002.md"]
    assert _documents(sessions, "gone") == {}
    assert _keyword_hits(sessions, "Policy 0001") == ["policy-0001.md"]


KILL_DOCS = 150


def test_sigkill_mid_sync_is_redelivered_and_matches_a_clean_sync(
    database_url: str,
    redis_url: str,
    sessions: Sessions,
    processes: Processes,
    make_database: Callable[[], str],
    embed: Embedder,
    tmp_path: Path,
) -> None:
    """The message of a sync whose worker was SIGKILLed stays unacknowledged in Redis (acks_late);
    kombu puts it back on the queue once it is older than the visibility timeout, in a sweep every
    worker makes when it starts (and then only every unacked_restore_interval x throttle, 100 s by
    default). So: a 5 s timeout, and the new worker starts after it."""
    folder = tmp_path / "big"
    write_policies(folder, KILL_DOCS, seed=5, sentences=1)  # ~2 short chunks each: writes come in 2 groups
    source_id = _add_folder(sessions, "big", folder)
    settings = _settings(database_url, redis_url, tmp_path)
    env = process_env(database_url, redis_url, tmp_path / "data", HRBOT_CELERY_VISIBILITY_TIMEOUT="5")
    doomed = processes.worker("doomed", env)

    handle = enqueue_sync(settings, source_id, trigger="admin")
    docs_sql = "SELECT count(*) FROM documents WHERE source_id = :id"
    wait_until(lambda: _count(sessions, docs_sql, id=source_id) > 0, TASK_TIMEOUT, "the first documents written")
    doomed.kill()
    written = _count(sessions, docs_sql, id=source_id)
    chunks_at_kill = _count(sessions, "SELECT count(*) FROM chunks WHERE source_id = :id", id=source_id)
    assert 0 < written < KILL_DOCS, "the kill came too late to be mid-sync"
    assert [r["status"] for r in _runs(sessions, source_id)] == ["running"]

    # A new worker: the broker hands it the message the dead one never acknowledged (acks_late),
    # once the message is older than the visibility timeout.
    survivor = processes.worker("survivor", env)
    result = result_of(AsyncResult(handle.id), survivor)
    assert result["status"] == "succeeded", result
    counts = result["counts"]
    assert counts["unchanged"] >= written and counts["new"] + counts["unchanged"] == KILL_DOCS, counts

    print(f"killed after {written} of {KILL_DOCS} documents ({chunks_at_kill} chunks); redelivered run: {counts}")
    runs = _runs(sessions, source_id)
    assert [(r["status"], r["task_id"]) for r in runs] == [("interrupted", handle.id), ("succeeded", handle.id)]

    # The same folder synced cleanly into another database gives the same index.
    clean_url = make_database()
    clean_sessions = make_sessionmaker(shared_engine(clean_url))
    clean_id = _add_folder(clean_sessions, "big", folder)
    clean_settings = Settings(database_url=SecretStr(clean_url), data_dir=tmp_path / "clean")
    clean = Syncer(clean_settings, shared_engine(clean_url), clean_sessions, embed=embed).sync(clean_id)
    assert clean.status == "succeeded" and clean.counts["new"] == KILL_DOCS

    got, want = _documents(sessions, "big"), _documents(clean_sessions, "big")
    assert sorted(got) == sorted(want) == [f"policy-{i:04d}.md" for i in range(KILL_DOCS)]
    assert {p: d["versions"] for p, d in got.items()} == dict.fromkeys(want, 1)
    assert {p: d["current_chunks"] for p, d in got.items()} == {p: d["current_chunks"] for p, d in want.items()}
    assert got == want
    total_sql = "SELECT count(*) FROM chunks WHERE is_current"
    total = _count(clean_sessions, total_sql)
    assert _count(sessions, total_sql) == total == clean.counts["chunks_written"]
    # nothing the killed run wrote was embedded again, everything it had not written was
    assert counts["chunks_embedded"] == total - chunks_at_kill
    assert _index_problems(sessions) == _index_problems(clean_sessions) == NO_PROBLEMS


def test_beat_schedules_sources_and_picks_up_new_ones(
    database_url: str, redis_url: str, sessions: Sessions, processes: Processes, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write_policies(first, 2, seed=6)
    write_policies(second, 2, seed=7)
    first_id = _add_folder(sessions, "first", first, interval=10)
    _settings(database_url, redis_url, tmp_path)
    env = process_env(database_url, redis_url, tmp_path / "data", HRBOT_BEAT_RELOAD_SECONDS="1")
    worker = processes.worker("worker", env)
    wait_for_worker(worker)
    beat = processes.beat(env)
    started = time.monotonic()

    def scheduled_success(source_id: int) -> Callable[[], bool]:
        def check() -> bool:
            assert beat.alive(), beat.log_tail()
            return any(r["trigger"] == "schedule" and r["status"] == "succeeded" for r in _runs(sessions, source_id))

        return check

    wait_until(scheduled_success(first_id), 40, "a scheduled sync of the first source", interval=0.5)
    first_seconds = time.monotonic() - started

    second_id = _add_folder(sessions, "second", second, interval=10)  # beat is running: no restart
    added = time.monotonic()
    wait_until(scheduled_success(second_id), 30, "a scheduled sync of the source added later", interval=0.5)
    second_seconds = time.monotonic() - added
    assert beat.alive()
    assert first_seconds < 40 and second_seconds < 30
    assert len(_documents(sessions, "second")) == 2
    print(f"first scheduled sync after {first_seconds:.1f} s, the added source's after {second_seconds:.1f} s")


def test_admin_reindex_on_the_workers_updates_the_admins_slack_message(
    database_url: str, redis_url: str, sessions: Sessions, processes: Processes, tmp_path: Path
) -> None:
    """``/hr-admin reindex`` with workers: the syncs run on the sync queue, then the chord's callback
    on the chat queue updates the admin's "started" message in Slack (a fake Web API here)."""
    from tests.fakes.slack_api import fake_slack

    folder = tmp_path / "handbook"
    write_policies(folder, 2, seed=11)
    source_id = _add_folder(sessions, "handbook", folder)
    settings = _settings(database_url, redis_url, tmp_path)
    with fake_slack() as slack:
        env = process_env(
            database_url,
            redis_url,
            tmp_path / "data",
            HRBOT_SLACK_BOT_TOKEN=slack.token,
            HRBOT_SLACK_API_URL=slack.api_url,
        )
        worker = processes.start(
            "worker",
            ["worker", "-Q", "hrbot.sync,hrbot.chat", "-c", "2", "--pool", "threads", "-l", "info", "-n", "slack@%h"],
            env,
        )
        notify = {"channel": "D0ADMIN1", "ts": "1700000000.000100", "user": "U0ADMIN1"}
        handle = enqueue_reindex(settings, [source_id], trigger="admin", notify=notify)
        [update] = slack.wait_for("chat.update", timeout=TASK_TIMEOUT)
        assert handle.id
        assert worker.process.poll() is None
    assert (update.params["channel"], update.params["ts"]) == ("D0ADMIN1", "1700000000.000100")
    assert "Reindex done" in update.params["text"] and "`handbook` succeeded" in update.params["text"]
    assert "2 new" in update.params["text"]
    [run] = _runs(sessions, source_id)
    assert (run["trigger"], run["mode"], run["status"]) == ("admin", "full", "succeeded")
