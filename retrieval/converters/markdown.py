"""Markdown with YAML front matter; Hugo, Liquid and Nunjucks template tags are removed, never indexed."""

from __future__ import annotations

import re
from typing import Any

import yaml

from retrieval.converters.base import ConversionError, ParsedDocument, Section, tidy, title_from_path

_FRONT_MATTER = re.compile(r"\A\ufeff?---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)
_TOML_FRONT_MATTER = re.compile(r"\A\+\+\+\s*\n(.*?)\n\+\+\+\s*(?:\n|\Z)", re.S)
# {{< details summary="X" >}} / {{% details summary="X" %}} keep their summary as a line of text.
_SUMMARY = re.compile(r"\{\{[<%]\s*details\s+summary=\"([^\"]*)\"[^}]*[>%]\}\}")
_TEMPLATE_TAGS = re.compile(r"\{\{[<%].*?[>%]\}\}|\{%-?.*?-?%\}|\{\{.*?\}\}|\{#.*?#\}", re.S)
_RAW_BLOCKS = re.compile(r"\{%-?\s*(comment|raw)\s*-?%\}.*?\{%-?\s*end\1\s*-?%\}", re.S)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_LINK_DEF = re.compile(r"^\s*\[[^\]]+\]:\s+\S+.*$", re.M)
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~|`)(?=\S)(.+?)(?<=\S)\1")
_ANCHOR_ATTR = re.compile(r"\{#[^}]*\}|\{\.[^}]*\}")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            meta = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise ConversionError(f"front matter is not valid YAML: {exc}") from exc
        if not isinstance(meta, dict):
            meta = {}
        return meta, text[match.end() :]
    toml = _TOML_FRONT_MATTER.match(text)
    if toml:
        import tomllib

        try:
            return tomllib.loads(toml.group(1)), text[toml.end() :]
        except tomllib.TOMLDecodeError as exc:
            raise ConversionError(f"front matter is not valid TOML: {exc}") from exc
    return {}, text


def strip_templates(text: str) -> str:
    text = _RAW_BLOCKS.sub("", text)
    text = _SUMMARY.sub(lambda m: f"\n{m.group(1)}\n", text)
    text = _TEMPLATE_TAGS.sub("", text)
    return _HTML_COMMENT.sub("", text)


def inline_to_text(line: str) -> str:
    line = _IMAGE.sub(r"\1", line)
    line = _LINK.sub(r"\1", line)
    line = _REF_LINK.sub(r"\1", line)
    line = _ANCHOR_ATTR.sub("", line)
    line = _HTML_TAG.sub(" ", line)
    for _ in range(2):
        line = _EMPHASIS.sub(r"\2", line)
    line = line.replace("&nbsp;", " ").replace("&amp;", "&")
    if line.lstrip().startswith("|"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        line = " | ".join(c for c in cells if c)
    return line


def convert_markdown(data: bytes, path: str) -> ParsedDocument:
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConversionError(f"not UTF-8 text: {exc}") from exc
    meta, body = split_front_matter(raw)
    body = _LINK_DEF.sub("", strip_templates(body))

    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    buffer: list[str] = []
    first_h1: str | None = None
    in_fence = False

    def flush() -> None:
        text = tidy("\n".join(buffer))
        if text:
            sections.append(Section(tuple(h for _, h in stack), text))
        buffer.clear()

    for line in body.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        heading = None if in_fence else _ATX.match(line)
        if heading:
            flush()
            level, title = len(heading.group(1)), tidy(inline_to_text(heading.group(2)))
            if not title:
                continue
            if level == 1 and first_h1 is None and not sections and not stack:
                first_h1 = title
                continue
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
        elif not _TABLE_RULE.match(line):
            buffer.append(inline_to_text(line))
    flush()

    title = str(meta.get("title") or first_h1 or title_from_path(path)).strip()
    return ParsedDocument(title=title, sections=sections, meta=meta).check_not_empty()
