"""The default answer generator: extractive, no LLM, a few milliseconds per answer.

It quotes the few sentences of the retrieved policy chunks that best answer the question, each tied
to a numbered citation of its chunk, then lists the sources. No sentence goes out without its
citation; when the confidence is below a threshold calibrated on the evaluation sets
(``benchmarks/answer_quality.py``) it abstains and says so instead of guessing.

* Sentence score: how much of the question a sentence covers (stemmed terms, each weighted by its
  rarity among the candidate sentences; a glossary expansion counts as 0.6 of a typed word; a term
  found only in the chunk's title, headings or the line introducing the sentence counts 0.7), where
  the kind of answer asked for counts as one more term (a figure with a unit for "how many / much /
  long", or a count of the thing asked about for "how many sessions"; an address, link or phone
  number for "who do I contact"), times a retrieval prior (rank and fused score) and a slight
  preference for short sentences.
* Picking: the best sentences, preferring different chunks, identical sentences once.
* Confidence: the fused retrieval score of the top result (both retrievers agree on it), the
  embedding similarity of the top result to the question (the search computes it from the query
  embedding it already has: no extra model call), and how much of the question the retrieved
  passages address at all. On the evaluation sets the similarity separates answerable from
  unanswerable questions best (ROC AUC 0.91 alone, 0.88 for the fused score, 0.71 for the
  coverage, 0.95 together); how much the single best sentence covers added nothing once the
  passages' coverage counts, so it ranks sentences but is not part of the confidence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.answering.models import ABSTAIN_TEXT, Composition, render
from bot.answering.quoting import Candidate, candidates, dedupe_key, overlaps, quote, span, span_text
from bot.answering.sentences import STOPWORDS, content_stems, words
from retrieval.audience import COUNTRY_NAMES, countries_in_text, entities_in_text
from retrieval.query import damerau_levenshtein

if TYPE_CHECKING:
    from retrieval.pipeline import SearchResult

# Below this confidence the composer abstains. Chosen with benchmarks/answer_quality.py on
# evals/{gitlab,18f-tts,clef}-handbook.jsonl: at most 10% of the answerable questions of every one of
# the three handbooks may fall below it (the highest such threshold is 0.8297, for gitlab; 0.82
# keeps a margin). Recalibrate when retrieval or the confidence changes.
CONFIDENCE_THRESHOLD = 0.82
# The fused score that means "both retrievers ranked this chunk first": 2 / (rrf_k + 1) with the
# default rrf_k = 60 and weights 1. Pass the right one (and recalibrate) when the fusion changes.
RETRIEVAL_SCALE = 2 / 61
MAX_SENTENCES = 3

_W_RETRIEVAL, _W_SIMILARITY, _W_PASSAGES = 0.4, 0.4, 0.2  # the three parts of the confidence
# The MiniLM cosine similarity of question and top passage that counts as fully similar (higher is
# capped). On the evaluation sets the top passage scores 0.46-0.72 (10th-90th percentile) for
# answerable questions and 0.17-0.56 for unanswerable ones (median 0.40).
SIMILARITY_SCALE = 0.6
_EXPANSION_WEIGHT = 0.6  # a glossary expansion the asker did not type
_HEAD_WEIGHT = 0.7  # a term found only in the title, headings or lead-in line
_ANSWER_TYPE_WEIGHT = 1.0  # "has a figure" / "has a contact" weighs as one word of the question
_RANK_DECAY = 0.08  # the n-th search result's sentences weigh 1 / (1 + 0.08 n)
_RELATIVE_CUTOFF = 0.4  # later sentences must score at least this share of the best one
_SAME_CHUNK_PENALTY = 0.7  # per sentence already quoted from the same chunk
_OTHER_AUDIENCE_WEIGHT = 0.3  # a sentence about other countries only, for an asker in a known country

_QUANTITY_QUESTION = re.compile(
    r"\b(how\s+(many|much|long|soon|far|often|late|early)|what\s+(percent|percentage|rate|amount)|"
    r"max(imum)?|min(imum)?|cap|limit|deadline|when|budget|allowance|cost|price|rate)\b|%|\$"
)
_CONTACT_QUESTION = re.compile(
    r"\bwho(m)?\s+(do|should|can|could|would|to|will)\b|\b(contact|e-?mail|report|notify|reach out|get in touch)\b"
)
_FIGURE_WITH_UNIT = re.compile(
    r"\A(?=.*(\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|"
    r"fifty|sixty|hundred|thousand|half|full)\b))"
    r"(?=.*(\b(days?|weeks?|months?|years?|hours?|minutes?|percent|calendar|business|working|annual(ly)?|per)\b"
    r"|%|\$|€|£))",
    re.IGNORECASE | re.DOTALL,
)
_CONTACT = re.compile(
    r"[\w.+-]+@[\w-]+\.[\w.]+|\b(https?://|www\.)\S+|\b[\w-]+\.(com|gov|org|net|io)\b|\+?\d[\d ()-]{7,}\d"
)
_FIGURE_TERM, _CONTACT_TERM = "<figure>", "<contact>"
_MARKERS = ((_FIGURE_TERM, _FIGURE_WITH_UNIT), (_CONTACT_TERM, _CONTACT))
_NUMBER = r"(\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty)"
_HOW_MANY = re.compile(r"\bhow\s+many\s+(.*)")


@dataclass(frozen=True)
class _Group:
    """One thing the asker asked about: a typed word, a glossary expansion of several words (which
    together count as one), or the kind of answer wanted."""

    stems: frozenset[str]
    weight: float


def compose(
    question: str,
    results: Sequence[SearchResult],
    *,
    terms: Sequence[str] = (),
    max_sentences: int = MAX_SENTENCES,
    threshold: float = CONFIDENCE_THRESHOLD,
    retrieval_scale: float = RETRIEVAL_SCALE,
    countries: Sequence[str] = (),
    entities: Sequence[str] = (),
) -> Composition:
    """Quote up to ``max_sentences`` sentences of ``results`` that answer ``question``.

    ``terms`` are the query words after spelling correction plus glossary expansions (see
    ``query_terms``); the ones the asker typed weigh more than expansions. Without ``terms`` the
    question's own words are used. Below ``threshold`` it abstains: no sentences, no citations,
    ``ABSTAIN_TEXT``, with what it would have quoted in ``considered``. With ``countries`` (the
    audience the search used) and ``entities`` (the asker's employer), a sentence that names only
    other countries or employers ("Entity: Acme GmbH (DE); …" in a global table, asked from the UK)
    is quoted only when nothing else answers.
    """
    groups = _analyse(question, terms)
    found = candidates(results, _markers(question))
    if not found or not groups:
        return Composition([], [], 0.0, True, ABSTAIN_TEXT)
    weighting = _weighting(found, groups)
    _score(found, weighting, results)
    if countries or entities:
        _demote_other_audiences(found, set(countries), {e.lower() for e in entities})
    ranked = sorted(found, key=lambda c: -c.score)
    confidence = _confidence(found, weighting, results, retrieval_scale)
    quoted, citations = quote(_pick(ranked, max_sentences))
    if confidence < threshold or not quoted:
        return Composition([], [], confidence, True, ABSTAIN_TEXT, quoted)
    return Composition(quoted, citations, confidence, False, render(quoted, citations), quoted)


def query_terms(question: str, analysis: Mapping[str, Any]) -> list[str]:
    """``terms`` for ``compose`` from a ``SearchResponse.analysis``: the question's words with the
    analyzer's spelling corrections applied, then the glossary expansions."""
    corrections: Mapping[str, str] = analysis.get("corrections") or {}
    corrected = [corrections.get(w, w) for w in words(question)]
    return [*corrected, *(analysis.get("expansions") or [])]


# --- the question ---------------------------------------------------------------------------------


def _analyse(question: str, terms: Sequence[str]) -> list[_Group]:
    typed_words = [w for w in words(question) if len(w) > 3]
    typed = set(content_stems(question))
    groups: dict[frozenset[str], float] = {}
    for term in terms or [question]:
        stems = content_stems(term)
        if len(stems) == 1 or not terms:
            for s in stems:
                near = s in typed or (" " not in term and _near_typed(term.lower(), typed_words))
                key = frozenset([s])
                groups[key] = max(groups.get(key, 0.0), 1.0 if near else _EXPANSION_WEIGHT)
        elif stems:
            groups.setdefault(frozenset(stems), _EXPANSION_WEIGHT)
    if groups:
        lowered = question.lower()
        if _QUANTITY_QUESTION.search(lowered):
            groups[frozenset([_FIGURE_TERM])] = _ANSWER_TYPE_WEIGHT
        if _CONTACT_QUESTION.search(lowered):
            groups[frozenset([_CONTACT_TERM])] = _ANSWER_TYPE_WEIGHT
    return [_Group(k, w) for k, w in groups.items()]


def _markers(question: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The answer-type markers; "how many sessions" also takes a count of them ("six free sessions")
    as the figure asked for."""
    found = _HOW_MANY.search(question.lower())
    noun = ""
    for w in words(found.group(1)) if found else ():
        if w in STOPWORDS or not w.isalpha():
            break
        noun = w
    if len(noun) < 3:
        return _MARKERS
    root = noun[:-1] if noun.endswith("s") and not noun.endswith("ss") else noun
    count = re.compile(rf"\b{_NUMBER}\s+(?:[\w-]+\s+){{0,2}}{re.escape(root)}", re.IGNORECASE)
    return (*_MARKERS, (_FIGURE_TERM, count))


def _near_typed(word: str, typed_words: list[str]) -> bool:
    """A spelling correction of a word the asker typed ("vacaton" -> "vacation") counts as typed."""
    return any(damerau_levenshtein(word, t, 2) <= 2 for t in typed_words if abs(len(t) - len(word)) <= 2)


# --- scoring ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Weighting:
    """Each asked-about thing with its weight: rarer terms among the candidate sentences say more.
    A term no candidate contains keeps a middling weight: a chatty word ("yesterday") must not sink
    every answer, a missing key term ("cafeteria") must still count against them."""

    groups: tuple[tuple[dict[str, float], float], ...]  # (idf of each member stem, group weight)
    total: float

    def coverage(self, stems: set[str], context: set[str] | frozenset[str] = frozenset()) -> float:
        covered = 0.0
        for member_idf, weight in self.groups:
            member_total = sum(member_idf.values()) or 1.0
            found = sum(v for s, v in member_idf.items() if s in stems)
            head = sum(v for s, v in member_idf.items() if s not in stems and s in context)
            covered += weight * (found + _HEAD_WEIGHT * head) / member_total
        return covered / self.total


def _weighting(found: list[Candidate], groups: list[_Group]) -> _Weighting:
    n = len(found)
    df = dict.fromkeys({s for g in groups for s in g.stems}, 0)
    for c in found:
        for s in c.stems & df.keys():
            df[s] += 1
    idf = {s: math.log(1 + n / (1 + d)) if d else 0.5 * math.log(1 + n) for s, d in df.items()}
    weighted = tuple(({s: idf[s] for s in g.stems}, g.weight * max(idf[s] for s in g.stems)) for g in groups)
    return _Weighting(weighted, sum(w for _, w in weighted) or 1.0)


def _score(found: list[Candidate], weighting: _Weighting, results: Sequence[SearchResult]) -> None:
    top_score = max((r.score for r in results), default=0.0) or 1.0
    for c in found:
        c.coverage = weighting.coverage(c.stems, c.head_stems | c.context_stems)
        prior = (0.75 + 0.25 * c.result.score / top_score) / (1.0 + _RANK_DECAY * c.result_index)
        length = len(c.unit.text.split())
        brevity = 1.0 if length <= 45 else 45 / length
        c.score = c.coverage * prior * (0.8 + 0.2 * brevity)


_ISO_IN_PARENS = re.compile(r"\(([A-Z]{2})\)")


_AUDIENCE_CHECKED = 12  # only the best candidates can be quoted: the rest are not worth the regexes


def _demote_other_audiences(found: list[Candidate], countries: set[str], entities: set[str]) -> None:
    for c in sorted(found, key=lambda c: -c.score)[:_AUDIENCE_CHECKED]:
        text = span_text(c, span(c))  # what would be quoted: a lead-in line brings the rows it introduces
        named = set(countries_in_text(text)) | {code for code in _ISO_IN_PARENS.findall(text) if code in COUNTRY_NAMES}
        named_entities = {e.lower() for e in entities_in_text(text)}
        other_country = bool(countries) and bool(named) and not named & countries
        other_entity = bool(entities) and bool(named_entities) and not named_entities & entities
        if other_country or other_entity:
            c.score *= _OTHER_AUDIENCE_WEIGHT


def _confidence(
    found: list[Candidate],
    weighting: _Weighting,
    results: Sequence[SearchResult],
    retrieval_scale: float,
) -> float:
    """How sure the quote answers the question, in [0, 1]. Results without a similarity (a search
    that did not report one) leave that part out and the other two fill the scale."""
    top = results[0].score if results else 0.0
    retrieval = min(1.0, top / retrieval_scale) if retrieval_scale > 0 else 0.0
    everything: set[str] = set()
    for c in found:
        everything |= c.stems | c.head_stems | c.context_stems
    value = _W_RETRIEVAL * retrieval + _W_PASSAGES * weighting.coverage(everything)
    similarity = results[0].similarity if results else None
    if similarity is None:
        value /= _W_RETRIEVAL + _W_PASSAGES
    else:
        value += _W_SIMILARITY * min(1.0, max(0.0, similarity) / SIMILARITY_SCALE)
    return round(max(0.0, min(1.0, value)), 4)


def _pick(ranked: list[Candidate], max_sentences: int) -> list[tuple[Candidate, range]]:
    """The best sentences, preferring different chunks; each with the span of units it quotes."""
    if not ranked or ranked[0].score <= 0:
        return []
    floor = ranked[0].score * _RELATIVE_CUTOFF
    picked: list[tuple[Candidate, range]] = []
    seen: set[str] = set()
    pool = list(ranked)
    while pool and len(picked) < max_sentences:
        used = [p.result.chunk_id for p, _ in picked]
        best = max(pool, key=lambda c: c.score * _SAME_CHUNK_PENALTY ** used.count(c.result.chunk_id))
        pool.remove(best)
        if best.score * _SAME_CHUNK_PENALTY ** used.count(best.result.chunk_id) < floor and picked:
            break
        units = span(best)
        key = dedupe_key(span_text(best, units))
        if key in seen or any(overlaps(best, units, p, other) for p, other in picked):
            continue
        seen.add(key)
        picked.append((best, units))
    return picked
