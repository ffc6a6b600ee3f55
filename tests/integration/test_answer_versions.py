"""An audited answer keeps pointing at the exact text it quoted after the policy changes."""

from __future__ import annotations

from pathlib import Path

from bot.engine import Engine
from bot.question import Asker, Question
from hr.audit import service as audit
from hr.hrdata.importer import import_files
from retrieval.pipeline import SearchService
from tests.integration.helpers import ingest_folder

PEOPLE = Path(__file__).resolve().parents[2] / "bot" / "demo" / "data" / "people"


def test_cited_version_stays_readable_after_the_policy_changes(settings, sessions, embed, policies) -> None:
    ingest_folder(settings, sessions, embed, policies, source="brightwave")
    with sessions() as s:
        import_files(sorted(PEOPLE.glob("*.csv")), session=s)
        s.commit()
    engine = Engine(settings, SearchService(settings, settings.database_url.get_secret_value()))
    question = Question("can I carry unused PTO over into next year?", Asker("slack", "U0ALICE01"))
    with sessions() as s:
        first = engine.answer(question, session=s)
        s.commit()
    assert first.kind == "policy" and first.citations
    cited = {c.chunk_id: c.content_hash for c in first.citations}

    pto = policies / "us-pto-policy.md"
    pto.write_text(pto.read_text().replace("up to 5 days", "up to 8 days").replace("5 days (40 hours)", "8 days"))
    summary = ingest_folder(settings, sessions, embed, policies, source="brightwave")
    assert summary.changed == 1

    with sessions() as s:
        chunks = audit.cited_chunks(first.audit_id, session=s)
        assert {c.chunk_id for c in chunks} == set(cited)
        assert all(c.found and c.body for c in chunks)
        changed = [c for c in chunks if not c.is_current]
        assert changed, "the PTO policy changed, so at least one cited chunk is no longer current"
        assert all("8 days" not in (c.body or "") for c in chunks)  # the text as it was quoted
        assert any("5 days" in (c.body or "") for c in changed)
        second = engine.answer(question, session=s)
        s.commit()
        assert audit.verify(session=s).ok
    assert {c.content_hash for c in second.citations} != {c.content_hash for c in first.citations}
