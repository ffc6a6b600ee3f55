"""Policy answers are cached per question and audience until the index changes, never after."""

from __future__ import annotations

from bot.engine import Engine
from retrieval.pipeline import SearchService
from tests.integration.helpers import ingest_folder


def test_a_cached_policy_answer_is_dropped_when_the_index_changes(settings, sessions, embed, policies) -> None:
    ingest_folder(settings, sessions, embed, policies, source="brightwave")
    search = SearchService(settings, settings.database_url.get_secret_value())
    engine = Engine(settings, search)
    question = "can I carry unused PTO over into next year?"

    first = engine.policy(question)
    again = engine.policy("  Can I carry unused PTO over into next year? ")
    assert first.search_ms > 0 and again.search_ms == 0.0  # the second came from the cache
    assert again.retrieved_chunk_ids == first.retrieved_chunk_ids
    other = engine.policy(question, countries=["DE"])
    assert other.search_ms > 0  # another audience is another entry

    pto = policies / "us-pto-policy.md"
    pto.write_text(pto.read_text().replace("up to 5 days", "up to 8 days").replace("5 days (40 hours)", "8 days"))
    ingest_folder(settings, sessions, embed, policies, source="brightwave")
    fresh = engine.policy(question)
    assert fresh.search_ms > 0 and fresh.retrieved_chunk_ids != first.retrieved_chunk_ids
    assert "8 days" in fresh.composition.text


def test_the_cache_can_be_turned_off(settings, sessions, embed, policies) -> None:
    ingest_folder(settings, sessions, embed, policies, source="brightwave")
    off = settings.model_copy(update={"answer_cache_size": 0})
    engine = Engine(off, SearchService(off, settings.database_url.get_secret_value()))
    engine.policy("how many vacation days do I get?")
    assert engine.policy("how many vacation days do I get?").search_ms > 0
