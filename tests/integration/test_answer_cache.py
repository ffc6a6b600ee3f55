"""Policy answers are cached per question and audience until the index changes, never after."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bot.engine import Engine, GenerationCache, PolicyResult
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


def test_a_burst_of_the_same_question_is_searched_once(settings, sessions, embed, policies) -> None:
    """Threads asking the same uncached question at once: one searches and quotes, the rest wait for
    its result (single-flight), and get it as a cache hit."""
    ingest_folder(settings, sessions, embed, policies, source="brightwave")
    engine = Engine(settings, SearchService(settings, settings.database_url.get_secret_value()))
    engine.policy("warm the model up")
    computed = 0
    inner = engine._policy
    all_asking = threading.Barrier(8)

    def slow_policy(*args: Any) -> Any:
        nonlocal computed
        computed += 1
        time.sleep(0.3)  # every other thread asks while this one computes
        return inner(*args)

    engine._policy = slow_policy  # type: ignore[method-assign]

    def ask(_: int) -> PolicyResult:
        all_asking.wait()
        return engine.policy("how many vacation days do I get?")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(ask, range(8)))
    assert computed == 1
    assert len({tuple(r.retrieved_chunk_ids) for r in results}) == 1
    assert sorted(r.search_ms > 0 for r in results) == [False] * 7 + [True]
    engine.policy("how many vacation days do I get?")
    assert computed == 1


def test_a_failed_computation_is_not_cached_and_the_next_caller_computes_again() -> None:
    cache: GenerationCache[str] = GenerationCache(4)
    started, release = threading.Event(), threading.Event()

    def failing() -> str:
        started.set()
        release.wait(5)
        raise RuntimeError("search failed")

    errors: list[BaseException] = []

    def lead() -> None:
        try:
            cache.get_or_compute("q", 1, failing)
        except RuntimeError as exc:
            errors.append(exc)

    def wait_for_it() -> None:
        try:
            cache.get_or_compute("q", 1, lambda: pytest.fail("a waiter must not compute"))
        except RuntimeError as exc:
            errors.append(exc)

    leader = threading.Thread(target=lead)
    leader.start()
    assert started.wait(5)
    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    time.sleep(0.1)  # the waiter has joined the leader's computation
    release.set()
    leader.join(5)
    waiter.join(5)
    assert [str(e) for e in errors] == ["search failed", "search failed"]  # the waiter got the leader's error
    assert cache.get("q", 1) is None
    assert cache.get_or_compute("q", 1, lambda: "answer") == ("answer", True)  # the key is not poisoned
    assert cache.get_or_compute("q", 1, lambda: "other") == ("answer", False)


def test_a_computation_for_an_old_generation_is_not_joined_by_a_new_one() -> None:
    cache: GenerationCache[str] = GenerationCache(4)
    started, release = threading.Event(), threading.Event()

    def old() -> str:
        started.set()
        release.wait(5)
        return "stale"

    leader = threading.Thread(target=lambda: cache.get_or_compute("q", 1, old))
    leader.start()
    assert started.wait(5)
    assert cache.get_or_compute("q", 2, lambda: "fresh") == ("fresh", True)  # not the generation-1 flight
    release.set()
    leader.join(5)
    assert cache.get("q", 2) is None  # the generation-1 result replaced it: never served for generation 2
    assert cache.get_or_compute("q", 2, lambda: "fresh again") == ("fresh again", True)
