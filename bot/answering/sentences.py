"""Markdown-aware sentence splitting and a light English stemmer for extractive answers.

Chunks arrive as the ingest converters leave them (one line per paragraph, bullet or table row, the
cells of a row joined by " | ") or as raw Markdown. ``split_units`` turns one chunk into quotable
units in reading order: the sentences of each paragraph and bullet (hard-wrapped lines joined;
"e.g.", "U.S." and "1.5" do not end a sentence), and one unit per table row, read as
"Header: value; ..." under the table's first row; a run of short lines without punctuation (a list
without markers, or a table flattened one cell per line) gives one item per line. Headings, title
lines and table headers are labels: never quoted alone, they lend their words to what follows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Tokens ending in a period that do not end a sentence (lowercased, with their period).
ABBREVIATIONS = _wordset(
    """
    e.g. i.e. etc. vs. approx. incl. excl. esp. viz. cf. al. fig. no. nos. art. sec. para. ch. vol. pp. p.
    mr. mrs. ms. dr. prof. st. jr. sr. inc. ltd. co. corp. dept. gov. min. max. avg. est. ext. tel.
    jan. feb. mar. apr. jun. jul. aug. sep. sept. oct. nov. dec. mon. tue. wed. thu. fri. sat. sun.
    """
)

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_BULLET = re.compile(r"^\s*(?:[-*+•▪◦]|\d{1,3}[.)]|[a-z][.)])\s+")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_HR = re.compile(r"^\s*(?:[-*_]\s*){3,}$")
_QUOTE = re.compile(r"^\s*>\s?")

_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_FOOTNOTE = re.compile(r"\[\^[^\]]+\]")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_EMPHASIS = re.compile(r"\*\*|__|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])|(?<!\w)_(?=\S)|(?<=\S)_(?!\w)|`")
_SPACES = re.compile(r"\s+")

# A candidate boundary: terminal punctuation, optional closing quotes/brackets, whitespace, then
# something that can start a sentence.
_BOUNDARY = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9$€£])")
_LAST_TOKEN = re.compile(r"(\S+)$")
_INITIALS = re.compile(r"^(?:[A-Za-z]\.){2,}$")

WORD = re.compile(r"[a-z0-9]+(?:[.,'][a-z0-9]+)*")


@dataclass(frozen=True)
class Unit:
    """One quotable piece of a chunk, in reading order."""

    text: str
    position: int
    # "sentence", "bullet", "row", "header" (of a table), "item" (a short line of a list or flattened table)
    # or "label" (a heading or title line)
    kind: str
    lead_in: bool  # a label, or ends with ":": introduces what follows
    block: int = 0  # the paragraph, bullet or row it belongs to (sentences of one paragraph share it)


def clean_inline(text: str) -> str:
    """Plain text from one line of Markdown/HTML: links keep their text, emphasis and tags go."""
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _FOOTNOTE.sub("", text)
    text = _TAG.sub(" ", text)
    text = _EMPHASIS.sub("", text)
    return _SPACES.sub(" ", text).strip()


def split_sentences(text: str) -> list[str]:
    """Sentences of one paragraph; abbreviations ("e.g.", "U.S."), initials and decimals do not split."""
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.start() + 1
        token = _LAST_TOKEN.search(text, start, end)
        word = token.group(1).lower().lstrip("([\"'") if token else ""
        if word in ABBREVIATIONS or _INITIALS.match(word) or re.fullmatch(r"[a-z]\.", word):
            continue
        piece = text[start : m.end()].strip()
        if piece:
            out.append(piece)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def _cells(row: str) -> list[str]:
    return [clean_inline(c) for c in row.strip().strip("|").split("|")]


def _row_text(cells: list[str], header: list[str] | None) -> str:
    if header and len(header) == len(cells):
        pairs = [f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=True) if c]
        return "; ".join(pairs)
    return " | ".join(c for c in cells if c)


def _is_row(line: str) -> bool:
    return bool(_TABLE_ROW.match(line)) or line.count(" | ") >= 1


# A line ending in one of these words was cut mid-sentence ("... should utilize The" / "Work Number").
_DANGLING = re.compile(
    r"\b(the|a|an|of|to|and|or|for|with|by|at|in|on|from|as|that|your|our|their|is|are|be|via|per|than)$",
    re.IGNORECASE,
)


_ITEM_RUN = 3  # this many short lines in a row are a list or a flattened table, not headings


@dataclass
class _Block:
    # "paragraph", "bullet", "row", "header" (a table's first row), "item" (a short line in a run of them)
    # or "label" (a heading or title line)
    kind: str
    lines: list[str]

    @property
    def text(self) -> str:
        return " ".join(self.lines)


def _blocks(text: str) -> list[_Block]:
    """Lines grouped into blocks. Converted policies keep one paragraph, bullet or table row per
    line; a line that does not end a sentence and is followed by a lowercase line is hard-wrapped.
    A table's first row is its header: it labels the rows below ("Days: 20; Country: Germany")."""
    blocks: list[_Block] = []
    header: list[str] | None = None
    for raw in text.splitlines():
        line = _QUOTE.sub("", raw).strip()
        if _TABLE_RULE.match(line):
            continue
        if _is_row(line):
            cells = _cells(line)
            if header is None:
                header = cells
                blocks.append(_Block("header", [" | ".join(c for c in cells if c)]))
            else:
                blocks.append(_Block("row", [_row_text(cells, header)]))
            continue
        header = None
        if not line or _HR.match(line):
            continue
        heading = _HEADING.match(line)
        if heading:
            blocks.append(_Block("label", [line[heading.end() :]]))
            continue
        bullet = _BULLET.match(line)
        if bullet:
            blocks.append(_Block("bullet", [line[bullet.end() :]]))
            continue
        previous = blocks[-1] if blocks else None
        if (
            previous is not None
            and previous.kind in ("paragraph", "bullet")
            and not re.search(r"[.!?:;]\W*$", previous.lines[-1])
            and (line[:1].islower() or _DANGLING.search(previous.lines[-1]))
        ):
            previous.lines.append(line)
            continue
        blocks.append(_Block("paragraph", [line]))
    _mark_labels(blocks)
    return blocks


def _short_line(block: _Block) -> bool:
    return block.kind == "paragraph" and len(block.text.split()) <= 10 and not re.search(r"[.!?;,:]\W*$", block.text)


def _mark_labels(blocks: list[_Block]) -> None:
    """A short line with no sentence punctuation that introduces the next block is a title; but a
    run of three or more such lines is the cells of a table flattened one per line ("Cesar Chavez
    Day", "March 31", ...) or a list without markers: items, quotable."""
    run: list[_Block] = []
    for block in [*blocks, None]:
        if block is not None and _short_line(block):
            run.append(block)
            continue
        kind = "item" if len(run) >= _ITEM_RUN else "label"
        for member in run:
            if kind == "item" or member is not blocks[-1]:
                member.kind = kind
        run = []


def split_units(text: str) -> list[Unit]:
    """Quotable units of a chunk in reading order (see the module docstring). Labels (headings and
    title lines) and lines ending with ":" are lead-ins: they lend context to what follows."""
    units: list[Unit] = []
    for number, block in enumerate(_blocks(text)):
        cleaned = clean_inline(block.text) if block.kind != "row" else block.text
        pieces = [cleaned] if block.kind in ("row", "label", "header", "item") else split_sentences(cleaned)
        for piece in pieces:
            if not WORD.search(piece.lower()):
                continue
            lead_in = block.kind in ("label", "header") or piece.rstrip().endswith(":")
            kind = {"paragraph": "sentence"}.get(block.kind, block.kind)
            units.append(Unit(piece, len(units), kind, lead_in, number))
    return units


# --- stemming -------------------------------------------------------------------------------------

STOPWORDS = _wordset(
    """
    a about above after again against all also am an and any anyone anything are aren as at be because been
    before being below between both but by can cannot could did didn do does doesn doing don dont down during
    each either else ever every few for from further get gets getting got had has have having he her here hers
    him his how i id if im in into is isn it its itself ive just let like ll me might more most much must my
    myself need needs no nor not now of off on once only or other our ours out over own please pls re really
    same say she should so some such than thanks thank thx that thats the their theirs them then there these
    they this those through to too u ur under until up upon us ve very via w want wanted wants was wasn way we
    were what whats when where whether which while who whom whose why will with within without would wont
    yall yes yet you your youre yours yourself hey hi hello ok okay gonna wanna kinda sorta thing things
    many long soon often far know tell anybody someone something somebody pretty bit lot lots
    """
)


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """A light suffix stripper: "leaves", "leaving" -> "leav"; "accrues", "accrued" -> "accru";
    "relocation", "relocating" -> "relocat". Not Porter, but consistent for query and text."""
    w = word.lower().replace("'", "")
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "i"
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w.endswith("ing") and len(w) > 5:
        w = _undouble(w[:-3])
    elif w.endswith("ed") and len(w) > 4:
        w = _undouble(w[:-2])
    for suffix, keep in (("ation", 4), ("ment", 4), ("ness", 4), ("ly", 4), ("al", 4)):
        if w.endswith(suffix) and len(w) - len(suffix) >= keep:
            w = w[: -len(suffix)] + ("at" if suffix == "ation" else "")
            break
    if w.endswith("y") and len(w) > 3:
        w = w[:-1] + "i"
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    return w


def _undouble(w: str) -> str:
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
        return w[:-1]
    return w


def words(text: str) -> list[str]:
    """Lowercased word tokens; numbers keep their inner separators ("1,500", "1.25")."""
    return WORD.findall(text.lower())


_SMALL_NUMBERS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]

# "24h", "3wks", "2yrs": a number glued to its unit
_GLUED_UNIT = re.compile(r"\b(\d+)(h|hrs?|wks?|mos?|yrs?)\b", re.IGNORECASE)

# Chat shorthand and number words, read as the policies write them.
_SYNONYMS = {
    "yr": "year",
    "yrs": "year",
    "h": "hour",
    "hr": "hour",
    "hrs": "hour",
    "wk": "week",
    "wks": "week",
    "mo": "month",
    "mos": "month",
    "mins": "minute",
    "annual": "year",
    "annually": "year",
    "yearly": "year",
    "monthly": "month",
    "weekly": "week",
    "daily": "day",
    **{w: str(i) for i, w in enumerate(_SMALL_NUMBERS)},
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "hundred": "100",
}


def content_stems(text: str) -> list[str]:
    """Stems of the words that carry meaning (stopwords and one-letter words dropped); numbers as
    digits without thousands separators ("five" -> "5", "1,500" -> "1500")."""
    out: list[str] = []
    for w in words(_GLUED_UNIT.sub(r"\1 \2", text)):
        for part in w.split("'"):
            part = _SYNONYMS.get(part, part)
            if part[:1].isdigit():
                if part not in ("0", "1"):
                    out.append(part.replace(",", ""))
            elif len(part) > 1 and part not in STOPWORDS:
                out.append(stem(part))
    return out
