"""The audit log against a real PostgreSQL: the chain, tampering through SQL, export and the CLI."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from bot.cli.main import app
from hr.audit import service
from hr.audit.chain import GENESIS_HASH, row_hash
from hr.audit.models import AuditEntry, AuditHead
from hr.audit.records import AuditCitation, AuditEntryView, AuditLookup, AuditRecord
from hr.db import shared_engine
from retrieval.models import EMBEDDING_DIM, Chunk, Document, DocumentVersion, Source

USERS = [("ada@acme.test", 11, "U0ADA"), ("bob@acme.test", 22, "U0BOB")]
BOB_LOOKUP = {"query": "leave_balance", "subject_employee_id": 22, "subject_email": "bob@acme.test"}


def _record(i: int, *, user: int = 0, citations: tuple[AuditCitation, ...] = ()) -> AuditRecord:
    email, employee_id, platform_id = USERS[user]
    return AuditRecord(
        kind="lookup" if i % 3 == 2 else "answer",
        surface="slack",
        question=f"question {i}: how many vacation days do I have left? [ünïcode]",
        answer_text=f"answer {i}",
        platform_user_id=platform_id,
        employee_id=employee_id,
        employee_email=email.upper(),
        channel="D0CHANNEL",
        thread=f"1700000000.{i:06d}",
        citations=citations
        or (AuditCitation(1, 7, 70 + i, 2, "ab" * 32, (700 + i, 701 + i), "https://hr.test/pto", "PTO", 3),),
        lookups=(AuditLookup("leave_balance", subject_employee_id=employee_id, subject_email=email),),
        latency_ms=100 + i,
    )


def _append(sessions: sessionmaker[Session], record: AuditRecord) -> AuditEntryView:
    with sessions() as session, session.begin():
        return service.append(record, session=session)


def _sql(database_url: str, *statements: str) -> None:
    """Tamper with the table the way someone with database access would: plain SQL, committed."""
    with shared_engine(database_url).begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def _problems(sessions: sessionmaker[Session]) -> list[tuple[int, str]]:
    with sessions() as session:
        return [(p.seq, p.kind) for p in service.verify(session=session).problems]


@pytest.fixture
def entries(sessions: sessionmaker[Session]) -> list[AuditEntryView]:
    return [_append(sessions, _record(i, user=i % 2)) for i in range(1, 6)]


def test_append_builds_a_gap_free_hash_chain(sessions, entries) -> None:
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in entries[1:]] == [e.row_hash for e in entries[:-1]]
    assert len({e.row_hash for e in entries}) == 5
    with sessions() as session:
        report = service.verify(session=session)
        stored = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert report.ok and report.checked == 5
    assert (report.head_seq, report.head_hash) == (5, entries[-1].row_hash)
    assert all(row_hash(row) == row.row_hash for row in stored)
    first = stored[0]
    assert first.employee_email == "bob@acme.test"  # normalised
    assert first.lookups == [BOB_LOOKUP]
    assert first.citations[0]["chunk_ids"] == [701, 702]


def test_append_only_flushes_the_caller_commits(sessions) -> None:
    with sessions() as session:
        service.append(_record(1), session=session)
        session.rollback()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0
        assert session.scalar(select(AuditHead.seq)) == 0
        assert service.verify(session=session).ok


def test_empty_log_verifies(sessions) -> None:
    with sessions() as session:
        report = service.verify(session=session)
    assert report.ok and report.checked == 0 and report.head_seq == 0


def test_edited_answer_is_reported(sessions, database_url, entries) -> None:
    _sql(database_url, "UPDATE audit_log SET answer_text = 'you have 99 days' WHERE seq = 3")
    assert _problems(sessions) == [(3, "edited")]


def test_edit_with_a_recomputed_hash_is_reported(sessions, entries) -> None:
    with sessions() as session, session.begin():
        row = session.scalars(select(AuditEntry).where(AuditEntry.seq == 3)).one()
        row.answer_text = "you have 99 days"
        row.row_hash = row_hash(row)
    problems = _problems(sessions)
    assert (3, "edited") in problems
    assert all(seq == 3 for seq, _ in problems)


def test_edited_last_row_with_a_recomputed_hash_is_reported(sessions, entries) -> None:
    with sessions() as session, session.begin():
        row = session.scalars(select(AuditEntry).where(AuditEntry.seq == 5)).one()
        row.question = "something else"
        row.row_hash = row_hash(row)
    assert _problems(sessions) == [(5, "edited")]


def test_deleted_middle_row_is_reported(sessions, database_url, entries) -> None:
    _sql(database_url, "DELETE FROM audit_log WHERE seq = 3")
    with sessions() as session:
        report = service.verify(session=session)
    assert [(p.seq, p.kind, p.entry_id) for p in report.problems] == [(3, "removed", None)]
    assert report.checked == 4


def test_deleted_first_row_is_reported(sessions, database_url, entries) -> None:
    _sql(database_url, "DELETE FROM audit_log WHERE seq = 1")
    assert _problems(sessions) == [(1, "removed")]


def test_deleted_tail_row_is_reported(sessions, database_url, entries) -> None:
    _sql(database_url, "DELETE FROM audit_log WHERE seq = 5")
    assert _problems(sessions) == [(5, "removed")]


def test_next_append_after_tail_deletion_keeps_the_gap_visible(sessions, database_url, entries) -> None:
    _sql(database_url, "DELETE FROM audit_log WHERE seq = 5")
    appended = _append(sessions, _record(6))
    assert appended.seq == 6
    assert _problems(sessions) == [(5, "removed")]


def test_deleted_head_is_reported_and_stops_appends(sessions, database_url, entries) -> None:
    _sql(database_url, "DELETE FROM audit_log WHERE seq = 5", "DELETE FROM audit_head")
    assert _problems(sessions) == [(4, "removed")]
    with pytest.raises(service.AuditChainError), sessions() as session:
        service.append(_record(6), session=session)


def test_swapped_contents_are_reported(sessions, database_url, entries) -> None:
    _sql(
        database_url,
        "UPDATE audit_log a SET question = b.question, answer_text = b.answer_text"
        " FROM audit_log b WHERE (a.seq, b.seq) IN ((2, 3), (3, 2))",
    )
    assert _problems(sessions) == [(2, "edited"), (3, "edited")]


def test_swapped_order_is_reported(sessions, database_url, entries) -> None:
    _sql(
        database_url,
        "UPDATE audit_log SET seq = -seq WHERE seq IN (2, 3)",
        "UPDATE audit_log SET seq = CASE seq WHEN -2 THEN 3 ELSE 2 END WHERE seq IN (-2, -3)",
    )
    problems = _problems(sessions)
    assert {(2, "reordered"), (3, "reordered"), (4, "reordered")} <= set(problems)
    assert {seq for seq, _ in problems} == {2, 3, 4}


def test_row_inserted_behind_the_services_back_is_reported(sessions, database_url, entries) -> None:
    last = entries[-1]
    _sql(
        database_url,
        "INSERT INTO audit_log (id, seq, created_at, kind, surface, question, answer_text, prev_hash, row_hash)"
        f" VALUES (999, 6, now(), 'answer', 'cli', 'q', 'a', '{last.row_hash}', '{'f' * 64}')",
    )
    assert _problems(sessions) == [(6, "edited"), (6, "inserted")]


def test_feedback_is_outside_the_chain(sessions, entries) -> None:
    target = entries[1]
    with sessions() as session, session.begin():
        service.record_feedback(target.id, "up", session=session)
    with sessions() as session, session.begin():
        feedback = service.record_feedback(target.id, "down", "wrong country", session=session)
    assert (feedback.value, feedback.comment) == ("down", "wrong country")
    with sessions() as session:
        view = service.get(target.id, session=session)
        assert service.verify(session=session).ok
        with pytest.raises(service.AuditEntryNotFoundError):
            service.record_feedback(12345, "up", session=session)
        with pytest.raises(ValueError, match="feedback"):
            service.record_feedback(target.id, "meh", session=session)  # type: ignore[arg-type]
    assert view is not None and view.feedback is not None
    assert (view.feedback.value, view.feedback.comment) == ("down", "wrong country")


def test_list_filters_by_user_and_time(sessions, entries) -> None:
    with sessions() as session:
        newest = service.list_entries(session=session, limit=2)
        by_email = service.list_entries(session=session, user="Ada@Acme.test")
        by_employee = service.list_entries(session=session, user="22")
        by_platform = service.list_entries(session=session, user="U0ADA")
        since = service.list_entries(session=session, since=entries[2].created_at)
        later = service.list_entries(session=session, since=entries[-1].created_at + timedelta(seconds=1))
    assert [e.seq for e in newest] == [5, 4]
    assert [e.seq for e in by_email] == [4, 2]
    assert [e.seq for e in by_employee] == [5, 3, 1]
    assert [e.seq for e in by_platform] == [4, 2]
    assert [e.seq for e in since] == [5, 4, 3]
    assert later == []


def test_cited_version_stays_readable_after_the_policy_changes(sessions) -> None:
    vector = [1.0] + [0.0] * (EMBEDDING_DIM - 1)
    with sessions() as session, session.begin():
        source = Source(name="acme")
        session.add(source)
        session.flush()
        doc = Document(source_id=source.id, path="pto.md")
        session.add(doc)
        session.flush()
        old = _version(session, doc, 1, "You may carry over 5 days.", vector)
        citation = AuditCitation(1, doc.id, old.version_id, 1, "1" * 64, (old.id,), "https://hr.test/pto", "PTO")
        audit_id = service.append(_record(1, citations=(citation,)), session=session).id
    with sessions() as session, session.begin():
        session.execute(text("UPDATE chunks SET is_current = false"))
        new = _version(session, session.get_one(Document, doc.id), 2, "You may carry over 10 days.", vector)
    with sessions() as session:
        chunks = service.cited_chunks(audit_id, session=session)
        with pytest.raises(service.AuditEntryNotFoundError):
            service.cited_chunks(424242, session=session)
    assert [(c.chunk_id, c.body, c.is_current, c.content_hash) for c in chunks] == [
        (old.id, "You may carry over 5 days.", False, "1" * 64)
    ]
    assert new.id != old.id


def _version(session: Session, doc: Document, number: int, body: str, vector: list[float]) -> Chunk:
    version = DocumentVersion(
        document_id=doc.id, version_no=number, content_hash=str(number) * 64, title="PTO", uri="u", content=body
    )
    session.add(version)
    session.flush()
    chunk = Chunk(
        version_id=version.id,
        document_id=doc.id,
        source_id=doc.source_id,
        ordinal=0,
        title="PTO",
        heading_path="PTO > Carry-over",
        body=body,
        text_hash=str(number) * 64,
        embedding=vector,
        is_current=True,
    )
    session.add(chunk)
    doc.current_version_id = version.id
    session.flush()
    return chunk


def test_concurrent_appends_keep_one_valid_chain(sessions) -> None:
    threads, per_thread = 4, 10
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                _append(sessions, _record(worker * 100 + i, user=worker % 2))
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert errors == []
    with sessions() as session:
        report = service.verify(session=session)
        seqs = session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
    assert report.ok, report.problems
    assert list(seqs) == list(range(1, threads * per_thread + 1))


@pytest.fixture
def cli(database_url, monkeypatch) -> CliRunner:
    monkeypatch.setenv("HRBOT_DATABASE_URL", database_url)
    return CliRunner()


def test_cli_verify_ok_then_fails_after_tampering(cli, database_url, entries) -> None:
    ok = cli.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "OK: 5 entries" in ok.stdout
    _sql(database_url, "UPDATE audit_log SET answer_text = 'x' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 4")
    failed = cli.invoke(app, ["audit", "verify"])
    assert failed.exit_code == 1
    assert "seq 2 (id" in failed.stdout and "edited" in failed.stdout
    assert "seq 4: removed" in failed.stdout
    assert "FAILED: 2 problems in 4 entries" in failed.stdout


def test_cli_export_jsonl_round_trip(cli, entries) -> None:
    result = cli.invoke(app, ["audit", "export", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["row_hash"] for r in rows] == [e.row_hash for e in entries]
    assert rows[0]["question"] == entries[0].question
    assert rows[0]["citations"][0]["content_hash"] == "ab" * 32
    assert rows[0]["lookups"] == [
        {"query": "leave_balance", "subject_employee_id": 22, "subject_email": "bob@acme.test"}
    ]

    since = cli.invoke(app, ["audit", "export", "--format", "jsonl", "--since", entries[3].created_at.isoformat()])
    assert [json.loads(line)["seq"] for line in since.stdout.splitlines()] == [4, 5]
    user = cli.invoke(app, ["audit", "export", "--format", "jsonl", "--user", "ada@acme.test"])
    assert [json.loads(line)["seq"] for line in user.stdout.splitlines()] == [2, 4]


def test_cli_export_csv_to_file(cli, sessions, entries, tmp_path) -> None:
    with sessions() as session, session.begin():
        service.record_feedback(entries[0].id, "down", 'says "5", policy says 10', session=session)
    target = tmp_path / "audit.csv"
    result = cli.invoke(app, ["audit", "export", "--format", "csv", "--user", "U0BOB", "--output", str(target)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [int(r["seq"]) for r in rows] == [1, 3, 5]
    assert rows[0]["answer_text"] == "answer 1" and rows[0]["employee_id"] == "22"
    assert (rows[0]["feedback"], rows[0]["feedback_comment"]) == ("down", 'says "5", policy says 10')
    assert rows[1]["feedback"] == ""
    assert json.loads(rows[0]["citations"])[0]["chunk_ids"] == [701, 702]


def test_cli_list_and_show(cli, entries) -> None:
    listed = cli.invoke(app, ["audit", "list", "--user", "22", "--limit", "2"])
    assert listed.exit_code == 0, listed.output
    assert "2 entries" in listed.stdout
    shown = cli.invoke(app, ["audit", "show", str(entries[2].id)])
    assert shown.exit_code == 0, shown.output
    assert "answer 3" in shown.stdout and "[ünïcode]" in shown.stdout
    assert "ab" * 32 in shown.stdout and "leave_balance" in shown.stdout
    assert "chunk 703: no longer stored" in shown.stdout
    missing = cli.invoke(app, ["audit", "show", "999999"])
    assert missing.exit_code == 1


def test_cli_rejects_a_bad_since(cli) -> None:
    result = cli.invoke(app, ["audit", "list", "--since", "last tuesday"])
    assert result.exit_code == 2
