"""Hybrid search over real pgvector: ranking, audience filters, selective filters, the CLI."""

from __future__ import annotations

import json
import random

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bot.cli.main import app
from retrieval import store
from retrieval.audience import Audience
from retrieval.chunking import Chunk as TextChunk
from retrieval.pipeline import SearchService
from tests.integration.helpers import ingest_folder


@pytest.fixture
def indexed(settings, sessions, embed, sample_policies):
    ingest_folder(settings, sessions, embed, sample_policies)
    return SearchService(settings, settings.database_url.get_secret_value())


def test_country_question_puts_that_countrys_policy_first(indexed) -> None:
    response = indexed.search("how many vacation days do i get in germany", k=5)
    assert response.results[0].path == "de-employee-handbook.pdf"
    assert response.results[0].page == 2
    assert response.analysis["countries"] == ["DE"]


def test_results_carry_citation_fields(indexed) -> None:
    r = indexed.search("can I carry over unused PTO into next year", k=3, countries=["US"]).results[0]
    assert r.path == "us-pto-policy.md"
    assert "Carry-over" in r.heading_path and "PTO" in r.title
    assert r.uri.startswith("file://") and r.uri.endswith("us-pto-policy.md")
    assert len(r.content_hash) == 64 and r.version_no == 1 and r.text


def test_audience_filter_keeps_country_and_global_documents(indexed) -> None:
    results = indexed.search("maternity leave pay", k=10, countries=["DE"]).results
    paths = {r.path for r in results}
    assert "uk-leave-policy.md" not in paths and "us-parental-leave-fmla.md" not in paths
    assert "de-employee-handbook.pdf" in paths


def test_slack_style_typos_and_acronyms(indexed) -> None:
    response = indexed.search("whats the wfh polcy", k=3)
    assert response.results[0].path == "remote-work-policy.md"
    assert response.analysis["corrections"].get("polcy") == "policy"


def test_pdf_results_link_to_their_page(indexed) -> None:
    r = indexed.search("Elternzeit notice period", k=3, countries=["DE"]).results[0]
    assert r.page == 3 and r.uri.endswith("#page=3")


def test_selective_filter_still_returns_k(settings, sessions) -> None:
    """4,000 chunks for one country (and source), 30 for another: HNSW alone would return only a few
    of them, by country or by source."""
    rng = random.Random(7)

    def vector() -> list[float]:
        v = [rng.gauss(0, 1) for _ in range(384)]
        norm = sum(x * x for x in v) ** 0.5
        return [x / norm for x in v]

    with sessions.begin() as s:
        for country, docs in (("US", 400), ("NZ", 3)):
            source = store.get_or_create_source(s, "big" if country == "US" else "small")
            for d in range(docs):
                chunks = [TextChunk(i, f"{country} doc {d}", (), None, f"text {country} {d} {i}") for i in range(10)]
                store.write_version(
                    s,
                    source_id=source.id,
                    path=f"{country}/{d}.md",
                    origin="synthetic",
                    content_hash=f"{country}{d}",
                    title=f"{country} doc {d}",
                    uri="file:///x",
                    meta={},
                    audience=Audience((country,)),
                    content="x",
                    chunks=chunks,
                    text_hashes=[f"{country}{d}{i}" for i in range(10)],
                    embeddings=[vector() for _ in chunks],
                )
    service = SearchService(settings, settings.database_url.get_secret_value())
    pipeline = service.pipeline
    pipeline.warm_up()
    retriever = pipeline.get_component("embedding_retriever")
    from retrieval.embedding import QueryVector
    from retrieval.search_store import AudienceFilter

    hits = retriever.run(query_embedding=QueryVector(vector()), audience=AudienceFilter(countries=("NZ",)), top_k=20)
    ids = hits["hits"].ids()
    assert len(ids) == 20
    with sessions() as s:
        countries = (
            s.execute(
                text("SELECT DISTINCT unnest(countries) FROM chunks WHERE id = ANY(:ids)"),
                {"ids": ids},
            )
            .scalars()
            .all()
        )
    assert countries == ["NZ"]

    # a small source among large ones: pgvector 0.6 goes straight to the exact search
    query = QueryVector(vector())
    analyzed = pipeline.get_component("analyzer").run(query="text", sources=["small"])
    assert analyzed["in_scope"] == pytest.approx(30 / 4030)
    small = analyzed["audience"]
    nearest = retriever.run(query_embedding=query, audience=small, top_k=20, in_scope=analyzed["in_scope"])
    nearest = nearest["hits"].ids()
    with sessions() as s:
        exact = (
            s.execute(
                text(
                    "SELECT c.id FROM chunks c JOIN sources src ON src.id = c.source_id WHERE src.name = 'small' "
                    "ORDER BY (c.embedding <=> CAST(:q AS vector)) + 0 LIMIT 20"
                ),
                {"q": "[" + ",".join(str(x) for x in query) + "]"},
            )
            .scalars()
            .all()
        )
    assert nearest == exact


def test_cli_search_json(settings, indexed, monkeypatch) -> None:
    monkeypatch.setenv("HRBOT_DATABASE_URL", settings.database_url.get_secret_value())
    result = CliRunner().invoke(app, ["search", "sick note from day 4", "--country", "DE", "--k", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["results"]) == 2
    first = data["results"][0]
    assert first["path"] == "de-employee-handbook.pdf" and first["page"] == 4
    assert {"text", "title", "heading_path", "page", "uri", "score"} <= first.keys()


def test_cli_rejects_unknown_country(settings, monkeypatch) -> None:
    monkeypatch.setenv("HRBOT_DATABASE_URL", settings.database_url.get_secret_value())
    result = CliRunner().invoke(app, ["search", "vacation", "--country", "Atlantis"])
    assert result.exit_code == 2
    assert "unknown country" in result.output


def test_question_naming_one_of_two_twin_documents_gets_that_one(settings, sessions, embed, tmp_path) -> None:
    """Two plan booklets with the same title and the same "Hearing care" section: only the words
    each uses elsewhere tell them apart, and the question names its plan."""
    hearing = (
        "## Hearing care\n\nThe plan covers hearing tests, hearing aids and cochlear implants once every three years.\n"
    )
    booklets = {
        "standard.md": "The Northwind Standard plan is our basic plan. Northwind Standard covers medical and vision "
        "care; Standard members pay a copay for specialist visits.",
        "plus.md": "The Northwind Health Plus plan is our comprehensive plan. Health Plus covers medical, vision and "
        "dental care; Plus members pay no copay for specialist visits.",
    }
    for name, about in booklets.items():
        (tmp_path / name).write_text(f"---\ntitle: Benefits details\n---\n\n## About your plan\n\n{about}\n\n{hearing}")
    ingest_folder(settings, sessions, embed, tmp_path, source="plans")
    service = SearchService(settings, settings.database_url.get_secret_value())
    for question, expected in (
        ("does the Northwind Standard plan cover hearing aids", "standard.md"),
        ("does Northwind Health Plus cover hearing aids", "plus.md"),
    ):
        results = service.search(question, k=4).results
        hearing_order = [r.path for r in results if r.heading_path == "Hearing care"]
        assert hearing_order[0] == expected, question
        assert results[0].path == expected, question


def test_a_search_over_one_source_weighs_words_by_that_source(settings, sessions, embed, tmp_path) -> None:
    """ "gelato" is in all 6 chunks of the ice-cream company and in none of the office's 25: searching that company,
    it says nothing (not read); searching everything, it is the rarest word of the question."""
    from haystack.utils import Secret

    from retrieval.components import PgvectorChunkKeywordRetriever
    from retrieval.search_store import AudienceFilter

    shop, office = tmp_path / "shop", tmp_path / "office"
    shop.mkdir()
    office.mkdir()
    for i, topic in enumerate(("holidays", "sick leave", "travel", "uniforms", "shifts", "freezers")):
        (shop / f"p{i}.md").write_text(
            f"# Gelato {topic}\n\nAt the gelato shop, {topic} rules apply to every gelato maker.\n"
        )
    topics = ["holidays", "sick leave", "travel", "expenses", "laptops", "parking", "badges", "security", "hiring"]
    for i, topic in enumerate(topics + [f"room {n}" for n in range(16)]):
        (office / f"p{i}.md").write_text(f"# Office {topic}\n\nIn the office, {topic} rules apply to everyone.\n")
    ingest_folder(settings, sessions, embed, shop, source="shop")
    ingest_folder(settings, sessions, embed, office, source="office")
    retriever = PgvectorChunkKeywordRetriever(
        Secret.from_token(settings.database_url.get_secret_value()), max_term_share=0.2
    )
    retriever.warm_up()
    assert retriever._stats is not None
    stats = retriever._stats.refresh()
    shop_only = stats.keyword_weights(("shop",))
    assert (shop_only.total, shop_only.lexemes["gelato"]) == (6, 6)
    assert stats.keyword_weights().total == 31 and stats.keyword_weights(("shop", "office")).total == 31
    everywhere = dict(retriever._weights(["gelato", "travel"], stats.keyword_weights(), stats))
    in_the_shop = dict(retriever._weights(["gelato", "travel"], shop_only, stats))
    assert "gelato" in everywhere and "gelato" not in in_the_shop
    hits = retriever.run(query="gelato travel", audience=AudienceFilter(sources=("shop",)))["hits"]
    assert len(hits) == 1  # the shop's travel page, found by "travel" alone


def test_keyword_search_reads_the_rarest_words_within_its_postings_budget(settings, sessions, embed, tmp_path) -> None:
    """A question's words are read rarest first while their postings fit the budget (the rarest two
    always): "freezer" (1 chunk) and "travel" (2) are read, "gelato" (6) would pass a budget of 4."""
    from haystack.utils import Secret

    from retrieval.components import PgvectorChunkKeywordRetriever

    for i, topic in enumerate(("holidays", "sick leave", "travel", "uniforms", "shifts", "freezer")):
        (tmp_path / f"shop{i}.md").write_text(f"# Gelato {topic}\n\nAt the gelato shop, {topic} rules apply.\n")
    (tmp_path / "office.md").write_text("# Office travel\n\nIn the office, travel rules apply.\n")
    ingest_folder(settings, sessions, embed, tmp_path, source="shop")
    url = Secret.from_token(settings.database_url.get_secret_value())

    def search(budget: int) -> tuple[set[str], set[int]]:
        retriever = PgvectorChunkKeywordRetriever(url, max_term_share=1.0, postings_budget=budget)
        retriever.warm_up()
        assert retriever._stats is not None
        stats = retriever._stats.refresh()
        words = {lex for lex, _ in retriever._weights(["gelato", "freezer", "travel"], stats.keyword_weights(), stats)}
        return words, set(retriever.run(query="gelato freezer travel")["hits"].ids())

    everything, all_hits = search(0)
    within, budget_hits = search(4)
    assert everything == {"gelato", "freezer", "travel"} and len(all_hits) == 7
    assert within == {"freezer", "travel"}
    assert len(budget_hits) == 3  # the freezer page and the two travel pages
    assert budget_hits < all_hits
    assert search(1)[0] == {"freezer", "travel"}  # the rarest two, whatever the budget
