from __future__ import annotations

import pytest

from bot.intent import classify


@pytest.mark.parametrize(
    ("text", "topics", "policy"),
    [
        ("how many vacation days do I have left?", {"balance"}, False),
        ("how much pto do i have left", {"balance"}, False),
        ("whats my sick leave balance", {"balance"}, False),
        ("do i still have pto", {"balance"}, False),
        ("how many sick days have I used", {"balance"}, False),
        ("do I have any pending requests?", {"requests"}, False),
        ("is my vacation approved", {"requests"}, False),
        ("when is the next public holiday", {"holidays"}, False),
        ("how much vacation do I have left and can I carry it over?", {"balance"}, True),
        # policy questions that merely sound personal
        ("can I carry PTO into next year?", set(), True),
        ("how many vacation days do I get in germany", set(), True),
        ("can i split my parental leave into chunks or does it have to be taken all at once", set(), True),
        ("left my work laptop in a taxi last night, who do i tell??", set(), True),
        ("what's the cutoff time to get my travel approved if i'm flying out tomorrow morning", set(), True),
    ],
)
def test_topics_and_policy(text: str, topics: set[str], policy: bool) -> None:
    intent = classify(text)
    assert set(intent.topics) == topics
    assert intent.policy is policy


@pytest.mark.parametrize(
    ("text", "mention"),
    [
        ("how much vacation does Alice have left?", ("Alice", True)),
        ("what is Anna's leave balance?", ("Anna", False)),
        ("show me the leave balance of anna.becker@brightwave.example", ("anna.becker@brightwave.example", True)),
        ("how many days off does <@U0ANNA01> have left?", ("<@U0ANNA01>", True)),
    ],
)
def test_other_people_named(text: str, mention: tuple[str, bool]) -> None:
    intent = classify(text)
    assert intent.personal
    assert mention in intent.mentions


def test_greeting_and_help_are_not_searched() -> None:
    assert classify("hi there!").greeting and not classify("hi there!").policy
    assert classify("thanks so much").greeting
    assert classify("help").help
    assert not classify("hi, how many vacation days do I have left?").greeting
    assert not classify("What's the dress code?").mentions
