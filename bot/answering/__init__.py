"""Answer generation: the extractive default composer and answer-quality scoring.

``compose(question, results, terms=query_terms(question, response.analysis))`` turns a search
response into a cited answer or an abstention; ``bot.answering.scoring`` scores answers on the
evaluation sets.
"""

from bot.answering.extractive import CONFIDENCE_THRESHOLD, MAX_SENTENCES, RETRIEVAL_SCALE, compose, query_terms
from bot.answering.models import ABSTAIN_TEXT, Citation, Composition, QuotedSentence, render

__all__ = [
    "ABSTAIN_TEXT",
    "CONFIDENCE_THRESHOLD",
    "MAX_SENTENCES",
    "RETRIEVAL_SCALE",
    "Citation",
    "Composition",
    "QuotedSentence",
    "compose",
    "query_terms",
    "render",
]
