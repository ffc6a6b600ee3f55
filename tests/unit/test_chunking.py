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


def test_a_passage_over_a_page_break_is_one_chunk_cited_where_it_starts(counter: TokenCounter) -> None:
    first = "Balance billing is when a provider bills you for the difference."
    second = "You are protected from balance billing when visiting in-network providers."
    text = f"{first}\n{second}"
    section = Section(("Balance billing",), text, page=7, page_starts=((len(first) + 1, 8),))
    assert section.segments() == [(first + "\n", 7), (second, 8)]
    (chunk,) = Chunker(counter).chunk(ParsedDocument("Plan", [section]))
    assert (chunk.page, chunk.page_end) == (7, 8) and chunk.body == text


def test_chunks_after_a_page_break_start_on_the_next_page(counter: TokenCounter) -> None:
    sentences = [f"Rule number {i} of the travel policy explains how to book a trip." for i in range(40)]
    half = "\n".join(sentences[:20])
    section = Section(("Travel",), half + "\n" + "\n".join(sentences[20:]), page=3, page_starts=((len(half) + 1, 4),))
    chunks = Chunker(counter, max_tokens=64).chunk(ParsedDocument("T", [section]))
    assert chunks[0].page == 3 and chunks[-1].page == 4 and chunks[-1].page_end == 4
    for c in chunks:
        assert c.page is not None and c.page_end is not None and c.page <= c.page_end <= c.page + 1
        if "Rule number 0 " in c.body:
            assert c.page == 3
        if "Rule number 39 " in c.body:
            assert c.page == 4
    spanning = [c for c in chunks if c.page != c.page_end]
    assert len(spanning) <= 1
    assert all("Rule number 19 " in c.body and "Rule number 20 " in c.body for c in spanning)
