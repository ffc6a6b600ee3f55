"""Structure-aware chunking that fits the embedding model's window.

Sections (one heading path each) are split on paragraphs, then sentences, then words, and packed
into chunks whose *embedded text* (title, heading path and body) stays within the token budget,
so nothing is silently truncated by the model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer

from retrieval.converters.base import ParsedDocument, Section

MODEL_WINDOW = 256
SPECIAL_TOKENS = 2  # [CLS] and [SEP]
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+(?=[\"'(\[]?[A-Z0-9•\-])|\n")


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    title: str
    headings: tuple[str, ...]
    page: int | None  # where the text starts (paged formats)
    body: str
    page_end: int | None = None  # where it ends, when it runs over a page break

    @property
    def heading_path(self) -> str:
        return " > ".join(self.headings)

    @property
    def embed_text(self) -> str:
        return embed_text(self.title, self.heading_path, self.body)


def embed_text(title: str, heading_path: str, body: str) -> str:
    """The text the model sees: the document title and heading path give every chunk its context."""
    head = f"{title} > {heading_path}" if heading_path else title
    return f"{head}\n{body}"


class TokenCounter:
    """Counts word-piece tokens with the model's own fast tokenizer (no torch needed)."""

    def __init__(self, model_path: str) -> None:
        self._tokenizer = _load_tokenizer(str(Path(model_path) / "tokenizer.json"))

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def counts(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]


@lru_cache(maxsize=4)
def _load_tokenizer(path: str) -> Tokenizer:
    tokenizer = Tokenizer.from_file(path)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


class Chunker:
    def __init__(self, counter: TokenCounter, max_tokens: int = 200) -> None:
        if not 32 <= max_tokens <= MODEL_WINDOW - SPECIAL_TOKENS:
            raise ValueError(f"max_tokens must be within 32..{MODEL_WINDOW - SPECIAL_TOKENS}")
        self.counter = counter
        self.max_tokens = max_tokens

    def chunk(self, doc: ParsedDocument) -> list[Chunk]:
        chunks: list[Chunk] = []
        for section in doc.sections:
            headings = self._fit_headings(doc.title, section.headings)
            for body, page, page_end in self._split_section(doc.title, headings, section):
                chunks.append(Chunk(len(chunks), doc.title, headings, page, body, page_end))
        return chunks

    def _fit_headings(self, title: str, headings: tuple[str, ...]) -> tuple[str, ...]:
        # A very long heading path would eat the body's budget: keep its deepest levels.
        while headings and self.counter.count(embed_text(title, " > ".join(headings), "")) > self.max_tokens // 3:
            headings = headings[1:]
        return headings

    def _split_section(
        self, title: str, headings: tuple[str, ...], section: Section
    ) -> Iterator[tuple[str, int | None, int | None]]:
        """Bodies packed from the section's units, each with the pages of its first and last unit: a
        passage that runs over a page break stays in one chunk, cited where it starts."""
        budget = self.max_tokens - self.counter.count(embed_text(title, " > ".join(headings), ""))
        units = [(unit, page) for text, page in section.segments() for unit in self._units(text, budget)]
        sizes = self.counter.counts([unit for unit, _ in units]) if units else []
        current: list[str] = []
        first_page: int | None = None
        last_page: int | None = None
        used = 0
        for (unit, page), size in zip(units, sizes, strict=True):
            if current and used + size > budget:
                yield "\n".join(current), first_page, last_page
                current, used = [], 0
            if not current:
                first_page = page
            last_page = page
            current.append(unit)
            used += size
        if current:
            yield "\n".join(current), first_page, last_page

    def _units(self, text: str, budget: int) -> Iterable[str]:
        """Paragraphs, or sentences of a long paragraph, or word runs of a very long sentence."""
        for paragraph in re.split(r"\n\s*\n", text):
            paragraph = paragraph.strip()
            if not paragraph:
                continue
            if self.counter.count(paragraph) <= budget:
                yield paragraph
                continue
            for sentence in _SENTENCE.split(paragraph):
                sentence = sentence.strip()
                if not sentence:
                    continue
                if self.counter.count(sentence) <= budget:
                    yield sentence
                else:
                    yield from self._word_runs(sentence, budget)

    def _word_runs(self, sentence: str, budget: int) -> Iterator[str]:
        words = [piece for word in sentence.split() for piece in _pieces(word)]
        run: list[str] = []
        for word in words:
            candidate = " ".join([*run, word])
            if run and self.counter.count(candidate) > budget:
                yield " ".join(run)
                run = [word]
            else:
                run.append(word)
        if run:
            yield " ".join(run)


def _pieces(word: str, size: int = 40) -> list[str]:
    """An over-long token (a URL, a hash) is cut into pieces rather than dropped by the model."""
    return [word[i : i + size] for i in range(0, len(word), size)] or [word]
