from __future__ import annotations

import pytest

from hr.settings import Settings
from retrieval.chunking import MODEL_WINDOW, SPECIAL_TOKENS, Chunker, TokenCounter
from retrieval.converters import ParsedDocument, Section


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter(Settings().resolved_model_path())


def test_every_chunk_fits_the_model_window(counter: TokenCounter) -> None:
    long_paragraph = " ".join(f"Sentence number {i} explains a rule about leave." for i in range(300))
    giant_word = "x" * 3000
    doc = ParsedDocument(
        "Time off",
        [
            Section(("Parental leave", "Germany"), long_paragraph),
            Section(("Links",), giant_word),
            Section(("A " * 200,), "short"),
        ],
    )
    chunks = Chunker(counter, max_tokens=200).chunk(doc)
    assert len(chunks) > 5
    for c in chunks:
        assert counter.count(c.embed_text) <= 200 <= MODEL_WINDOW - SPECIAL_TOKENS
    # nothing is lost: every sentence is in some chunk
    joined = " ".join(c.body for c in chunks)
    assert "Sentence number 299" in joined and joined.count("x") >= 3000


def test_embedded_text_carries_title_and_heading_path(counter: TokenCounter) -> None:
    doc = ParsedDocument("Time off", [Section(("Parental leave", "Germany"), "14 weeks of Mutterschutz.")])
    (chunk,) = Chunker(counter).chunk(doc)
    assert chunk.heading_path == "Parental leave > Germany"
    assert chunk.embed_text.startswith("Time off > Parental leave > Germany\n")
    assert chunk.body == "14 weeks of Mutterschutz."


def test_sections_are_not_mixed(counter: TokenCounter) -> None:
    doc = ParsedDocument("T", [Section(("A",), "alpha text"), Section(("B",), "beta text")])
    chunks = Chunker(counter).chunk(doc)
    assert [(c.headings, c.body) for c in chunks] == [(("A",), "alpha text"), (("B",), "beta text")]
