from __future__ import annotations

import pytest

from retrieval.audience import countries_in_text, resolve_audience
from retrieval.query import Glossary, Speller, analyze, damerau_levenshtein, merge_countries, split_file_names
from retrieval.search_store import document_posterior


@pytest.mark.parametrize(
    ("title", "path", "countries", "entity"),
    [
        ("GitLab GmbH (Germany) information & benefits", "entity/gmbh-germany.md", ("DE",), "GitLab GmbH"),
        ("GitLab LTD (UK) Benefits", "benefits/ltd-benefits-uk.md", ("GB",), "GitLab LTD"),
        ("Right to disconnect", "people-policies/ireland-ltd/right-to-disconnect-policy.md", ("IE",), None),
        ("Leave of absence", "leave-of-absence/us.md", ("US",), None),
        ("Let us know", "let-us-know.md", (), None),
        ("Global expansion", "global-expansion.md", (), None),
    ],
)
def test_inferred_audience(title, path, countries, entity) -> None:
    audience = resolve_audience({}, title, path)
    assert audience.countries == countries
    if entity:
        assert entity in audience.entities


def test_declared_audience_wins_and_is_validated() -> None:
    assert resolve_audience({"country": "de, Austria"}, "UK policy", "uk.md").countries == ("DE", "AT")
    with pytest.raises(ValueError, match="unknown country"):
        resolve_audience({"country": "Atlantis"}, "t", "p.md")
    with pytest.raises(ValueError, match="employment type"):
        resolve_audience({"employment_type": "wizard"}, "t", "p.md")


def test_countries_in_questions() -> None:
    assert countries_in_text("im in ireland, how much parental leave do i get") == ["IE"]
    assert countries_in_text("can the US team expense lunch") == ["US"]
    assert countries_in_text("let us know about pto") == []
    assert merge_countries(["US"], ["DE"]) == ("DE",)
    assert merge_countries(["US"], []) == ("US",)


def test_glossary_expands_longest_terms_first(tmp_path) -> None:
    g = Glossary.load()
    assert g.expansions("mat leave?") == ["maternity leave parental leave"]
    extra = tmp_path / "g.yml"
    extra.write_text("sabbie: sabbatical\n")
    assert "sabbatical" in Glossary.load(extra).expansions("any sabbie policy")


def test_speller_corrects_to_indexed_words() -> None:
    speller = Speller({"vacation": 50, "vocation": 2, "maternity": 20, "policy": 80, "germany": 10})
    assert speller.correct("vacaton") == "vacation"
    assert speller.correct("matternity") == "maternity"
    assert speller.correct("policy") is None  # known word
    assert speller.correct("zzzzzz") is None
    assert damerau_levenshtein("teh", "the") == 1


def test_analyze_keeps_country_words_and_expands() -> None:
    speller = Speller({"holland": 30, "vacation": 40, "days": 40})
    q = analyze("PTO days in poland", Glossary.load(), speller)
    assert "poland" not in q.corrections  # country names are never "corrected" into other countries
    assert q.countries == ("PL",)
    assert "paid time off" in q.embedding_text and "paid time off" in q.keyword_text


def test_file_names_in_questions_become_words() -> None:
    q = analyze("coinsurance according to the Northwind_Health_Plus_Benefits_Details.pdf?", Glossary({}), None)
    assert "Northwind Health Plus Benefits Details" in q.keyword_text
    assert q.original.endswith("Details.pdf?")
    assert (
        split_file_names("see time-off_policy.docx and U.S. rules, 3.5 days")
        == "see time-off policy and U.S. rules, 3.5 days"
    )


def test_document_posterior_prefers_the_document_that_uses_the_question_words() -> None:
    counts = {1: {"northwind": 90.0, "standard": 60.0, "hear": 5.0}, 2: {"northwind": 95.0, "plus": 70.0, "hear": 5.0}}
    totals = {1: 3000.0, 2: 3100.0}
    standard = document_posterior(counts, totals, ["northwind", "standard", "hear"])
    plus = document_posterior(counts, totals, ["northwind", "plus", "hear"])
    assert standard[1] > 0.75 > 0.25 > standard[2] and plus[2] > 0.75 > 0.25 > plus[1]
    assert abs(sum(standard.values()) - 1.0) < 1e-9
    # words no candidate holds say nothing; one candidate is certain
    assert document_posterior(counts, totals, ["gelato"]) == {1: 0.5, 2: 0.5}
    assert document_posterior({1: counts[1]}, {1: 3000.0}, ["standard"]) == {1: 1.0}


def test_speller_keeps_the_first_letters_among_equally_close_words() -> None:
    speller = Speller({"tips": 50, "types": 10, "policy": 40})
    assert speller.correct("typs") == "types"  # not the more common "tips": one edit from both
    assert speller.correct("polcy") == "policy"


def test_speller_leaves_inflections_of_real_words_alone() -> None:
    speller = Speller({"days": 80, "leader": 20, "backed": 5, "vacation": 60}, known=frozenset({"dad", "lend", "back"}))
    assert speller.correct("dads") is None  # "how much pat leave do dads get" is not about days
    assert speller.correct("lender") is None and speller.correct("backend") is None
    assert speller.correct("vacaton") == "vacation"
