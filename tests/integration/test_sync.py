"""The sync of a source, in-process (no Celery): incremental reads, pruning, run records, the
per-source lock, contained failures, and HR data from a CSV drop folder. Real Postgres, real model."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from hr.db import shared_engine, unit_of_work
from hr.hrdata.models import Employee
from retrieval.models import Chunk, Document, Source
from tests.fakes.website import fake_website
from workers import store
from workers.models import SyncRun
from workers.sync import Syncer

PEOPLE = Path(__file__).resolve().parents[2] / "bot" / "demo" / "data" / "people"


@pytest.fixture
def syncer(settings, sessions, database_url, counting_embed) -> Syncer:
    return Syncer(settings, shared_engine(database_url), sessions, embed=counting_embed)


def add(sessions, name: str, kind: str, settings: dict, interval: int | None = 60) -> int:
    with unit_of_work(sessions) as session:
        return store.add_source(session, name, kind, settings, interval).id


def current_paths(sessions, source: str) -> set[str]:
    with sessions() as session:
        rows = session.scalars(
            select(Document.path)
            .join(Source, Source.id == Document.source_id)
            .where(Source.name == source, Document.removed_at.is_(None))
        )
        return set(rows)


def runs(sessions, source_id: int) -> list[SyncRun]:
    with sessions() as session:
        return list(session.scalars(select(SyncRun).where(SyncRun.source_id == source_id).order_by(SyncRun.id)))


def test_folder_source_syncs_only_what_changed_and_prunes_deletions(syncer, sessions, policies, counting_embed):
    source_id = add(sessions, "handbook", "folder", {"path": str(policies)})
    first = syncer.sync("handbook")
    assert (first.status, first.mode) == ("succeeded", "full")
    assert first.counts["new"] == 11 and first.counts["chunks_embedded"] > 50
    assert len(current_paths(sessions, "handbook")) == 11

    counting_embed.texts.clear()
    edited = policies / "remote-work-policy.md"
    edited.write_text(edited.read_text() + "\n\n## Unicorns\n\nEvery Friday brings a free unicorn ride.\n")
    (policies / "code-of-conduct.md").unlink()
    second = syncer.sync("handbook")
    assert (second.status, second.mode) == ("succeeded", "changes")
    # only the edited file was read (its size and modification time changed), and only its new chunk embedded
    assert (second.counts["seen"], second.counts["changed"], second.counts["removed"]) == (1, 1, 1)
    assert len(counting_embed.texts) == 1 and "unicorn" in counting_embed.texts[0]
    assert "code-of-conduct.md" not in current_paths(sessions, "handbook")
    with sessions() as session:
        hits = session.scalar(select(func.count()).where(Chunk.is_current, Chunk.body.contains("unicorn ride")))
    assert hits == 1

    history = runs(sessions, source_id)
    assert [(r.trigger, r.mode, r.status) for r in history] == [
        ("cli", "full", "succeeded"),
        ("cli", "changes", "succeeded"),
    ]
    assert all(r.finished_at is not None and r.seconds is not None for r in history)
    with sessions() as session:
        source = session.get(Source, source_id)
        assert source is not None and source.last_success_started_at == history[-1].started_at


def test_a_busy_source_records_a_skipped_run_and_changes_nothing(syncer, sessions, policies, database_url):
    source_id = add(sessions, "busy", "folder", {"path": str(policies)})
    holder = shared_engine(database_url).connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        assert store.try_lock(holder, source_id)
        result = syncer.sync("busy")
    finally:
        store.unlock(holder, source_id)
        holder.close()
    assert result.status == "skipped"
    assert current_paths(sessions, "busy") == set()
    assert [r.status for r in runs(sessions, source_id)] == ["skipped"]


def test_a_run_left_running_by_a_dead_worker_is_marked_interrupted(syncer, sessions, policies):
    source_id = add(sessions, "crashy", "folder", {"path": str(policies)})
    with unit_of_work(sessions) as session:
        store.start_run(session, source_id, trigger="schedule", mode="full", task_id="dead")
    assert syncer.sync("crashy").status == "succeeded"
    assert [r.status for r in runs(sessions, source_id)] == ["interrupted", "succeeded"]


def test_an_unreachable_source_fails_its_run_and_leaves_the_index_answering(syncer, sessions, policies):
    source_id = add(sessions, "moving", "folder", {"path": str(policies)})
    assert syncer.sync("moving").status == "succeeded"
    before = current_paths(sessions, "moving")
    with sessions() as session:
        good = session.get(Source, source_id).last_success_started_at  # type: ignore[union-attr]
    shutil.rmtree(policies)

    result = syncer.sync("moving")
    assert result.status == "failed" and "does not exist" in result.errors[0]
    assert current_paths(sessions, "moving") == before  # nothing pruned
    with sessions() as session:
        assert session.get(Source, source_id).last_success_started_at == good  # type: ignore[union-attr]


def test_a_page_that_fails_is_reported_and_the_cursor_stays(syncer, sessions):
    with fake_website() as site:
        for n in range(3):
            site.page(f"/hr/p{n}.html", f"<h1>Policy {n}</h1><p>Rule number {n} about leave and pay.</p>")
        url = site.sitemap("/sitemap.xml", [f"/hr/p{n}.html" for n in range(3)])
        source_id = add(sessions, "intranet", "website", {"url": url})
        site.fail("/hr/p2.html", 500, times=99)
        result = syncer.sync("intranet")
        assert result.status == "partial" and result.counts["new"] == 2 and result.counts["failed"] == 1
        assert any("p2.html" in e for e in result.errors)
        with sessions() as session:
            source = session.get(Source, source_id)
            assert source is not None and source.last_success_started_at is None  # the cursor did not move

        site.failures.clear()
        again = syncer.sync("intranet")
        assert again.status == "succeeded" and again.mode == "full" and again.counts["new"] == 1
    assert len(current_paths(sessions, "intranet")) == 3


def test_hr_csv_drop_folder_imports_new_files_once_and_keeps_linked_slack_ids(syncer, sessions, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(PEOPLE / "employees.csv", drop / "employees.csv")
    shutil.copy(PEOPLE / "balances.csv", drop / "balances.csv")
    add(sessions, "hris", "hr-csv", {"path": str(drop)})

    first = syncer.sync("hris")
    assert first.status == "succeeded" and first.counts["files"] == 2 and first.counts["inserted"] > 10
    assert syncer.sync("hris").counts["files"] == 0  # nothing new was dropped

    # an export without chat ids must not unlink the Slack id stored on first contact
    rows = (drop / "employees.csv").read_text().splitlines()
    header = rows[0].split(",")
    slack_at = header.index("slack_user_id")
    stripped = [rows[0]] + [",".join("" if i == slack_at else c for i, c in enumerate(r.split(","))) for r in rows[1:]]
    stripped[1] = stripped[1].replace("Maya Chen", "Maya Chen-Li")
    (drop / "employees.csv").write_text("\n".join(stripped) + "\n")
    third = syncer.sync("hris")
    assert third.status == "succeeded" and third.counts["files"] == 1 and third.counts["updated"] == 1
    with sessions() as session:
        maya = session.scalar(select(Employee).where(Employee.email == "maya.chen@brightwave.example"))
        assert maya is not None and maya.name == "Maya Chen-Li" and maya.slack_user_id == "U0MAYA01"


def test_a_rejected_hr_file_is_reported_and_retried_next_time(syncer, sessions, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "balances.csv").write_text(
        "email,leave_type,period,entitled,taken,pending,carried_over,unit\nnobody@example.com,vacation,2026,20,1,0,0,days\n"
    )
    source_id = add(sessions, "hris", "hr-csv", {"path": str(drop)})
    result = syncer.sync("hris")
    assert result.status == "partial" and result.counts["rejected"] == 1
    assert any("nobody@example.com" in e for e in result.errors)
    with sessions() as session:
        assert session.get(Source, source_id).state.get("files", {}) == {}  # type: ignore[union-attr]
    assert syncer.sync("hris").counts["files"] == 1  # tried again


def test_removing_a_source_removes_its_documents(syncer, sessions, policies):
    add(sessions, "gone", "folder", {"path": str(policies)})
    syncer.sync("gone")
    with unit_of_work(sessions) as session:
        store.remove_source(session, store.get_source(session, "gone"))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 0
        assert session.execute(text("SELECT count(*) FROM chunk_terms")).scalar_one() == 0
    assert os.path.isdir(policies)  # the files themselves are untouched


def test_a_file_moved_in_with_an_old_modification_time_is_still_read(syncer, sessions, policies, tmp_path):
    add(sessions, "drop", "folder", {"path": str(policies)})
    syncer.sync("drop")
    old = tmp_path / "archive" / "expat-policy.md"
    old.parent.mkdir()
    old.write_text("# Expat policy\n\nEmployees abroad get a relocation allowance of 3,000 euros.\n")
    os.utime(old, (1_500_000_000, 1_500_000_000))  # 2017, long before the last sync
    shutil.move(old, policies / "expat-policy.md")
    result = syncer.sync("drop")
    assert result.mode == "changes" and result.counts["new"] == 1
    assert "expat-policy.md" in current_paths(sessions, "drop")
