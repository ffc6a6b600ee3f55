"""Understanding a question the way employees type it in Slack.

* HR vocabulary and acronyms (PTO, WFH, mat leave) are expanded through a glossary.
* Typos are corrected against the words of the indexed policies ("vacaton" -> "vacation").
* Countries named in the question ("im in ireland") become its audience.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from retrieval.audience import COUNTRY_NAMES, countries_in_text

_WORD = re.compile(r"[a-z0-9][a-z0-9'().]*[a-z0-9)]|[a-z0-9]")
_COUNTRY_WORDS = {w for names in COUNTRY_NAMES.values() for name in names for w in name.split()}


@lru_cache(maxsize=8)
def _read_glossary(path: str | None) -> tuple[tuple[str, str], ...]:
    if path is None:
        raw = resources.files("retrieval").joinpath("data/glossary.yml").read_text(encoding="utf-8")
    else:
        raw = Path(path).read_text(encoding="utf-8")
    data = yaml.safe_load(raw) or {}
    if not isinstance(data, dict):
        raise ValueError(f"glossary {path or 'built-in'} must map terms to expansions")
    return tuple((str(k).lower().strip(), str(v).strip()) for k, v in data.items())


class Glossary:
    def __init__(self, entries: Mapping[str, str]) -> None:
        self.entries = dict(entries)
        # longest terms first, so "mat leave" wins over "mat"
        self._patterns = [
            (re.compile(rf"(?<![\w]){re.escape(term)}(?![\w])"), term)
            for term in sorted(self.entries, key=len, reverse=True)
        ]

    @classmethod
    def load(cls, extra_path: Path | None = None) -> Glossary:
        entries = dict(_read_glossary(None))
        if extra_path is not None:
            entries.update(_read_glossary(str(extra_path)))
        return cls(entries)

    def expansions(self, text: str) -> list[str]:
        lowered = text.lower()
        found: list[str] = []
        for pattern, term in self._patterns:
            if pattern.search(lowered):
                lowered = pattern.sub(" ", lowered)
                found.append(self.entries[term])
        return found

    def __contains__(self, word: str) -> bool:
        return word in self.entries


def damerau_levenshtein(a: str, b: str, limit: int = 3) -> int:
    """Optimal string alignment distance, giving up (returning limit+1) once it exceeds ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


# endings that make a known word another real one: "dads", "lender", "booked", "caring", "backend"
_ENDINGS = ("s", "es", "er", "ers", "ed", "d", "ing", "end", "ends")


def _common_prefix(a: str, b: str, most: int) -> int:
    n = 0
    while n < most and n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    return n


class Speller:
    """Corrects words that no indexed policy contains to the closest word that does (symmetric-delete
    candidates, verified by edit distance); among equally close ones, the one that keeps more of the
    word's first letters, then the most common."""

    def __init__(self, vocabulary: Mapping[str, int], min_count: int = 2, known: frozenset[str] = frozenset()) -> None:
        self.vocabulary = {w: n for w, n in vocabulary.items() if n >= min_count and w.isalpha()}
        self.known = known  # real words the policies happen not to use ("died", "mess"): never corrected
        self._index: dict[str, list[str]] = {}
        for word in self.vocabulary:
            if len(word) >= 4:
                for key in _deletes(word) | {word}:
                    self._index.setdefault(key, []).append(word)

    def _is_known(self, word: str) -> bool:
        """A real word the policies happen not to use, or one of its inflections ("dads", "lender")."""
        if word in self.known:
            return True
        return any(word.endswith(e) and len(word) - len(e) >= 3 and word[: -len(e)] in self.known for e in _ENDINGS)

    def correct(self, word: str) -> str | None:
        if len(word) < 4 or not word.isalpha() or word in self.vocabulary or self._is_known(word):
            return None
        max_distance = 1 if len(word) <= 5 else 2
        keys = {word} | _deletes(word)
        if max_distance == 2:
            keys |= {d2 for d1 in _deletes(word) for d2 in _deletes(d1)}
        candidates = {c for k in keys for c in self._index.get(k, ())}
        best: tuple[int, int, int, str] | None = None
        for candidate in candidates:
            distance = damerau_levenshtein(word, candidate, max_distance)
            if distance <= max_distance:
                # typos are rarer in a word's first letters: "typs" is "types" more likely than "tips"
                rank = (distance, -_common_prefix(word, candidate, 3), -self.vocabulary[candidate], candidate)
                if best is None or rank < best:
                    best = rank
        return best[3] if best else None


@lru_cache(maxsize=4)
def dictionary_words(vocab_path: str) -> frozenset[str]:
    """Whole English words of a WordPiece vocabulary (the embedding model's ``vocab.txt``)."""
    words = Path(vocab_path).read_text(encoding="utf-8").split()
    return frozenset(w for w in words if w.isalpha() and w.isascii() and len(w) >= 3)


@dataclass(frozen=True)
class AnalyzedQuery:
    original: str
    embedding_text: str
    keyword_text: str
    countries: tuple[str, ...] = ()
    corrections: dict[str, str] = field(default_factory=dict)
    expansions: tuple[str, ...] = ()


# a file name or identifier typed into a question ("Northwind_Health_Plus_Benefits_Details.pdf",
# "time-off_policy.docx"): PostgreSQL's parser keeps it one token that no chunk holds
_FILE_NAME = re.compile(r"\b[\w-]*_[\w.-]*\w|\b[\w-]+\.(?:pdf|docx?|html?|md|txt)\b", re.IGNORECASE)


def split_file_names(text: str) -> str:
    """Words of file names and snake_case identifiers: "Plus_Benefits_Details.pdf" -> "Plus Benefits Details"."""

    def words(match: re.Match[str]) -> str:
        name = re.sub(r"\.(?:pdf|docx?|html?|md|txt)$", "", match.group(0), flags=re.IGNORECASE)
        return re.sub(r"[_.]+", " ", name).strip()

    return _FILE_NAME.sub(words, text)


def analyze(text: str, glossary: Glossary, speller: Speller | None) -> AnalyzedQuery:
    original, text = text, split_file_names(text)
    words = _WORD.findall(text.lower())
    corrections: dict[str, str] = {}
    if speller is not None:
        for word in words:
            if word in glossary or word in _COUNTRY_WORDS:
                continue
            fixed = speller.correct(word)
            if fixed:
                corrections[word] = fixed
    corrected = text
    for wrong, right in corrections.items():
        corrected = re.sub(rf"(?i)(?<![\w]){re.escape(wrong)}(?![\w])", right, corrected)
    expansions = glossary.expansions(corrected)
    extra = " ".join(expansions)
    embedding_text = f"{corrected} ({extra})" if extra else corrected
    keyword_text = " ".join([corrected, *corrections.keys(), extra]).strip()
    return AnalyzedQuery(
        original=original,
        embedding_text=embedding_text,
        keyword_text=keyword_text,
        countries=tuple(countries_in_text(text)),
        corrections=corrections,
        expansions=tuple(expansions),
    )


def merge_countries(explicit: Iterable[str] | None, detected: Iterable[str]) -> tuple[str, ...]:
    """A country named in the question wins over the asker's own (asking about Germany from the US)."""
    named = tuple(detected)
    return named if named else tuple(explicit or ())
