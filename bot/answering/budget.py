"""The context an LLM answers from: sentences of the retrieved chunks that fit a token budget, chosen
so that every retrieved chunk (so every document, and every page of a PDF) is still there to cite.

Pasting the top five chunks whole costs about a thousand prompt tokens, most of them about
something else. The extractive composer already scores every sentence of the retrieved chunks
against the question (a lead-in brings the rows it introduces); :func:`context_sentences` asks it
for its best ``CONTEXT_SENTENCES`` over all the results and, for every result that none of those
came from, for that chunk's own best sentence, all numbered in retrieval order. :func:`fit` then
spends the budget in rounds, so that a source the answer needs is never crowded out by a second
sentence of another:

1. one sentence per retrieved chunk: the extractive answer's own sentence where it quoted that
   chunk, else the chunk's best one (clipped to shares of the budget when they would not all fit
   whole; no document, or page of a PDF, is dropped: past the budget a chunk whose document or page
   is not in yet keeps its sentence clipped to ``MIN_SHARE_TOKENS``);
2. the rest of the extractive answer's sentences;
3. the other sentences, best first, while they fit.

The kept sentences are grouped by chunk, each group under a short label (title and section, no
link: the answer's own "Sources" list carries the full citation) and numbered 1, 2, … in the order the
search ranked them. The recent thread (:func:`fit_thread`) is taken out of the same budget.

Tokens are counted with :func:`count_tokens`, a fast approximation of a BPE tokenizer (no model
load, microseconds): a word of up to 6 characters is one token, longer words one more per 6
characters, every other non-space character one. On the sample policies it counts about 15% more
than the embedding model's word-piece tokenizer (``benchmarks/llm_prompt_tokens.py`` prints both): a
safe side.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from bot.answering.extractive import compose
from bot.answering.models import Citation, Composition, render
from bot.answering.quoting import candidates, quote, span

if TYPE_CHECKING:
    from retrieval.pipeline import SearchResult

CONTEXT_SENTENCES = 12  # asked of the composer over all results; the budget usually stops earlier
PER_CHUNK_SENTENCES = 2  # asked of it for a result none of those came from
MIN_SHARE_TOKENS = 16  # the least a chunk's sentence is clipped to when all chunks must fit
THREAD_SHARE = 0.3  # the most of the budget the recent thread may take
THREAD_TURNS = 4  # turns of the thread considered, newest kept first
TURN_TOKENS = 60  # one turn of the asker's is clipped to this
ANSWER_TURN_TOKENS = 24  # one of the bot's answers, to this
_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD_CHARS = 6
_LINE_COST = 2  # "- " and the line break of a sentence, or the blank line before a source


def count_tokens(text: str) -> int:
    """Approximate prompt tokens of ``text`` (see the module docstring)."""
    total = 0
    for piece in _TOKEN.findall(text):
        total += 1 + (len(piece) - 1) // _WORD_CHARS if piece[0].isalnum() or piece[0] == "_" else 1
    return total


def clip(text: str, max_tokens: int) -> str:
    """``text`` cut at a word so that it counts at most ``max_tokens`` (an ellipsis marks the cut)."""
    if count_tokens(text) <= max_tokens:
        return text
    kept: list[str] = []
    spent = 1  # the ellipsis
    for word in text.split():
        cost = count_tokens(word)
        if spent + cost > max_tokens:
            break
        kept.append(word)
        spent += cost
    return " ".join(kept).rstrip(",;:") + " …"


def short_label(citation: Citation) -> str:
    """``Title › Section, p. N``: the title and the last heading only, no link (the prompt's label)."""
    where = citation.title or "Untitled"
    section = citation.heading_path.split(" > ")[-1].strip() if citation.heading_path else ""
    if section and section.lower() != where.lower():
        where += f" › {section}"
    if citation.page is not None:
        where += f", p. {citation.page}"
    return where


@dataclass
class Source:
    """One numbered source of the prompt: a chunk and the sentences of it that made the budget."""

    n: int
    citation: Citation  # with this prompt's number ``n``
    sentences: list[str] = field(default_factory=list)

    def header(self) -> str:
        return f"[{self.n}] {short_label(self.citation)}"

    def render(self) -> str:
        return "\n".join([self.header(), *(f"- {s}" for s in self.sentences)])


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
    """The composer's best ``CONTEXT_SENTENCES`` sentences over all ``results``, whatever the
    confidence, plus the best ``PER_CHUNK_SENTENCES`` of every result none of those came from (a
    chunk with nothing matching the question gives its opening line). Citations are numbered by
    retrieval rank, so that :func:`fit` can go through the chunks in that order."""

    def ranking(chosen: Sequence[SearchResult], most: int) -> Composition:
        return compose(
            question, chosen, terms=terms, max_sentences=most, threshold=0.0, countries=countries, entities=entities
        )

    wide = ranking(results, CONTEXT_SENTENCES)
    rank = {r.chunk_id: i for i, r in enumerate(results, start=1)}
    citations: dict[int, Citation] = {c.chunk_id: c for c in wide.citations}
    sentences = list(wide.sentences)
    for i, result in enumerate(results, start=1):
        if result.chunk_id in citations:
            continue
        own = ranking([result], PER_CHUNK_SENTENCES)
        found, cited = own.sentences, own.citations
        if not found:
            units = candidates([result])
            if not units:
                continue  # headings only: nothing to quote
            found, cited = quote([(units[0], span(units[0]))])
            found = [replace(s, score=0.0) for s in found]
        citations[result.chunk_id] = cited[0]
        # scores of a one-chunk ranking are not comparable: weigh them down like a lower rank
        sentences += [replace(s, score=s.score / (1 + 0.08 * i) * 0.5) for s in found]
    numbered = {chunk: replace(c, n=rank.get(chunk, len(rank) + 1)) for chunk, c in citations.items()}
    quoted = [replace(s, citation=numbered[s.chunk_id].n) for s in sentences if s.chunk_id in numbered]
    ordered = sorted(numbered.values(), key=lambda c: c.n)
    return Composition(quoted, ordered, wide.confidence, not quoted, render(quoted, ordered), quoted)


@dataclass
class _Entry:
    text: str
    citation: Citation
    score: float
    answer: bool  # one of the extractive answer's own sentences


def fit(compositions: Sequence[Composition], budget_tokens: int) -> Context:
    """The sentences of ``compositions`` (the first one: the extractive answer) that fit
    ``budget_tokens``, chosen in the rounds of the module docstring and grouped by source. The first
    sentence always goes in: a budget smaller than one sentence would leave nothing to answer from."""
    entries: list[_Entry] = []
    seen: set[str] = set()
    chunks: dict[int, Citation] = {}  # in order of first mention: the answer's, then retrieval order
    for i, composition in enumerate(compositions):
        by_n = {c.n: c for c in composition.citations}
        for c in composition.citations:
            chunks.setdefault(c.chunk_id, c)
        for s in sorted(composition.sentences, key=lambda s: -s.score):
            key = " ".join(s.text.lower().split())
            if key in seen or s.citation not in by_n:
                continue
            seen.add(key)
            entries.append(_Entry(s.text, by_n[s.citation], s.score, answer=i == 0))

    def best(pool: list[_Entry], ok: set[int]) -> _Entry | None:
        # the answer's sentences come first in ``entries``, then best-scored first
        return next((e for e in pool if id(e) not in ok), None)

    taken: set[int] = set()
    round1: list[_Entry] = []
    for chunk in chunks:
        mine = [e for e in entries if e.citation.chunk_id == chunk]
        first = next((e for e in mine if e.answer), None) or best(mine, taken)
        if first is not None:
            round1.append(first)
            taken.add(id(first))
    answer_rest = [e for e in entries if e.answer and id(e) not in taken]
    answer_ids = {id(e) for e in answer_rest}
    rest = sorted((e for e in entries if id(e) not in taken and id(e) not in answer_ids), key=lambda e: -e.score)

    sources: dict[int, Source] = {}
    spent = 0

    def cost(entry: _Entry, text: str) -> int:
        extra = 0
        if entry.citation.chunk_id not in sources:
            extra = count_tokens(f"[{len(sources) + 1}] {short_label(entry.citation)}") + _LINE_COST
        return extra + count_tokens(text) + _LINE_COST

    def add(entry: _Entry, text: str) -> None:
        nonlocal spent
        spent += cost(entry, text)
        source = sources.get(entry.citation.chunk_id)
        if source is None:
            n = len(sources) + 1
            source = sources[entry.citation.chunk_id] = Source(n, replace(entry.citation, n=n))
        source.sentences.append(text)

    # round 1: every retrieved chunk; when they would not all fit whole, the longer sentences are
    # clipped to shares of what the labels leave (see _shares)
    # No document (or PDF page) is dropped for the budget: past it, a chunk of one not in yet keeps its
    # sentence clipped to MIN_SHARE_TOKENS (long labels and sentences, as in the Contoso booklets).
    allowed = _shares(round1, budget_tokens)
    for entry in round1:
        text = clip(entry.text, allowed[id(entry)])
        if sources and spent + cost(entry, text) > budget_tokens:
            if _unit(entry.citation) in {_unit(s.citation) for s in sources.values()}:
                continue  # its document (or PDF page) is already there to cite
            text = clip(entry.text, MIN_SHARE_TOKENS)
        add(entry, text)
    # rounds 2-3: whatever still fits
    for entry in [*answer_rest, *rest]:
        if not sources or spent + cost(entry, entry.text) <= budget_tokens:
            add(entry, entry.text)
    # numbered in retrieval order (the last composition's, the wider ranking's), as the search ranked them
    rank = {c.chunk_id: i for i, c in enumerate(compositions[-1].citations)} if compositions else {}
    ordered = sorted(sources.values(), key=lambda s: (rank.get(s.citation.chunk_id, len(rank)), s.n))
    numbered = [Source(n, replace(s.citation, n=n), s.sentences) for n, s in enumerate(ordered, start=1)]
    return Context(numbered, count_tokens(Context(numbered, 0).render()))


def _unit(citation: Citation) -> tuple[int, int | None]:
    """What a citation points a reader at: a document, or one page of a paged one."""
    return citation.document_id, citation.page


def _shares(entries: list[_Entry], budget_tokens: int) -> dict[int, int]:
    """Tokens each of round 1's sentences may keep: all of them when everything fits; else the first
    (the answer's) whole and the others water-filled (a shorter one stays whole and leaves its rest
    to the longer ones), none below ``MIN_SHARE_TOKENS``."""
    sizes = {id(e): count_tokens(e.text) for e in entries}
    labels = sum(count_tokens(f"[{i}] {short_label(e.citation)}") + 2 * _LINE_COST for i, e in enumerate(entries, 1))
    if labels + sum(sizes.values()) <= budget_tokens or len(entries) < 2:
        return sizes
    left = budget_tokens - labels - sizes[id(entries[0])]
    others = sorted(entries[1:], key=lambda e: sizes[id(e)])
    allowed = {id(entries[0]): sizes[id(entries[0])]}
    for i, e in enumerate(others):
        share = max(MIN_SHARE_TOKENS, left // (len(others) - i))
        allowed[id(e)] = min(sizes[id(e)], share)
        left -= allowed[id(e)]
    return allowed


def fit_thread(turns: Sequence[str], budget_tokens: int) -> list[str]:
    """The recent thread for the prompt, oldest first: the newest of the last ``THREAD_TURNS``
    turns (the asker's clipped to ``TURN_TOKENS``, the bot's to ``ANSWER_TURN_TOKENS``) while they
    fit ``THREAD_SHARE`` of ``budget_tokens``."""
    allowed = int(budget_tokens * THREAD_SHARE)
    kept: list[str] = []
    spent = 0
    for turn in reversed(list(turns)[-THREAD_TURNS:]):
        # what the asker said matters more than what the bot answered ("and in Germany?" needs the
        # question before it): the bot's own turns are clipped shorter
        limit = ANSWER_TURN_TOKENS if turn.startswith("You:") else TURN_TOKENS
        text = clip(" ".join(turn.split()), limit)
        cost = count_tokens(text) + 1
        if spent + cost > allowed:
            break
        kept.append(text)
        spent += cost
    return kept[::-1]


def whole_chunks(results: Sequence[SearchResult]) -> Context:
    """What the budget replaces: the top results pasted whole, one numbered source each, with the
    same short labels (for the benchmark and tests)."""
    sources = [Source(n, Citation.of(n, r), [r.text]) for n, r in enumerate(results, start=1)]
    context = Context(sources, 0)
    return Context(sources, count_tokens(context.render()))
