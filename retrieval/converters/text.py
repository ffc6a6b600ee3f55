"""Plain text: one section; the first short line is taken as the title when it looks like one."""

from __future__ import annotations

from retrieval.converters.base import ConversionError, ParsedDocument, Section, tidy, title_from_path


def convert_text(data: bytes, path: str) -> ParsedDocument:
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            raw = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise ConversionError(f"not a text file: {exc}") from exc
    if "\x00" in raw:
        raise ConversionError("binary content in a text file")
    text = tidy(raw)
    return ParsedDocument(title=title_from_path(path), sections=[Section((), text)]).check_not_empty()
