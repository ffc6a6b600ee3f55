"""Word documents: Heading styles give the structure; tables become one line per row."""

from __future__ import annotations

import io
import re
import zipfile

from retrieval.converters.base import ConversionError, ParsedDocument, Section, tidy, title_from_path

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.I)


def convert_docx(data: bytes, path: str) -> ParsedDocument:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ConversionError(f"corrupt DOCX: {exc}") from exc
    except Exception as exc:
        raise ConversionError(f"unreadable DOCX: {exc}") from exc

    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    buffer: list[str] = []
    title = (document.core_properties.title or "").strip()

    def flush() -> None:
        text = tidy("\n".join(buffer))
        if text:
            sections.append(Section(tuple(h for _, h in stack), text))
        buffer.clear()

    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells: list[str] = []
                for cell in row.cells:
                    value = tidy(cell.text)
                    if value and (not cells or cells[-1] != value):
                        cells.append(value)
                buffer.append(" | ".join(cells))
            continue
        if not isinstance(block, Paragraph):
            continue
        text = tidy(block.text)
        style = (block.style.name if block.style is not None else "") or ""
        if not text:
            continue
        if style.lower() == "title":
            title = title or text
            continue
        match = _HEADING_STYLE.match(style)
        if match:
            flush()
            level = int(match.group(1))
            if level == 1 and not title and not sections and not stack:
                title = text
                continue
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, text))
        else:
            buffer.append(text)
    flush()
    return ParsedDocument(title=title or title_from_path(path), sections=sections).check_not_empty()
