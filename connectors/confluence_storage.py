"""A Confluence page's parts in the shapes the ingest reads: the storage body as HTML, labels as
audience meta.

Storage format (XHTML with ``ac:``/``ri:`` elements) becomes a plain HTML page.

Macros are reduced to their text: a rich-text body (info, note, panel, expand) keeps its markup, a
plain-text body (code, noformat) becomes a ``<pre>``, parameters are dropped, and so are images,
attachments, emoticons and placeholders. Links keep their text. Task lists become ``<ul>`` lists.
The result is what :mod:`retrieval.converters.html` reads: the title as ``<title>`` and ``<h1>``,
the page's own headings below it.

Labels (Confluence lower-cases them and allows no spaces or colons) declare who a page applies to:

- ``country-<ISO code or name>``: ``country-de``, ``country-gb``, ``country-united-kingdom``
- ``entity-<slug>``: ``entity-acme-gmbh``; the slug, or its name from ``entity_names``
  (``{"acme-gmbh": "Acme GmbH"}``), since entities match people's entity names exactly
- ``employment-<type>``: ``employment-full-time``, ``employment-contractor`` (one of
  :data:`retrieval.audience.EMPLOYMENT_TYPES`, hyphens or underscores)

They become ``meta["country"]``, ``meta["entity"]`` and ``meta["employment_type"]``; every other
label, and a country or employment type that is not recognised, goes to ``meta["labels"]``.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from bs4 import BeautifulSoup, Tag

from retrieval.audience import EMPLOYMENT_TYPES, country_code

log = logging.getLogger(__name__)

# elements whose content is never text a reader sees
_DROP = (
    "ac:parameter",
    "ac:image",
    "ac:emoticon",
    "ac:placeholder",
    "ac:task-id",
    "ac:task-status",
    "ac:inline-comment-marker-ref",
    "ri:attachment",
    "ri:url",
    "ac:adf-attribute",
)
_LINK_BODIES = ("ac:link-body", "ac:plain-text-link-body")


def storage_to_html(title: str, storage: str) -> bytes:
    """A whole HTML document for one page: ``<title>`` and ``<h1>`` from ``title``, then the body."""
    body = storage_to_body(storage)
    escaped = html.escape(title)
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{escaped}</title></head><body><h1>{escaped}</h1>{body}</body></html>"
    )
    return page.encode("utf-8")


def storage_to_body(storage: str) -> str:
    """The storage-format XHTML with every ``ac:``/``ri:`` element reduced to plain HTML or text."""
    soup = BeautifulSoup(storage, "html.parser")
    for tag in soup.find_all(list(_DROP)):
        tag.decompose()
    for tag in soup.find_all("ac:adf-fallback"):
        if tag.find_previous_sibling("ac:adf-node") or tag.find_next_sibling("ac:adf-node"):
            tag.decompose()  # the same content again, rendered for older editors
    for tag in soup.find_all("ac:plain-text-body"):
        _replace_with_pre(soup, tag)
    for tag in soup.find_all("ac:link"):
        _link_to_text(soup, tag)
    for tag in soup.find_all("ac:task-list"):
        tag.name = "ul"
    for tag in soup.find_all("ac:task"):
        tag.name = "li"
    for tag in soup.find_all("time"):
        _time_to_text(tag)
    for tag in soup.find_all(_is_namespaced):
        if tag.name.startswith("ri:"):
            tag.decompose()
        else:
            tag.unwrap()  # macros, rich-text bodies, layouts, task bodies: keep what is inside
    return str(soup)


def _is_namespaced(tag: Tag) -> bool:
    return tag.name.startswith(("ac:", "ri:"))


def _replace_with_pre(soup: BeautifulSoup, tag: Tag) -> None:
    pre = soup.new_tag("pre")
    pre.string = tag.get_text()
    tag.replace_with(pre)


def _link_to_text(soup: BeautifulSoup, tag: Tag) -> None:
    """``<ac:link>``: its link body (rich or plain) if it has one, else the target page's title."""
    body = tag.find(list(_LINK_BODIES))
    if isinstance(body, Tag):
        if body.name == "ac:link-body":
            body.unwrap()
            for child in tag.find_all(_is_namespaced):
                child.decompose()
            tag.unwrap()
            return
        text = body.get_text()
    else:
        target = tag.find("ri:page") or tag.find("ri:blog-post")
        text = str(target.get("ri:content-title") or "") if isinstance(target, Tag) else ""
    span = soup.new_tag("span")
    span.string = text
    tag.replace_with(span)


def _time_to_text(tag: Tag) -> None:
    """``<time datetime="2024-01-31" />`` (a date picked in the editor) reads as the date."""
    if not tag.get_text(strip=True):
        tag.string = str(tag.get("datetime") or "")


def labels_to_meta(labels: Iterable[str], entity_names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Audience meta from page labels (the scheme in the module docstring); empty lists left out."""
    meta: dict[str, list[str]] = {"country": [], "entity": [], "employment_type": [], "labels": []}
    for raw in labels:
        label = raw.strip().lower()
        prefix, _, value = label.partition("-")
        key, parsed = _audience_value(prefix, value, entity_names or {})
        if parsed is None:
            key, parsed = "labels", label
        if parsed not in meta[key]:
            meta[key].append(parsed)
    return {key: values for key, values in meta.items() if values}


def _audience_value(prefix: str, value: str, entity_names: Mapping[str, str]) -> tuple[str, str | None]:
    if not value:
        return "labels", None
    if prefix == "country":
        code = country_code(value.replace("-", " ").replace("_", " "))
        if code is None:
            log.warning("unknown country in a Confluence label", extra={"label": f"country-{value}"})
        return "country", code
    if prefix == "entity":
        return "entity", entity_names.get(value, value)
    if prefix == "employment":
        kind = value.replace("-", "_")
        if kind not in EMPLOYMENT_TYPES:
            log.warning("unknown employment type in a Confluence label", extra={"label": f"employment-{value}"})
            return "employment_type", None
        return "employment_type", kind
    return "labels", None
