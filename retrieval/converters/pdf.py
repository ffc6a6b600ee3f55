"""PDF: text with page numbers (a section that runs over a page break keeps where each page starts);
short title-like lines become headings."""

from __future__ import annotations

import io
import logging
import re

from retrieval.converters.base import ConversionError, ParsedDocument, Section, tidy, title_from_path

log = logging.getLogger(__name__)

_NUMBERED = re.compile(r"^(\d+(\.\d+)*\.?|[IVX]+\.)\s+\S")
_PAGE_NO = re.compile(r"^(page\s*)?\d+(\s*(of|/)\s*\d+)?$", re.I)
# a compound broken at the end of a line ("in-\nnetwork", "pre-\nauthorization") is one word again
_BROKEN_COMPOUND = re.compile(r"(?<=[^\W\d_])-[ \t]*\n[ \t]*(?=[^\W\d_])")


def rejoin_compounds(text: str) -> str:
    return _BROKEN_COMPOUND.sub("-", text)


def _looks_like_heading(line: str, next_line: str | None) -> bool:
    words = line.split()
    if not (1 <= len(words) <= 9) or len(line) > 70:
        return False
    if line[-1] in ".,;:!?" or (not line[0].isalpha() and not _NUMBERED.match(line)):
        return False
    if _PAGE_NO.match(line):
        return False
    capitalised = sum(1 for w in words if w[:1].isupper() or not w[:1].isalpha())
    if capitalised < max(1, int(0.6 * len(words))):
        return False
    # a heading is followed by body text, not by another short line of the same kind
    return next_line is not None and len(next_line.split()) > len(words)


def _section(heading: tuple[str, ...], lines: list[str], breaks: list[tuple[int, int]], page: int) -> Section:
    """``lines`` under ``heading``, starting on ``page``; ``breaks``: (index of the first line of a
    later page, that page)."""
    offsets: list[int] = []
    position = 0
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    starts: dict[int, int] = {}
    for index, number in breaks:
        if 0 < index < len(lines):
            starts[offsets[index]] = number  # an empty page in between: the later page wins
    return Section(heading, "\n".join(lines), page=page, page_starts=tuple(sorted(starts.items())))


def convert_pdf(data: bytes, path: str) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ConversionError("the PDF is encrypted")
        pages = list(reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ConversionError(f"corrupt PDF: {exc}") from exc
    if not pages:
        raise ConversionError("the PDF has no pages")

    meta_title = ""
    try:
        if reader.metadata and reader.metadata.title:
            meta_title = str(reader.metadata.title).strip()
    except Exception:
        meta_title = ""

    # A section runs on over page breaks (a passage cut by a break stays whole); each chunk is cited
    # on the page where its text starts (Section.page_starts).
    sections: list[Section] = []
    heading: tuple[str, ...] = ()
    buffer: list[str] = []
    breaks: list[tuple[int, int]] = []
    buffer_page = 1
    first_line: str | None = None
    for number, page in enumerate(pages, start=1):
        try:
            raw = rejoin_compounds(page.extract_text() or "")
        except Exception as exc:
            log.warning("pdf page unreadable", extra={"path": path, "page": number, "error": str(exc)})
            continue
        lines = [ln for ln in tidy(raw).split("\n") if ln and not _PAGE_NO.match(ln)]
        if buffer:
            breaks.append((len(buffer), number))
        for i, line in enumerate(lines):
            if first_line is None:
                first_line = line
            nxt = lines[i + 1] if i + 1 < len(lines) else None
            if _looks_like_heading(line, nxt):
                if buffer:
                    sections.append(_section(heading, buffer, breaks, buffer_page))
                    buffer, breaks = [], []
                heading = (line,)
            else:
                if not buffer:
                    buffer_page = number
                buffer.append(line)
    if buffer:
        sections.append(_section(heading, buffer, breaks, buffer_page))
    if not sections:
        raise ConversionError("no extractable text (a scanned PDF needs OCR first)")
    # Generated PDFs rarely carry a title; a descriptive file name beats a running header line.
    from_name = title_from_path(path)
    title = meta_title if len(meta_title) > 3 else from_name if len(from_name.split()) >= 2 else first_line or from_name
    if len(title) > 120:
        title = from_name
    return ParsedDocument(title=title, sections=sections)
