"""Ingestion against the real PostgreSQL + pgvector and the real embedding model."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import func, select, text

from retrieval.models import Chunk, Document, DocumentVersion
from retrieval.pipeline import SearchService
from tests.integration.helpers import ingest_folder


def test_ingest_then_reingest_embeds_nothing(settings, sessions, counting_embed, policies) -> None:
    first = ingest_folder(settings, sessions, counting_embed, policies)
    assert (first.seen, first.new, first.failed) == (11, 11, 0)
    assert first.chunks_written > 50
    assert first.chunks_embedded == len(counting_embed.texts) > 0

    counting_embed.texts.clear()
    again = ingest_folder(settings, sessions, counting_embed, policies)
    assert (again.unchanged, again.new, again.changed, again.removed) == (11, 0, 0, 0)
    assert counting_embed.texts == []
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(DocumentVersion)) == 11


def test_every_pdf_chunk_has_its_page_and_heading_path(settings, sessions, embed, policies) -> None:
    ingest_folder(settings, sessions, embed, policies)
    with sessions() as s:
        rows = s.execute(
            select(Chunk.page, Chunk.heading_path, Chunk.countries)
            .join(Document, Document.id == Chunk.document_id)
            .where(Document.path == "de-employee-handbook.pdf")
        ).all()
    assert rows and all(r.page in (1, 2, 3, 4) for r in rows)
    assert {r.page for r in rows} == {1, 2, 3, 4}
    assert all(r.countries == ["DE"] for r in rows)
    assert any("Entitlement" in r.heading_path for r in rows)


def test_changed_file_reembeds_only_changed_chunks_and_keeps_old_version(
    settings, sessions, counting_embed, policies
) -> None:
    ingest_folder(settings, sessions, counting_embed, policies)
    target = policies / "remote-work-policy.md"
    target.write_text(target.read_text() + "\n\n## Pets\n\nDogs are welcome in the Austin office on Fridays.\n")
    counting_embed.texts.clear()

    summary = ingest_folder(settings, sessions, counting_embed, policies)
    assert (summary.changed, summary.unchanged) == (1, 10)
    assert len(counting_embed.texts) == 1 and "Dogs are welcome" in counting_embed.texts[0]

    with sessions() as s:
        doc = s.scalar(select(Document).where(Document.path == "remote-work-policy.md"))
        versions = s.scalars(select(DocumentVersion).where(DocumentVersion.document_id == doc.id)).all()
        assert sorted(v.version_no for v in versions) == [1, 2]
        current_versions = s.scalars(
            select(Chunk.version_id).where(Chunk.document_id == doc.id, Chunk.is_current).distinct()
        ).all()
        assert current_versions == [doc.current_version_id]
        old = next(v for v in versions if v.version_no == 1)
        assert "Dogs are welcome" not in old.content  # the superseded version stays readable as it was
        assert s.scalar(select(func.count()).where(Chunk.version_id == old.id)) == old.chunk_count


def test_removed_file_leaves_search_but_stays_readable(settings, sessions, embed, policies) -> None:
    ingest_folder(settings, sessions, embed, policies)
    (policies / "employee-assistance-program.md").unlink()
    summary = ingest_folder(settings, sessions, embed, policies)
    assert summary.removed == 1

    service = SearchService(settings, settings.database_url.get_secret_value())
    response = service.search("free confidential counselling sessions employee assistance", k=10)
    assert all(r.path != "employee-assistance-program.md" for r in response.results)
    with sessions() as s:
        doc = s.scalar(select(Document).where(Document.path == "employee-assistance-program.md"))
        assert doc.removed_at is not None and doc.current_version_id is None
        version = s.scalar(select(DocumentVersion).where(DocumentVersion.document_id == doc.id))
        assert "counsel" in version.content.lower()

    # the file comes back unchanged: its old version is reused, nothing re-embedded
    shutil.copy(Path(__file__).parents[2] / "bot/demo/data/policies/employee-assistance-program.md", policies)
    back = ingest_folder(settings, sessions, embed, policies)
    assert back.new == 1 and back.chunks_embedded == 0


def test_bad_files_are_reported_and_skipped(settings, sessions, embed, tmp_path, sample_policies) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(sample_policies / "code-of-conduct.md", folder)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<>> garbage without xref")
    (folder / "empty.md").write_text("")
    (folder / "notes.xlsx").write_bytes(b"PK\x03\x04 not really")
    (folder / "broken.docx").write_bytes(b"this is not a zip file")

    summary = ingest_folder(settings, sessions, embed, folder)
    assert summary.seen == 5 and summary.new == 1 and summary.failed == 4
    reasons = dict(summary.failures)
    assert "PDF" in reasons["broken.pdf"]
    assert "empty" in reasons["empty.md"]
    assert "unsupported" in reasons["notes.xlsx"]
    assert "DOCX" in reasons["broken.docx"]


def test_failed_conversion_keeps_previous_version_answering(settings, sessions, embed, policies) -> None:
    ingest_folder(settings, sessions, embed, policies)
    (policies / "de-employee-handbook.pdf").write_bytes(b"%PDF-1.4 truncated")
    summary = ingest_folder(settings, sessions, embed, policies)
    assert summary.failed == 1 and summary.removed == 0
    service = SearchService(settings, settings.database_url.get_secret_value())
    top = service.search("doctor's note AU from day 4", k=3, countries=["DE"]).results
    assert top[0].path == "de-employee-handbook.pdf"


def test_meta_option_sets_audience(settings, sessions, embed, tmp_path, sample_policies) -> None:
    folder = tmp_path / "fr"
    folder.mkdir()
    (folder / "teletravail.md").write_text("# Télétravail\n\nUp to three days of remote work per week.\n")
    ingest_folder(settings, sessions, embed, folder, source="fr", extra_meta={"country": "FR"})
    with sessions() as s:
        assert s.scalar(text("SELECT countries FROM chunks WHERE is_current LIMIT 1")) == ["FR"]


def _postings_match_current_chunks(sessions) -> tuple[int, int]:
    """(postings whose chunk is not current, current chunks without postings)."""
    with sessions() as s:
        stale = s.execute(
            text("SELECT count(*) FROM chunk_terms t JOIN chunks c ON c.id = t.chunk_id WHERE NOT c.is_current")
        ).scalar_one()
        missing = s.execute(
            text(
                "SELECT count(*) FROM chunks c WHERE c.is_current "
                "AND NOT EXISTS (SELECT 1 FROM chunk_terms t WHERE t.chunk_id = c.id)"
            )
        ).scalar_one()
    return stale, missing


def test_keyword_postings_follow_the_current_chunks(settings, sessions, embed, policies) -> None:
    ingest_folder(settings, sessions, embed, policies)
    assert _postings_match_current_chunks(sessions) == (0, 0)

    target = policies / "remote-work-policy.md"
    target.write_text(target.read_text() + "\n\n## Pets\n\nDogs are welcome in the Austin office on Fridays.\n")
    (policies / "employee-assistance-program.md").unlink()
    ingest_folder(settings, sessions, embed, policies)
    assert _postings_match_current_chunks(sessions) == (0, 0)
    with sessions() as s:
        dogs = s.execute(text("SELECT count(*) FROM chunk_terms WHERE lexeme = 'dog'")).scalar_one()
    assert dogs == 1
    service = SearchService(settings, settings.database_url.get_secret_value())
    top = service.search("can I bring my dog to the office", k=3).results[0]
    assert "Dogs are welcome" in top.text


def _document_terms_mismatches(sessions) -> int:
    """Rows of document_terms (and documents.term_total) that differ from the current chunks' postings."""
    with sessions() as s:
        return s.execute(
            text(
                "WITH want AS (SELECT c.document_id, ct.lexeme, sum(ct.tf)::real AS tf FROM chunks c "
                "JOIN chunk_terms ct ON ct.chunk_id = c.id WHERE c.is_current GROUP BY 1, 2), "
                "diff AS ((SELECT * FROM want EXCEPT SELECT * FROM document_terms) "
                "UNION ALL (SELECT * FROM document_terms EXCEPT SELECT * FROM want)) "
                "SELECT (SELECT count(*) FROM diff) + (SELECT count(*) FROM documents d WHERE abs(d.term_total - "
                "coalesce((SELECT sum(tf) FROM want w WHERE w.document_id = d.id), 0)) > 0.01)"
            )
        ).scalar_one()


def test_document_terms_follow_the_current_chunks(settings, sessions, embed, policies) -> None:
    ingest_folder(settings, sessions, embed, policies)
    with sessions() as s:
        assert s.execute(text("SELECT count(*) FROM document_terms")).scalar_one() > 100
    assert _document_terms_mismatches(sessions) == 0

    target = policies / "remote-work-policy.md"
    target.write_text(target.read_text() + "\n\n## Pets\n\nDogs are welcome in the Austin office on Fridays.\n")
    (policies / "employee-assistance-program.md").unlink()
    ingest_folder(settings, sessions, embed, policies)
    assert _document_terms_mismatches(sessions) == 0
    with sessions() as s:
        dog = s.execute(
            text(
                "SELECT d.path, t.tf FROM document_terms t JOIN documents d ON d.id = t.document_id "
                "WHERE t.lexeme = 'dog'"
            )
        ).all()
        removed = s.execute(
            text(
                "SELECT count(*) FROM document_terms t JOIN documents d ON d.id = t.document_id "
                "WHERE d.path = 'employee-assistance-program.md'"
            )
        ).scalar_one()
    assert [row[0] for row in dog] == ["remote-work-policy.md"]
    assert removed == 0
