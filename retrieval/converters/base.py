"""What every converter returns: a title, metadata and sections with heading paths and pages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any


class ConversionError(Exception):
    """A file that cannot be turned into text (corrupt, empty, unknown format). Reported and skipped."""


@dataclass(frozen=True)
class Section:
    """Text under one heading path. ``page`` is the page it starts on (paged formats); a section
    that runs over page breaks lists where each later page begins in ``page_starts``: (character
    offset in ``text``, page number), ascending."""

    headings: tuple[str, ...]
    text: str
    page: int | None = None
    page_starts: tuple[tuple[int, int], ...] = ()

    def segments(self) -> list[tuple[str, int | None]]:
        """The text cut at its page breaks, each piece with its page (one piece when unpaged)."""
        if not self.page_starts:
            return [(self.text, self.page)]
        out: list[tuple[str, int | None]] = []
        start, page = 0, self.page
        for offset, next_page in self.page_starts:
            out.append((self.text[start:offset], page))
            start, page = offset, next_page
        out.append((self.text[start:], page))
        return [(text, page) for text, page in out if text.strip()]


@dataclass
class ParsedDocument:
    title: str
    sections: list[Section]
    meta: dict[str, Any] = field(default_factory=dict)

    def full_text(self) -> str:
        parts: list[str] = []
        for section in self.sections:
            if section.headings:
                parts.append(" > ".join(section.headings))
            parts.append(section.text)
        return "\n\n".join(p for p in parts if p)

    def check_not_empty(self) -> ParsedDocument:
        if not any(s.text.strip() for s in self.sections):
            raise ConversionError("no text found in the document")
        return self


_WS = re.compile(r"[ \t\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    """Collapse runs of spaces and blank lines; strip each line."""
    lines = [_WS.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def title_from_path(path: str) -> str:
    p = PurePosixPath(path)
    stem = p.parent.name if p.stem in {"_index", "index", "README", "readme"} and p.parent.name else p.stem
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else path
