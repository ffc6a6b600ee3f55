"""HTML pages: headings h1-h6 give the structure; scripts, styles and navigation are dropped."""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag

from retrieval.converters.base import ConversionError, ParsedDocument, Section, tidy, title_from_path

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCKS = {"p", "li", "pre", "blockquote", "dd", "dt", "tr", "figcaption", "caption", "summary"}
_DROP = ["script", "style", "nav", "footer", "header", "noscript", "form", "svg", "template"]


def convert_html(data: bytes, path: str) -> ParsedDocument:
    try:
        soup = BeautifulSoup(data, "lxml")
    except Exception as exc:
        raise ConversionError(f"HTML could not be parsed: {exc}") from exc
    for tag in soup(_DROP):
        tag.decompose()
    page_title = tidy(soup.title.get_text(" ")) if soup.title else ""
    root = soup.find("main") or soup.find("article") or soup.body or soup

    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    buffer: list[str] = []
    first_h1: str | None = None

    def flush() -> None:
        text = tidy("\n".join(buffer))
        if text:
            sections.append(Section(tuple(h for _, h in stack), text))
        buffer.clear()

    if isinstance(root, Tag):
        for el in root.find_all(list(_HEADINGS | _BLOCKS)):
            if el.name in _HEADINGS:
                flush()
                level, heading = int(el.name[1]), tidy(el.get_text(" "))
                if not heading:
                    continue
                if level == 1 and first_h1 is None and not sections:
                    first_h1 = heading
                    continue
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, heading))
            elif not el.find_parent(list(_BLOCKS)):
                if el.name == "tr":
                    cells = [tidy(c.get_text(" ")) for c in el.find_all(["td", "th"])]
                    buffer.append(" | ".join(c for c in cells if c))
                else:
                    buffer.append(tidy(el.get_text(" ")))
        flush()
        if not sections:
            text = tidy(root.get_text("\n"))
            if text:
                sections.append(Section((), text))
    title = first_h1 or page_title or title_from_path(path)
    return ParsedDocument(title=title, sections=sections).check_not_empty()
