"""What a composer returns: the quoted sentences, their numbered citations and the rendered text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrieval.pipeline import SearchResult

ABSTAIN_TEXT = (
    "I couldn't find an answer to that in the policy documents I can search. "
    "Please ask your HR team, or rephrase the question with the policy's name."
)


@dataclass(frozen=True)
class Citation:
    """One cited chunk, pinned to the exact document version it was quoted from."""

    n: int
    chunk_id: int
    document_id: int
    version_id: int
    version_no: int
    content_hash: str
    title: str
    heading_path: str
    page: int | None
    uri: str
    source: str
    path: str
    page_end: int | None = None  # the page the quoted chunk runs to, when it runs over a page break

    @classmethod
    def of(cls, n: int, r: SearchResult) -> Citation:
        """Citation number ``n`` of a search result, pinned to the version it was found in."""
        return cls(
            n=n,
            chunk_id=r.chunk_id,
            document_id=r.document_id,
            version_id=r.version_id,
            version_no=r.version_no,
            content_hash=r.content_hash,
            title=r.title,
            heading_path=r.heading_path,
            page=r.page,
            uri=r.uri,
            source=r.source,
            path=r.path,
            page_end=r.page_end,
        )

    def covers_page(self, page: int) -> bool:
        """Whether the cited chunk's text comes (in part) from ``page``."""
        if self.page is None:
            return False
        return self.page <= page <= (self.page_end if self.page_end is not None else self.page)

    def label(self) -> str:
        """``Title › Section › Subsection, p. N — uri``"""
        where = self.title
        if self.heading_path:
            where += " › " + self.heading_path.replace(" > ", " › ")
        if self.page is not None:
            where += f", p. {self.page}"
        if self.uri:
            where += f" — {self.uri}"
        return where


@dataclass(frozen=True)
class QuotedSentence:
    text: str
    citation: int  # Citation.n
    chunk_id: int
    score: float


@dataclass(frozen=True)
class Composition:
    """An answer (sentences, each with the number of its citation) or an abstention (none, and
    ``text`` says so plainly). ``confidence`` is in [0, 1]."""

    sentences: list[QuotedSentence]
    citations: list[Citation]
    confidence: float
    abstain: bool
    text: str
    # the best sentences found, kept even when abstaining (for "closest matches", debugging, calibration)
    considered: list[QuotedSentence] = field(default_factory=list, compare=False, repr=False)

    @property
    def cited_chunk_ids(self) -> list[int]:
        return [c.chunk_id for c in self.citations]


def render(sentences: Sequence[QuotedSentence], citations: Sequence[Citation]) -> str:
    """Plain text: each sentence ending with its ``[n]``, then the numbered sources."""
    body = "\n".join(f"{s.text} [{s.citation}]" for s in sentences)
    sources = "\n".join(f"[{c.n}] {c.label()}" for c in citations)
    return f"{body}\n\nSources:\n{sources}"
