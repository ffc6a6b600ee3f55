"""Candidate sentences of the retrieved chunks, and how much of a chunk quoting one of them takes.

A sentence is quoted with what it needs to stand alone: a lead-in ("... as follows:", a question in
an FAQ) brings what it introduces, a list or table as far as it fits; a sentence cut off at a line
end brings the next line (and what that introduces); a fragment ("This includes ...") or a list item
brings the line before it; a cell of a table flattened one per line brings the cell after it.
Every quote keeps the citation of the chunk it came from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.answering.models import Citation, QuotedSentence
from bot.answering.sentences import Unit, content_stems, split_units, stem, words

if TYPE_CHECKING:
    from retrieval.pipeline import SearchResult

MAX_WORDS = 70  # longer quotes (run-on PDF text, giant table rows) are trimmed around the match
_FRAGMENT_WORDS = 6
_SHORT_SENTENCE_WORDS = 10
_PRONOUN_START = re.compile(r"^(this|that|these|those|it|they|such|however|also|otherwise|in addition)\b", re.I)
_SENTENCE_END = re.compile(r"[.!?:;)\]\"'”’]$")


@dataclass
class Candidate:
    """A quotable unit of one search result, with the stems that score it."""

    result: SearchResult
    result_index: int
    unit: Unit
    units: list[Unit]  # the whole chunk, for context and neighbours
    stems: set[str]
    head_stems: set[str]  # the chunk's title and heading path
    context_stems: set[str]  # the line that introduces the unit
    score: float = 0.0
    coverage: float = 0.0


def candidates(results: Sequence[SearchResult], markers: Sequence[tuple[str, re.Pattern[str]]] = ()) -> list[Candidate]:
    """Every quotable unit of ``results``; ``markers`` add a pseudo-stem to the units whose text
    matches (an answer type such as "has a figure")."""
    out: list[Candidate] = []
    for index, result in enumerate(results):
        units = split_units(result.text)
        head = set(content_stems(f"{result.title} {result.heading_path}"))
        for unit in units:
            if unit.kind in ("label", "header"):  # headings, title lines: context, never quoted alone
                continue
            lead = _lead_in(unit, units)
            context = set(content_stems(lead.text)) if lead else set()
            stems = set(content_stems(unit.text)) | {m for m, pattern in markers if pattern.search(unit.text)}
            out.append(Candidate(result, index, unit, units, stems, head, context))
    return out


def _lead_in(unit: Unit, units: list[Unit]) -> Unit | None:
    """The line that introduces ``unit``: the one before it, or for an item of a list or table the
    lead-in above the whole list ("Team members are entitled to:", a table's header)."""
    i = unit.position - 1
    if unit.kind in ("bullet", "row", "item"):
        while i >= 0 and units[i].kind == unit.kind and not units[i].lead_in:
            i -= 1
    if i >= 0 and units[i].lead_in:
        return units[i]
    return None


def span(c: Candidate) -> range:
    """The units quoted for ``c`` (see the module docstring)."""
    i = c.unit.position
    units = c.units
    start, end = i, i + 1
    if end < len(units) and (_cut_off(c.unit) or _continued(c.unit, units)):
        end += 1
    if _introduces(units[end - 1]):  # the sentence, or the line that ends it, introduces a list
        budget = MAX_WORDS - sum(len(units[j].text.split()) for j in range(i, end))
        first = end
        while end < len(units) and units[end].kind != "label" and not _introduces(units[end]):
            budget -= len(units[end].text.split())
            if budget < 0 and end > first:
                break
            end += 1
            if units[end - 1].kind not in ("bullet", "row", "header", "item"):
                break
    if c.unit.kind == "item":  # a cell of a flattened table: with the one after it ("Cesar Chavez Day; March 31")
        return range(i, end + 1 if end < len(units) and units[end].kind == "item" else end)
    if i > 0 and c.unit.kind != "row":
        previous = units[i - 1]
        if (previous.lead_in and not _introduces(c.unit)) or (_is_fragment(c.unit) and previous.kind != "label"):
            start = i - 1
    return range(start, end)


def _is_fragment(unit: Unit) -> bool:
    return len(unit.text.split()) < _FRAGMENT_WORDS or bool(_PRONOUN_START.match(unit.text))


def _continued(unit: Unit, units: list[Unit]) -> bool:
    """A short sentence that opens a paragraph or bullet ("Additional RTT days for work-life
    balance.") is quoted with the sentence after it, which says more about it."""
    i = unit.position
    return (
        unit.kind in ("sentence", "bullet")
        and i + 1 < len(units)
        and units[i + 1].block == unit.block
        and (i == 0 or units[i - 1].block != unit.block)
        and len(unit.text.split()) < _SHORT_SENTENCE_WORDS
    )


def _introduces(unit: Unit) -> bool:
    return unit.kind in ("sentence", "bullet") and unit.text.rstrip().endswith((":", "?"))


def _cut_off(unit: Unit) -> bool:
    """A sentence that stops mid-way at a line end ("... they can contact")."""
    return unit.kind == "sentence" and not _SENTENCE_END.search(unit.text.rstrip())


def span_text(c: Candidate, quoted: range) -> str:
    parts: list[str] = []
    for i in quoted:
        unit = c.units[i]
        if unit.kind == "header" and i != c.unit.position:
            continue  # the rows below name its columns
        text = unit.text
        if unit.kind == "label" and not text.endswith(":"):
            text += ":"
        if unit.kind == "item" and i + 1 in quoted and c.units[i + 1].kind == "item":
            text += ";"
        parts.append(text)
    return _trim(" ".join(parts), c)


def _trim(text: str, c: Candidate) -> str:
    tokens = text.split()
    if len(tokens) <= MAX_WORDS:
        return text
    hits = [i for i, t in enumerate(tokens) if stem(t.strip(".,;:()\"'").lower()) in c.stems]
    centre = hits[len(hits) // 2] if hits else 0
    start = max(0, min(centre - MAX_WORDS // 2, len(tokens) - MAX_WORDS))
    piece = " ".join(tokens[start : start + MAX_WORDS])
    return ("… " if start > 0 else "") + piece + (" …" if start + MAX_WORDS < len(tokens) else "")


def dedupe_key(text: str) -> str:
    return " ".join(words(text))


def overlaps(a: Candidate, a_span: range, b: Candidate, b_span: range) -> bool:
    return a.result.chunk_id == b.result.chunk_id and bool(set(a_span) & set(b_span))


def quote(picked: Sequence[tuple[Candidate, range]]) -> tuple[list[QuotedSentence], list[Citation]]:
    """The picked sentences with citations numbered in order of first use, one per chunk."""
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    quoted: list[QuotedSentence] = []
    for c, units in picked:
        r = c.result
        if r.chunk_id not in numbers:
            numbers[r.chunk_id] = len(numbers) + 1
            citations.append(Citation.of(numbers[r.chunk_id], r))
        quoted.append(QuotedSentence(span_text(c, units), numbers[r.chunk_id], r.chunk_id, round(c.score, 4)))
    return quoted, citations
