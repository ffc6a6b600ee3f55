"""Who a document applies to: countries, legal entities, employment types.

Declared in front matter or ``--meta``, or inferred when a document's title or file name names a
country or a legal entity ("GitLab GmbH (Germany)", "ltd-benefits-uk"). A document with no audience
applies to everyone. The same country vocabulary recognises "im in ireland" in a question.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

# ISO 3166-1 alpha-2 -> names and adjectives people use (lower case).
COUNTRY_NAMES: dict[str, tuple[str, ...]] = {
    "US": ("united states", "usa", "u.s.", "america", "american"),
    "GB": ("united kingdom", "uk", "u.k.", "britain", "great britain", "england", "scotland", "wales", "british"),
    "IE": ("ireland", "irish"),
    "DE": ("germany", "german", "deutschland"),
    "NL": ("netherlands", "the netherlands", "holland", "dutch"),
    "BE": ("belgium", "belgian"),
    "FR": ("france", "french"),
    "FI": ("finland", "finnish"),
    "ES": ("spain", "spanish"),
    "IT": ("italy", "italian"),
    "PT": ("portugal", "portuguese"),
    "CH": ("switzerland", "swiss"),
    "AT": ("austria", "austrian"),
    "DK": ("denmark", "danish"),
    "SE": ("sweden", "swedish"),
    "NO": ("norway", "norwegian"),
    "PL": ("poland", "polish"),
    "HU": ("hungary", "hungarian"),
    "LU": ("luxembourg",),
    "IL": ("israel", "israeli"),
    "IN": ("india", "indian"),
    "JP": ("japan", "japanese"),
    "KR": ("korea", "south korea", "korean"),
    "SG": ("singapore", "singaporean"),
    "AU": ("australia", "australian", "aussie"),
    "NZ": ("new zealand", "kiwi"),
    "CA": ("canada", "canadian"),
    "MX": ("mexico", "mexican"),
    "BR": ("brazil", "brazilian"),
    "ZA": ("south africa",),
    "PH": ("philippines", "filipino"),
    "CN": ("china", "chinese"),
}
# Two-letter codes are only trusted as whole file-name tokens where they cannot be English words.
SAFE_CODE_TOKENS = {"us", "usa", "uk", "nl", "de", "ie", "nz", "au", "sg", "kr", "fi", "jp", "ch", "dk", "se", "gb"}
LEGAL_FORMS = "|".join(
    (
        *(r"GmbH", r"Ltd\.?", r"LTD\.?", r"Limited", r"B\.?V\.?", r"Inc\.?", r"PTY(?: LTD)?\.?", r"Pty(?: Ltd)?\.?"),
        *(r"S\.?A\.?S\.?", r"SRL", r"S\.?L\.?", r"Pvt\.? Ltd\.?", r"Corp\.?", r"GK", r"K\.K\.", r"Pte\.? Ltd\.?"),
        *(r"LLC", r"AG", r"AB", r"ApS", r"Oy"),
    )
)
_ENTITY = re.compile(rf"\b((?:[A-Z][\w&.'-]*\s){{1,3}}(?:{LEGAL_FORMS}))(?=[\s,()\-:]|$)")
EMPLOYMENT_TYPES = {"full_time", "part_time", "contractor", "intern", "temporary"}

_NAMED: list[tuple[str, re.Pattern[str], str]] = sorted(
    (
        (name, re.compile(rf"(?<![\w]){re.escape(name)}(?![\w])"), code)
        for code, names in COUNTRY_NAMES.items()
        for name in names
    ),
    key=lambda item: -len(item[1].pattern),
)
_NAME_TO_CODE: list[tuple[re.Pattern[str], str]] = [(pattern, code) for _, pattern, code in _NAMED]
_ISO = {code.lower(): code for code in COUNTRY_NAMES} | {"uk": "GB", "usa": "US"}


def country_code(value: str) -> str | None:
    """'DE', 'de', 'Germany', 'uk' -> ISO alpha-2, or None."""
    v = value.strip().lower()
    if v in _ISO:
        return _ISO[v]
    for pattern, code in _NAME_TO_CODE:
        if pattern.fullmatch(v):
            return code
    return None


def countries_in_text(text: str) -> list[str]:
    """Countries named in free text (a title, a question). Upper-case 'US'/'UK' count; 'us' does not."""
    found: list[str] = []
    lowered = text.lower()
    for name, pattern, code in _NAMED:
        # a plain substring test first: the regex (word boundaries) only runs for names present
        if name not in lowered:
            continue
        if pattern.search(lowered) and code not in found:
            found.append(code)
    for token, code in (("US", "US"), ("USA", "US"), ("UK", "GB"), ("U.S.", "US"), ("U.K.", "GB")):
        if re.search(rf"(?<![\w.]){re.escape(token)}(?![\w])", text) and code not in found:
            found.append(code)
    if re.search(r"(?<![\w])(usa|uk)(?![\w])", lowered):
        for code in ("US", "GB"):
            token = "usa" if code == "US" else "uk"
            if re.search(rf"(?<![\w]){token}(?![\w])", lowered) and code not in found:
                found.append(code)
    return found


def countries_in_path(path: str) -> list[str]:
    """Countries named by the file name or its folder: 'ltd-benefits-uk.md', 'ireland-ltd/x.md'."""
    p = PurePosixPath(path.lower())
    parts = [p.stem, p.parent.name] if p.stem not in ("_index", "index") else [p.parent.name]
    found: list[str] = []
    for part in parts:
        words = re.split(r"[-_. ]+", part)
        phrase = " ".join(words)
        for pattern, code in _NAME_TO_CODE:
            if pattern.search(phrase) and code not in found:
                found.append(code)
        for word in {words[0], words[-1]}:  # "ltd-benefits-uk", "us": an edge token, not "let-us-know"
            if word in SAFE_CODE_TOKENS and _ISO.get(word) and _ISO[word] not in found:
                found.append(_ISO[word])
    return found


def entities_in_text(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(1).strip() for m in _ENTITY.finditer(text)))


@dataclass(frozen=True)
class Audience:
    countries: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    employment_types: tuple[str, ...] = ()
    inferred: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_global(self) -> bool:
        return not (self.countries or self.entities or self.employment_types)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[,;]", value) if v.strip()]
    if isinstance(value, Iterable):
        return [str(v).strip() for v in value if str(v).strip()]
    return [str(value)]


def _declared(meta: Mapping[str, Any], *keys: str) -> list[str]:
    values: list[str] = []
    for key in keys:
        values.extend(_as_list(meta.get(key)))
    return values


def resolve_audience(meta: Mapping[str, Any], title: str, path: str) -> Audience:
    """Declared audience wins; otherwise infer countries and entities from the title and file name."""
    declared_countries = _declared(meta, "country", "countries", "audience_country", "audience_countries")
    declared_entities = _declared(meta, "entity", "entities", "legal_entity")
    employment = [
        e.lower().replace("-", "_").replace(" ", "_") for e in _declared(meta, "employment_type", "employment_types")
    ]
    bad_types = [e for e in employment if e not in EMPLOYMENT_TYPES]
    if bad_types:
        raise ValueError(f"unknown employment type(s) {bad_types}; use {sorted(EMPLOYMENT_TYPES)}")
    if declared_countries or declared_entities:
        countries = []
        for value in declared_countries:
            code = country_code(value)
            if code is None:
                raise ValueError(f"unknown country {value!r}; use an ISO code such as DE or GB")
            countries.append(code)
        return Audience(tuple(dict.fromkeys(countries)), tuple(declared_entities), tuple(employment))

    countries = countries_in_text(title)
    for code in countries_in_path(path):
        if code not in countries:
            countries.append(code)
    entities = entities_in_text(title)
    return Audience(tuple(countries), tuple(entities), tuple(employment), inferred=bool(countries or entities))
