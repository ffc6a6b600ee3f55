"""Answer-quality scoring for ``hrbot eval`` and the answer benchmark.

* ``answer_must_contain``: the share of answerable questions (those that list strings) whose answer
  text contains every string, numbers compared after normalisation ("three" = "3",
  "1,500" = "1500", "12.50" = "12.5", "50 percent" = "50%", "12-week" = "12 weeks"), case and
  spacing ignored;
* abstention precision and recall on the questions marked ``unanswerable``, and the share of
  answerable questions wrongly abstained on;
* citation validity: the share of given answers whose every cited chunk was among the retrieved
  results (an answer with no citation at all is invalid).

``evaluate_answers(questions, answer)`` runs an answerer (``hrbot eval`` passes ``Engine.policy``)
over a question set and reports these figures with the answer latency.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from bot.answering.models import Composition

if TYPE_CHECKING:
    from retrieval.evaluation import EvalQuestion
    from retrieval.pipeline import SearchResult

_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))
# a run of number words: "twenty-five", "two hundred and forty", "three"
_WORD_RUN = re.compile(
    rf"\b(?:{_NUMBER_WORD})(?:[\s-]+(?:{_NUMBER_WORD})|(?:(?<=hundred)|(?<=thousand))\s+and\s+(?:{_NUMBER_WORD}))*\b"
)
_THOUSANDS = re.compile(r"(?<![\d.])(\d{1,3})((?:,\d{3})+)(?![\d,])")
_DECIMAL = re.compile(r"(?<![\d.])(\d+)\.(\d*?)0+(?!\d)")
_PERCENT = re.compile(r"\s*(?:%|\bper\s*cent\b|\bpercent\b)")
_SPACES = re.compile(r"\s+")
_DURATION = re.compile(r"(\d)(?:\s+|-)(second|minute|hour|day|week|month|year)s?\b")


def _words_to_numbers(run: str) -> str:
    """ "twenty-five" -> "25", "two hundred and forty" -> "240"; "one two" stays two numbers."""
    numbers: list[int] = []
    total = current = 0
    last = ""
    for token in re.split(r"[\s-]+", run):
        if token == "and":
            continue
        if token in _UNITS or token in _TENS:
            small = token in _UNITS
            if last == "unit" or (last == "tens" and (not small or _UNITS[token] >= 10)):
                numbers.append(total + current)
                total = current = 0
            current += _UNITS[token] if small else _TENS[token]
            last = "unit" if small else "tens"
        elif token == "hundred":
            current = max(current, 1) * 100
            last = "scale"
        else:  # thousand, million
            total += max(current, 1) * _SCALES[token]
            current = 0
            last = "scale"
    numbers.append(total + current)
    return " ".join(str(n) for n in numbers)


def _decimal(m: re.Match[str]) -> str:
    whole, fraction = m.group(1), m.group(2)
    return f"{whole}.{fraction}" if fraction else whole


def normalise_numbers(text: str) -> str:
    """Lowercase, single-spaced text with numbers in one spelling: digits, no thousands separators,
    no trailing decimal zeros, "%" for percent, and durations in the singular ("12-week" and
    "12 weeks" both read "12 week")."""
    out = text.lower().replace("\u00a0", " ")
    out = re.sub(r"(?<=\w)[‐‑–—](?=\w)", "-", out)
    out = _WORD_RUN.sub(lambda m: _words_to_numbers(m.group(0)), out)
    out = _THOUSANDS.sub(lambda m: m.group(1) + m.group(2).replace(",", ""), out)
    out = _DECIMAL.sub(_decimal, out)
    out = _PERCENT.sub("%", out)
    out = _DURATION.sub(r"\1 \2", out)
    return _SPACES.sub(" ", out).strip()


def contains(answer_text: str, needle: str) -> bool:
    """``needle`` occurs in the answer after normalisation, not inside a longer word or number
    ("6" is not in "16 weeks", "12" is not in "12.5")."""
    hay = normalise_numbers(answer_text)
    want = normalise_numbers(needle)
    if not want:
        return True
    before = r"(?<![\w.])" if want[0].isalnum() else ""
    after = r"(?![\w]|[.,]\d)" if want[-1].isalnum() else ""
    return re.search(before + re.escape(want) + after, hay) is not None


def contains_all(answer_text: str, must_contain: Iterable[str]) -> bool:
    return all(contains(answer_text, needle) for needle in must_contain)


@dataclass(frozen=True)
class AnswerOutcome:
    """What the answerer did with one evaluation question."""

    unanswerable: bool
    must_contain: tuple[str, ...]
    abstained: bool
    text: str
    cited_chunk_ids: tuple[int, ...]
    retrieved_chunk_ids: tuple[int, ...]

    @classmethod
    def of(cls, question: EvalQuestion, composition: Composition, retrieved: Sequence[SearchResult]) -> AnswerOutcome:
        """The outcome of answering ``question`` with ``composition`` from the ``retrieved`` results."""
        return cls.of_ids(question, composition, [r.chunk_id for r in retrieved])

    @classmethod
    def of_ids(
        cls, question: EvalQuestion, composition: Composition, retrieved_chunk_ids: Sequence[int]
    ) -> AnswerOutcome:
        """As ``of``, from the ids of the retrieved chunks (``Engine.policy``'s ``retrieved_chunk_ids``)."""
        return cls(
            unanswerable=question.unanswerable,
            must_contain=question.answer_must_contain,
            abstained=composition.abstain,
            text=composition.text,
            cited_chunk_ids=tuple(composition.cited_chunk_ids),
            retrieved_chunk_ids=tuple(retrieved_chunk_ids),
        )

    @property
    def contains_expected(self) -> bool:
        return not self.abstained and contains_all(self.text, self.must_contain)

    @property
    def citations_valid(self) -> bool:
        return bool(self.cited_chunk_ids) and set(self.cited_chunk_ids) <= set(self.retrieved_chunk_ids)


@dataclass(frozen=True)
class AnswerScore:
    questions: int
    answerable: int
    unanswerable: int
    must_contain_scored: int
    must_contain_share: float
    abstained: int
    abstention_precision: float  # of the abstentions, the share on unanswerable questions (1.0 if none)
    abstention_recall: float  # of the unanswerable questions, the share abstained on (1.0 if none)
    wrongly_abstained_share: float  # of the answerable questions, the share abstained on
    answered: int
    citation_validity: float  # of the answers given, the share whose citations were all retrieved

    def summary(self) -> dict[str, Any]:
        return asdict(self)


def _share(part: int, whole: int, empty: float) -> float:
    return round(part / whole, 4) if whole else empty


def score_answers(outcomes: Sequence[AnswerOutcome]) -> AnswerScore:
    answerable = [o for o in outcomes if not o.unanswerable]
    unanswerable = [o for o in outcomes if o.unanswerable]
    with_strings = [o for o in answerable if o.must_contain]
    abstained = [o for o in outcomes if o.abstained]
    answered = [o for o in outcomes if not o.abstained]
    return AnswerScore(
        questions=len(outcomes),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        must_contain_scored=len(with_strings),
        must_contain_share=_share(sum(o.contains_expected for o in with_strings), len(with_strings), 0.0),
        abstained=len(abstained),
        abstention_precision=_share(sum(o.unanswerable for o in abstained), len(abstained), 1.0),
        abstention_recall=_share(sum(o.abstained for o in unanswerable), len(unanswerable), 1.0),
        wrongly_abstained_share=_share(sum(o.abstained for o in answerable), len(answerable), 0.0),
        answered=len(answered),
        citation_validity=_share(sum(o.citations_valid for o in answered), len(answered), 1.0),
    )


# One answered evaluation question: what the answerer made of it, and the ids of the chunks it retrieved.
Answered = tuple[Composition, Sequence[int]]


@dataclass(frozen=True)
class AnswerReport:
    """Answer quality over a question set, with the answer latency (search and compose)."""

    score: AnswerScore
    latency_p50_ms: float
    latency_p95_ms: float
    per_question: list[dict[str, Any]]

    def summary(self) -> dict[str, Any]:
        return {**self.score.summary(), "latency_p50_ms": self.latency_p50_ms, "latency_p95_ms": self.latency_p95_ms}


def evaluate_answers(questions: Sequence[EvalQuestion], answer: Callable[[EvalQuestion], Answered]) -> AnswerReport:
    """Answer every question with ``answer`` (timed) and score the answers."""
    from retrieval.evaluation import percentile  # the same percentile as the retrieval figures

    outcomes: list[AnswerOutcome] = []
    latencies: list[float] = []
    per_question: list[dict[str, Any]] = []
    for q in questions:
        started = time.perf_counter()
        composition, retrieved = answer(q)
        latency = (time.perf_counter() - started) * 1000
        outcome = AnswerOutcome.of_ids(q, composition, retrieved)
        outcomes.append(outcome)
        latencies.append(latency)
        per_question.append(
            {
                "line": q.line,
                "question": q.question,
                "unanswerable": q.unanswerable,
                "abstained": outcome.abstained,
                "confidence": composition.confidence,
                "contains_expected": outcome.contains_expected if q.answer_must_contain else None,
                "citations_valid": outcome.citations_valid if not outcome.abstained else None,
                "latency_ms": round(latency, 2),
                "answer": composition.text,
            }
        )
    return AnswerReport(
        score_answers(outcomes),
        latency_p50_ms=round(percentile(latencies, 50), 2),
        latency_p95_ms=round(percentile(latencies, 95), 2),
        per_question=per_question,
    )
