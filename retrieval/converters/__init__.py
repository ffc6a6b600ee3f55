"""Turn a file's bytes into a :class:`ParsedDocument`, chosen by file extension."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

from retrieval.converters.base import ConversionError, ParsedDocument, Section
from retrieval.converters.docx import convert_docx
from retrieval.converters.html import convert_html
from retrieval.converters.markdown import convert_markdown
from retrieval.converters.pdf import convert_pdf
from retrieval.converters.text import convert_text

Converter = Callable[[bytes, str], ParsedDocument]

CONVERTERS: dict[str, Converter] = {
    ".md": convert_markdown,
    ".markdown": convert_markdown,
    ".mdx": convert_markdown,
    ".html": convert_html,
    ".htm": convert_html,
    ".pdf": convert_pdf,
    ".docx": convert_docx,
    ".txt": convert_text,
    ".text": convert_text,
}


def is_supported(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() in CONVERTERS


def convert(data: bytes, path: str, *, fmt: str | None = None) -> ParsedDocument:
    """Convert one file; raises :class:`ConversionError` with a reason a person can act on.

    ``fmt`` (an extension such as ``".html"``) overrides the path's own, for documents whose id is
    not a file name (a Confluence page, a web page)."""
    suffix = (fmt or PurePosixPath(path).suffix).lower()
    converter = CONVERTERS.get(suffix)
    if converter is None:
        raise ConversionError(f"unsupported file type {suffix or '(none)'}")
    if not data.strip():
        raise ConversionError("the file is empty")
    return converter(data, path)


__all__ = ["CONVERTERS", "ConversionError", "ParsedDocument", "Section", "convert", "is_supported"]
