"""The chat adapters' shared state in PostgreSQL: what several bot processes must agree on."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from bot.chatstate.store import AnsweredThreads, SeenEvents, SharedRateLimiter


def test_an_event_is_first_only_once_across_processes(sessions) -> None:
    one, two = SeenEvents(sessions, "slack"), SeenEvents(sessions, "slack")  # as two bot processes
    assert one.add("Ev001") and not two.add("Ev001") and not one.add("Ev001")
    assert SeenEvents(sessions, "teams").add("Ev001")  # platforms do not share ids


def test_concurrent_deliveries_of_one_event_have_one_winner(sessions) -> None:
    seen = SeenEvents(sessions, "slack")
    barrier = threading.Barrier(8)
    wins: list[bool] = []

    def deliver() -> None:
        barrier.wait()
        wins.append(seen.add("EvRACE"))

    pool = [threading.Thread(target=deliver) for _ in range(8)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_answered_threads_remember_the_opening_question(sessions) -> None:
    threads = AnsweredThreads(sessions, "slack")
    assert "C1:1.0" not in threads
    threads.add("C1:1.0", "how much parental leave do I get?")
    threads.add("C1:1.0", "and in Germany?")  # the opening question is kept
    other = AnsweredThreads(sessions, "slack")
    assert "C1:1.0" in other and other.question("C1:1.0") == "how much parental leave do I get?"
    assert "C1:2.0" not in other and other.question("C1:2.0") is None
    with sessions() as session:
        session.execute(text("UPDATE chat_threads SET created_at = now() - interval '8 days'"))
        session.commit()
    assert "C1:1.0" not in other  # forgotten after a week


def test_rate_limit_is_a_shared_token_bucket_and_refusals_cost_nothing(sessions) -> None:
    a, b = SharedRateLimiter(sessions, "slack", 3), SharedRateLimiter(sessions, "slack", 3)
    assert [a.allow("U1"), b.allow("U1"), a.allow("U1")] == [True, True, True]
    assert not b.allow("U1") and not a.allow("U1")
    assert a.allow("U2")  # per user
    steady = SharedRateLimiter(sessions, "teams", 120)  # 2 a second
    allowed = 0
    while steady.allow("U3"):  # the full bucket, plus what refills while it drains
        allowed += 1
        assert allowed < 200
    assert allowed >= 120
    time.sleep(1.1)  # about 2.2 tokens back
    assert steady.allow("U3") and steady.allow("U3")
    assert not steady.allow("U3")
