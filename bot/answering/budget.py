"""The context an LLM answers from: the best-scored sentences that fit a token budget, by source.

Pasting the top five chunks whole costs about a thousand prompt tokens, most of them about
something else. The extractive composer already scores every sentence of the retrieved chunks
against the question; :func:`context_sentences` asks it for the best ``CONTEXT_SENTENCES`` (with
the same spans: a lead-in brings the rows it introduces) and :func:`fit` keeps them best first,
the extractive answer's own sentences ahead of the rest, until the budget is spent, then groups
them by the chunk they came from and numbers those sources 1, 2, … in order of first use.

Tokens are counted with :func:`count_tokens`, a fast approximation of a BPE tokenizer (no model
load, microseconds): a word of up to 6 characters is one token, longer words one more per 6
characters, every other non-space character one. On the sample policies it counts about 15% more than
the embedding model's word-piece tokenizer (``benchmarks/llm_prompt_tokens.py`` prints both): a safe side.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from bot.answering.extractive import compose
from bot.answering.models import Citation, Composition, QuotedSentence

if TYPE_CHECKING:
    from retrieval.pipeline import SearchResult

CONTEXT_SENTENCES = 12  # asked of the composer; the budget usually stops earlier
_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD_CHARS = 6


def count_tokens(text: str) -> int:
    """Approximate prompt tokens of ``text`` (see the module docstring)."""
    total = 0
    for piece in _TOKEN.findall(text):
        total += 1 + (len(piece) - 1) // _WORD_CHARS if piece[0].isalnum() or piece[0] == "_" else 1
    return total


@dataclass
class Source:
    """One numbered source of the prompt: a chunk and the sentences of it that made the budget."""

    n: int
    citation: Citation  # with this prompt's number ``n``
    sentences: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"[{self.n}] {self.citation.label()}"]
        lines += [f"- {s}" for s in self.sentences]
        return "\n".join(lines)


@dataclass(frozen=True)
class Context:
    sources: list[Source]
    tokens: int  # of the rendered sources

    def render(self) -> str:
        return "\n\n".join(s.render() for s in self.sources)

    def citation(self, n: int) -> Citation | None:
        return next((s.citation for s in self.sources if s.n == n), None)


def context_sentences(
    question: str,
    results: Sequence[SearchResult],
    *,
    terms: Sequence[str] = (),
    countries: Sequence[str] = (),
    entities: Sequence[str] = (),
) -> Composition:
    """The composer's best ``CONTEXT_SENTENCES`` sentences, ranked, whatever the confidence."""
    return compose(
        question,
        results,
        terms=terms,
        max_sentences=CONTEXT_SENTENCES,
        threshold=0.0,
        countries=countries,
        entities=entities,
    )


def fit(compositions: Sequence[Composition], budget_tokens: int) -> Context:
    """The sentences of ``compositions`` (each one's best first; earlier compositions first, so the
    extractive answer's own sentences lead) that fit ``budget_tokens``, grouped by source. The first
    sentence always goes in: a budget smaller than one sentence would leave nothing to answer from."""
    ranked: list[tuple[QuotedSentence, Citation]] = []
    seen: set[str] = set()
    for composition in compositions:
        by_n = {c.n: c for c in composition.citations}
        for s in sorted(composition.sentences, key=lambda s: -s.score):
            key = " ".join(s.text.lower().split())
            if key in seen or s.citation not in by_n:
                continue
            seen.add(key)
            ranked.append((s, by_n[s.citation]))
    sources: dict[int, Source] = {}
    spent = 0
    for sentence, citation in ranked:
        source = sources.get(citation.chunk_id)
        cost = count_tokens(sentence.text) + 2  # "- " and the line break
        if source is None:
            cost += count_tokens(f"[{len(sources) + 1}] {citation.label()}") + 2
        if spent + cost > budget_tokens and sources:
            break
        if source is None:
            n = len(sources) + 1
            source = sources[citation.chunk_id] = Source(n, _renumbered(citation, n))
        source.sentences.append(sentence.text)
        spent += cost
    context = Context(list(sources.values()), 0)
    return Context(context.sources, count_tokens(context.render()))


def whole_chunks(results: Sequence[SearchResult]) -> str:
    """What the budget replaces: the top results pasted whole, numbered (for the benchmark)."""
    return "\n\n".join(f"[{i}] {r.title} › {r.heading_path}\n{r.text}" for i, r in enumerate(results, start=1))


def _renumbered(citation: Citation, n: int) -> Citation:
    return replace(citation, n=n)
