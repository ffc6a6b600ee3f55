"""The extractive composer and answer-quality scoring, on hand-built search results."""

from __future__ import annotations

import re

import pytest

from bot.answering import ABSTAIN_TEXT, compose, query_terms
from bot.answering.budget import (
    MIN_SHARE_TOKENS,
    THREAD_SHARE,
    Context,
    clip,
    context_sentences,
    count_tokens,
    fit,
    fit_thread,
    whole_chunks,
)
from bot.answering.llm import LLMGenerator
from bot.answering.prompt import messages
from bot.answering.scoring import (
    AnswerOutcome,
    contains,
    contains_all,
    normalise_numbers,
    score_answers,
)
from bot.answering.sentences import content_stems, split_sentences, split_units, stem
from hr.settings import Settings
from retrieval.pipeline import SearchResult
from tests.fakes.openai_api import cite_best_overlap

PARENTAL = """## Parental leave

GitLab offers everyone who has been employed for at least three months up to **16 weeks** of 100% paid time off
during the first year of parenthood. This includes anyone who becomes a parent through childbirth or adoption.
You can take your parental leave in up to three segments, e.g. four weeks after the birth and the rest later.
Please see the [leave page](https://handbook.gitlab.com/leave) for how to request it.
"""

PTO = """# Time off types

We don't frown on people taking time off. Team members are entitled to:

- Take up to 25 consecutive calendar days of PTO without a manager's approval.
- Give at least 6 business days of notice for absences longer than 3 days.

| Type | Days |
|------|------|
| Vacation | 25 |
| Sick leave | unlimited |
"""

SICK = """Sick time

If you are out sick for more than 5 consecutive calendar days, please provide a sick note from a doctor.
Team members in the U.S. may also use Caregiver Sick Time to care for a family member. It is paid at 100%.
"""

TRAVEL = """Travel expenses are reimbursed at cost. Receipts are required for any expense over $50 (U.S. team members).
Business class is allowed on flights longer than 8 hours, otherwise book economy.
"""


def result(
    rank: int,
    text: str,
    *,
    chunk_id: int | None = None,
    score: float = 0.03,
    page: int | None = None,
    similarity: float | None = 0.6,
) -> SearchResult:
    cid = chunk_id if chunk_id is not None else 100 + rank
    return SearchResult(
        rank=rank,
        score=score,
        text=text,
        title=f"Handbook page {cid}",
        heading_path="Time off > Leave",
        page=page,
        uri=f"https://handbook.example.com/{cid}",
        source="gitlab-handbook",
        path=f"content/page-{cid}.md",
        chunk_id=cid,
        document_id=cid // 10,
        version_id=cid * 7,
        version_no=1,
        content_hash=f"hash{cid}",
        similarity=similarity,
    )


# --- sentences -------------------------------------------------------------------------------------


def test_sentence_split_keeps_abbreviations_initials_and_decimals() -> None:
    text = "Use e.g. the portal. U.S. Staff accrue 1.5 days per month. Dr. Smith approves it! Then go."
    assert split_sentences(text) == [
        "Use e.g. the portal.",
        "U.S. Staff accrue 1.5 days per month.",
        "Dr. Smith approves it!",
        "Then go.",
    ]


def test_units_follow_markdown_structure() -> None:
    units = split_units(PTO)
    texts = [u.text for u in units]
    heading = units[texts.index("Time off types")]
    assert heading.kind == "label" and heading.lead_in  # context for what follows, never quoted alone
    assert units[texts.index("Type | Days")].kind == "header"
    assert "Team members are entitled to:" in texts
    assert units[texts.index("Team members are entitled to:")].lead_in
    assert "Take up to 25 consecutive calendar days of PTO without a manager's approval." in texts
    assert "Type: Vacation; Days: 25" in texts
    assert not any("---" in t or t.startswith("|") for t in texts)
    assert [u.position for u in units] == list(range(len(units)))


def test_inline_markdown_is_cleaned() -> None:
    texts = [u.text for u in split_units(PARENTAL)]
    assert any(t.startswith("GitLab offers everyone") and "16 weeks of 100% paid" in t for t in texts)
    assert "Please see the leave page for how to request it." in texts
    assert not any("**" in t or "](" in t for t in texts)


def test_converted_text_lines() -> None:
    """What the ingest converters hand over: one line per paragraph, bullet or table row (cells joined
    by " | ", no rule line), hard-wrapped lines, and title lines without punctuation."""
    text = (
        "Statutory Vacation Minimums by Province\n"
        "Province | Minimum | Accrual\n"
        "Ontario | 2 weeks | after 1 year\n"
        "Quebec | 3 weeks | after 5 years\n"
        "GSA employees who need employment verification should utilize The\n"
        "Work Number (TWN) provided by Equifax.\n"
        "This sentence is hard\n"
        "wrapped over two lines."
    )
    units = split_units(text)
    assert [(u.kind, u.text) for u in units] == [
        ("label", "Statutory Vacation Minimums by Province"),
        ("header", "Province | Minimum | Accrual"),
        ("row", "Province: Ontario; Minimum: 2 weeks; Accrual: after 1 year"),
        ("row", "Province: Quebec; Minimum: 3 weeks; Accrual: after 5 years"),
        (
            "sentence",
            "GSA employees who need employment verification should utilize The Work Number (TWN) provided by Equifax.",
        ),
        ("sentence", "This sentence is hard wrapped over two lines."),
    ]


def test_a_run_of_short_lines_is_a_flattened_table_not_headings() -> None:
    text = (
        "Holidays\n\n"
        "We observe these holidays.\n"
        "New Year's Day\nJanuary 1\nCesar Chavez Day\nMarch 31\nIndependence Day\nJuly 4\n"
        "If a holiday falls on a weekend, we will let you know."
    )
    units = split_units(text)
    kinds = {u.text: u.kind for u in units}
    assert kinds["Holidays"] == "label"  # one short line alone still introduces what follows
    assert kinds["Cesar Chavez Day"] == kinds["March 31"] == "item"
    c = compose("is cesar chavez day a company holiday", [result(1, text)], max_sentences=1)
    assert c.sentences[0].text == "Cesar Chavez Day; March 31"


def test_a_cut_off_sentence_brings_the_list_its_last_line_introduces() -> None:
    text = (
        "If a lender needs to verify your income or employment, they can contact\n"
        "TWN via the options below:\n"
        "- The Work Number website\n"
        "- 800-367-5690 (Monday through Friday)\n"
    )
    c = compose("my mortgage lender needs to verify my employment, who do they contact", [result(1, text)])
    assert "TWN via the options below: The Work Number website 800-367-5690" in c.sentences[0].text


def test_a_short_opening_sentence_brings_the_next_one() -> None:
    text = (
        "- Statutory vacation days per French requirements\n"
        "- Additional RTT days for work-life balance. Track them in Mihi and in Workday.\n"
        "- Flexible time off through the PTO policy\n"
    )
    c = compose("where do i log my RTT days", [result(1, text)], max_sentences=1)
    assert c.sentences[0].text == "Additional RTT days for work-life balance. Track them in Mihi and in Workday."


def test_how_many_counts_the_thing_asked_about_as_the_figure() -> None:
    text = (
        "Counseling sessions with the EAP are confidential.\n"
        "You can have six counseling sessions.\n"  # a count, but no unit such as days or weeks
    )
    c = compose("how many free counseling sessions do we get", [result(1, text)], max_sentences=1)
    assert c.sentences[0].text == "You can have six counseling sessions."


def test_content_stems_read_numbers_and_shorthand() -> None:
    assert content_stems("whats the gift for hitting five yrs?") == content_stems("gift for hitting 5 years")
    assert content_stems("a budget of 1,500 annually") == ["budget", "1500", "year"]


def test_stemmer_conflates_inflections() -> None:
    assert stem("leaves") == stem("leaving") == stem("leave")
    assert stem("accrues") == stem("accrued") == stem("accrual")
    assert stem("relocation") == stem("relocating")
    assert stem("policies") == stem("policy")
    assert stem("days") == "day"


# --- compose ---------------------------------------------------------------------------------------------


def test_quotes_the_answering_sentence_with_its_citation() -> None:
    results = [result(1, PTO), result(2, PARENTAL), result(3, SICK)]
    question = "is there a cap on PTO? thinking of taking like 5 weeks off"
    c = compose(question, results, terms=[*question.split(), "paid time off vacation"])
    assert not c.abstain
    assert "25 consecutive calendar days" in c.sentences[0].text
    assert c.sentences[0].chunk_id == 101
    assert c.citations[0].n == 1 and c.citations[0].chunk_id == 101
    assert 0.0 <= c.confidence <= 1.0


def test_every_sentence_has_a_citation_and_numbers_follow_first_use() -> None:
    results = [result(1, TRAVEL), result(2, PARENTAL), result(3, SICK), result(4, PTO)]
    c = compose("how many weeks of parental leave, and do i need a sick note", results, max_sentences=3)
    assert c.sentences
    numbers = {cit.n: cit for cit in c.citations}
    for s in c.sentences:
        assert s.citation in numbers and numbers[s.citation].chunk_id == s.chunk_id
    first_use = list(dict.fromkeys(s.citation for s in c.sentences))
    assert first_use == list(range(1, len(first_use) + 1)) == [cit.n for cit in c.citations]
    body, _, sources = c.text.partition("\n\nSources:\n")
    for line in body.splitlines():
        assert re.search(r"\[\d+\]$", line), line
    assert sources.count("\n") + 1 == len(c.citations)


def test_prefers_different_chunks() -> None:
    results = [result(1, PARENTAL), result(2, PARENTAL.replace("GitLab", "The company"), chunk_id=555)]
    c = compose("how many weeks of paid parental leave", results, max_sentences=2)
    assert len({s.chunk_id for s in c.sentences}) == 2


def test_identical_sentences_are_quoted_once() -> None:
    results = [result(1, SICK), result(2, SICK, chunk_id=999)]
    c = compose("do i need a doctors sick note", results, max_sentences=3)
    texts = [s.text for s in c.sentences]
    assert len(texts) == len(set(texts))


def test_figure_questions_prefer_sentences_with_figures() -> None:
    text = (
        "Parental leave is an important benefit for new parents at the company. "
        "Parental leave lasts 16 weeks at full pay."
    )
    c = compose("how long is parental leave", [result(1, text)], max_sentences=1)
    assert "16 weeks" in c.sentences[0].text


def test_fragment_keeps_its_lead_in() -> None:
    text = "Receipts for meals are required when:\n\n- over $50\n- abroad"
    c = compose("when are meal receipts required", [result(1, text)], max_sentences=1)
    assert c.sentences[0].text.startswith("Receipts for meals are required when:")
    assert "$50" in c.sentences[0].text


def test_faq_question_brings_its_answer() -> None:
    text = "Q: What if my laptop hasn't arrived by my first day?\nA: Use your own computer temporarily and tell IT."
    c = compose("my laptop wont arrive before my first day, what do i use", [result(1, text)], max_sentences=1)
    assert "temporarily" in c.sentences[0].text


def test_table_row_quoted_with_its_header() -> None:
    text = "Statutory Vacation Minimums by Province\nProvince | Minimum\nOntario | 2 weeks\nQuebec | 3 weeks"
    c = compose("how many weeks of vacation in quebec", [result(1, text)], max_sentences=1)
    assert c.sentences[0].text == "Province: Quebec; Minimum: 3 weeks"


def test_who_questions_prefer_a_contact() -> None:
    text = (
        "We do not tolerate harassment of community members in any form.\n"
        "Community members violating these rules may be removed from community spaces.\n"
        "If you are being harassed, please contact B (b@example.com) or one of the founders."
    )
    c = compose(
        "someone is harassing me in the community slack, who do i report it to", [result(1, text)], max_sentences=1
    )
    assert "b@example.com" in c.sentences[0].text


def test_abstains_when_nothing_relevant() -> None:
    results = [result(1, TRAVEL, score=0.01), result(2, SICK, score=0.009)]
    c = compose("what is on the cafeteria menu this week", results)
    assert c.abstain
    assert c.sentences == [] and c.citations == []
    assert c.text == ABSTAIN_TEXT
    assert compose("how much parental leave", []).abstain


def test_abstains_on_a_confident_search_that_misses_the_question() -> None:
    # the search put these chunks first with full agreement, but they are about something else
    results = [result(1, TRAVEL, score=2 / 61, similarity=0.3), result(2, SICK, score=0.03, similarity=0.2)]
    c = compose("do we get pet insurance? my vet bills are insane", results)
    assert c.abstain and c.text == ABSTAIN_TEXT
    relevant = [result(1, SICK, score=2 / 61, similarity=0.65), result(2, TRAVEL, score=0.03, similarity=0.2)]
    answered = compose("do i need a sick note from a doctor", relevant)
    assert not answered.abstain
    assert answered.confidence > c.confidence


def test_confidence_counts_the_top_results_similarity_to_the_question() -> None:
    question = "do i need a sick note from a doctor"

    def confidence(similarity: float | None) -> float:
        results = [result(1, SICK, score=2 / 61, similarity=similarity), result(2, TRAVEL, similarity=0.9)]
        return compose(question, results, threshold=0.0).confidence

    # 0.4 x fused score (full agreement) + 0.4 x similarity / 0.6 (capped) + 0.2 x question coverage (all of it)
    assert confidence(0.6) == pytest.approx(1.0)
    assert confidence(0.9) == pytest.approx(1.0)
    assert confidence(0.3) == pytest.approx(0.8)
    assert confidence(-0.2) == pytest.approx(0.6)
    # similar in meaning and agreed on by both retrievers, yet about something else: still abstains
    off_topic = [result(1, TRAVEL, score=2 / 61, similarity=0.6)]
    assert compose("do we get pet insurance? my vet bills are insane", off_topic).abstain


def test_confidence_without_a_similarity_rescales_the_other_parts() -> None:
    results = [result(1, SICK, score=2 / 61, similarity=None)]
    assert compose("do i need a sick note from a doctor", results, threshold=0.0).confidence == pytest.approx(1.0)
    halfway = [result(1, SICK, score=1 / 61, similarity=None)]
    # (0.4 x 0.5 + 0.2 x 1.0) / 0.6
    assert compose("do i need a sick note from a doctor", halfway, threshold=0.0).confidence == pytest.approx(
        0.4 / 0.6, abs=1e-3
    )


def test_threshold_is_a_parameter() -> None:
    results = [result(1, PARENTAL)]
    c = compose("how many weeks of parental leave", results, threshold=0.0)
    assert not c.abstain
    assert compose("how many weeks of parental leave", results, threshold=1.01).abstain


def test_sources_list_title_section_page_and_link() -> None:
    c = compose("how many weeks of parental leave", [result(1, PARENTAL, page=7)], threshold=0.0)
    assert "[1] Handbook page 101 › Time off › Leave, p. 7 — https://handbook.example.com/101" in c.text
    cit = c.citations[0]
    assert (cit.document_id, cit.version_id, cit.content_hash, cit.path) == (10, 707, "hash101", "content/page-101.md")


def test_query_terms_apply_corrections_and_add_expansions() -> None:
    analysis = {"corrections": {"vacaton": "vacation"}, "expansions": ["paid time off vacation"], "countries": []}
    assert query_terms("how fast does vacaton accrue", analysis) == [
        "how",
        "fast",
        "does",
        "vacation",
        "accrue",
        "paid time off vacation",
    ]


def test_misspelled_question_still_answered_through_terms() -> None:
    text = "Vacation accrues at 1.25 days per month of service. Holidays are listed on the calendar."
    analysis = {"corrections": {"vacaton": "vacation"}, "expansions": []}
    question = "how fast does vacaton accrue"
    c = compose(question, [result(1, text)], terms=query_terms(question, analysis), max_sentences=1)
    assert not c.abstain and "1.25 days" in c.sentences[0].text


# --- scoring ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Three segments", "3 segments"),
        ("twenty-five days", "25 day"),
        ("two hundred and forty hours", "240 hour"),
        ("a 12-week period", "a 12 week period"),
        ("$1,500 per year", "$1500 per year"),
        ("$12.50", "$12.5"),
        ("50 percent", "50%"),
        ("50 %", "50%"),
        ("  Six   Sessions ", "6 sessions"),
        ("10.0 days", "10 day"),
        ("one two", "1 2"),
    ],
)
def test_normalise_numbers(raw: str, expected: str) -> None:
    assert normalise_numbers(raw) == expected


def test_contains_compares_normalised_whole_numbers() -> None:
    assert contains("You may take it in up to three segments.", "three segments")
    assert contains("You may take it in up to 3 segments.", "three segments")
    assert contains("A home office budget of USD 1500.", "1,500")
    assert contains("Reimbursed at 85 percent", "85%")
    assert not contains("16 weeks of leave", "6 weeks")
    assert not contains("costs $12.5 per day", "12")
    assert contains_all("Unpaid leave of up to twelve weeks", ["unpaid", "12 weeks"])
    assert not contains_all("Unpaid leave", ["unpaid", "12 weeks"])


def outcome(unanswerable: bool, abstained: bool, text: str = "", must: tuple[str, ...] = ()) -> AnswerOutcome:
    return AnswerOutcome(unanswerable, must, abstained, text, () if abstained else (1,), (1, 2))


def test_score_answers() -> None:
    outcomes = [
        outcome(False, False, "16 weeks [1]", ("16 weeks",)),
        outcome(False, False, "six sessions [1]", ("6",)),
        outcome(False, False, "nothing useful [1]", ("25 days",)),
        outcome(False, True, must=("three segments",)),  # wrongly abstained
        outcome(True, True),
        outcome(True, True),
        outcome(True, False, "a guess [1]"),
        AnswerOutcome(False, ("x",), False, "x [9]", (9,), (1, 2)),  # cites a chunk it never retrieved
    ]
    s = score_answers(outcomes)
    assert (s.questions, s.answerable, s.unanswerable, s.must_contain_scored) == (8, 5, 3, 5)
    assert s.must_contain_share == pytest.approx(3 / 5)
    assert s.abstention_precision == pytest.approx(2 / 3, abs=1e-3)
    assert s.abstention_recall == pytest.approx(2 / 3, abs=1e-3)
    assert s.wrongly_abstained_share == pytest.approx(1 / 5)
    assert s.answered == 5
    assert s.citation_validity == pytest.approx(4 / 5)


def test_outcome_of_a_composed_answer() -> None:
    from retrieval.evaluation import EvalQuestion

    results = [result(1, PARENTAL), result(2, SICK)]
    q = EvalQuestion(
        1, "how many weeks of paid parental leave", ("content/page-101.md",), answer_must_contain=("16 weeks",)
    )
    o = AnswerOutcome.of(q, compose(q.question, results, threshold=0.0), results)
    assert o.contains_expected and o.citations_valid and not o.abstained
    gone = AnswerOutcome.of(q, compose(q.question, results, threshold=1.01), results)
    assert gone.abstained and not gone.contains_expected and gone.cited_chunk_ids == ()


def test_score_answers_without_abstentions_or_unanswerables() -> None:
    s = score_answers([outcome(False, False, "16 weeks [1]", ("16 weeks",))])
    assert (s.abstention_precision, s.abstention_recall, s.wrongly_abstained_share) == (1.0, 1.0, 0.0)
    assert s.citation_validity == 1.0
    assert not AnswerOutcome(False, (), False, "no citation", (), (1,)).citations_valid


def test_sentences_about_other_countries_give_way_to_the_askers() -> None:
    table = (
        "Entity: Brightwave GmbH (DE); Carry-over rule: unused vacation carries over until 31 March.\n\n"
        "Entity: Brightwave Ltd (GB); Carry-over rule: up to 5 days of unused annual leave carry over."
    )
    results = [result(1, table)]
    question = "can I carry over unused vacation days?"
    from_uk = compose(question, results, max_sentences=1, threshold=0.0, countries=["GB"])
    assert "(GB)" in from_uk.sentences[0].text
    from_de = compose(question, results, max_sentences=1, threshold=0.0, countries=["DE"])
    assert "(DE)" in from_de.sentences[0].text


def test_sentences_about_another_employer_give_way_to_the_askers() -> None:
    text = (
        "Acme Inc. employees may carry over up to 5 unused vacation days.\n\n"
        "Acme Ltd employees may carry over up to 8 unused vacation days."
    )
    question = "can I carry over unused vacation days?"
    picked = compose(question, [result(1, text)], max_sentences=1, threshold=0.0, entities=["Acme Ltd"])
    assert "Acme Ltd" in picked.sentences[0].text


# --- the LLM's context budget ----------------------------------------------------------------------

FILLER = (
    "Team members should read the whole page before asking their manager about it. "
    "The policy is reviewed every year by the People team and changes are announced in Slack. "
    "Questions about payroll go to the payroll team, not to this page. "
)
DOCUMENTS = [
    PARENTAL,
    SICK,
    TRAVEL,
    "# Time off\n\nTeam members are entitled to 25 vacation days per calendar year. " + FILLER,
    "# Holidays\n\nEvery office observes its local public holidays. " + FILLER,
]


def five_documents() -> list[SearchResult]:
    """The top five results, each from its own document (chunk 110 is document 11, ...), long."""
    return [result(i, text + "\n\n" + FILLER, chunk_id=100 + 10 * i) for i, text in enumerate(DOCUMENTS, start=1)]


def budgeted(question: str, results: list[SearchResult], budget: int) -> Context:
    extractive = compose(question, results, threshold=0.0)
    return fit([extractive, context_sentences(question, results)], budget)


def test_every_retrieved_document_keeps_a_sentence_within_the_budget() -> None:
    results = five_documents()
    question = "how many weeks of paid parental leave do I get?"
    context = budgeted(question, results, 180)
    assert {s.citation.document_id for s in context.sources} == {r.document_id for r in results}
    assert context.tokens <= 180
    whole = whole_chunks(results)
    assert len(whole.sources) == 5 and whole.tokens > 3 * context.tokens
    # the answer's own sentence is there, under the parental-leave source
    parental = next(s for s in context.sources if s.citation.chunk_id == 110)
    assert any("16 weeks" in text for text in parental.sentences)


def test_a_tight_budget_clips_sentences_rather_than_dropping_documents() -> None:
    results = five_documents()
    question = "how many weeks of paid parental leave do I get?"
    roomy = budgeted(question, results, 400)
    tight = budgeted(question, results, 170)
    assert len({s.citation.document_id for s in tight.sources}) == 5
    assert tight.tokens <= 170 < roomy.tokens
    assert any(text.endswith(" …") for s in tight.sources for text in s.sentences)


def test_sources_are_numbered_in_retrieval_order_with_short_labels() -> None:
    results = five_documents()
    context = budgeted("do I need a sick note from a doctor?", results, 180)
    ranks = [next(r.rank for r in results if r.chunk_id == s.citation.chunk_id) for s in context.sources]
    assert ranks == sorted(ranks) and [s.n for s in context.sources] == list(range(1, len(ranks) + 1))
    assert all(s.citation.n == s.n for s in context.sources)
    assert context.sources[0].header() == "[1] Handbook page 110 › Leave"  # no link in the prompt
    assert "https://" not in context.render()


def test_second_sentences_only_after_every_document_has_one() -> None:
    results = five_documents()
    context = budgeted("how many weeks of paid parental leave do I get?", results, 400)
    assert len({s.citation.document_id for s in context.sources}) == 5
    assert sum(len(s.sentences) for s in context.sources) > 5


def test_clip_cuts_at_a_word_within_the_tokens() -> None:
    text = "Team members are entitled to twenty-five vacation days per calendar year, taken in blocks."
    assert clip(text, 100) == text
    short = clip(text, 8)
    assert short.endswith(" …") and count_tokens(short) <= 8 and text.startswith(short.removesuffix(" …"))


def test_the_thread_keeps_the_newest_turns_within_its_share() -> None:
    turns = [f"Asker: question number {i} about parental leave in Germany and the UK" for i in range(8)]
    kept = fit_thread(turns, 180)
    assert kept and kept[-1] == turns[-1] and kept == turns[-len(kept) :]
    assert sum(count_tokens(t) + 1 for t in kept) <= 180 * THREAD_SHARE
    assert len(fit_thread([FILLER * 5], 400)[0]) < len(FILLER * 5)  # one long turn is clipped


def test_the_thread_is_taken_out_of_the_context_budget() -> None:
    results = five_documents()
    question = "how many weeks of paid parental leave do I get?"
    generator = LLMGenerator(Settings(llm_prompt_budget_tokens=240))
    extractive = compose(question, results, threshold=0.0)
    wider = context_sentences(question, results)
    thread = generator.thread(["Asker: what is the parental leave policy?", "You: GitLab offers 16 weeks [1]."])
    alone, shared = generator.context(extractive, wider), generator.context(extractive, wider, thread=thread)
    spent = sum(count_tokens(t) + 1 for t in thread)
    assert thread and shared.tokens + spent <= 240 and shared.tokens < alone.tokens
    user = messages(question, shared, thread=thread)[1].text or ""
    assert "Recent conversation:\nAsker: what is the parental leave policy?\nYou: GitLab offers" in user
    assert user.index("Recent conversation:") < user.index("Question: ") < user.index("Sources (quoted documents):")


def test_the_fake_model_cites_the_source_that_covers_the_question() -> None:
    results = five_documents()
    question = "do I need a sick note from a doctor?"
    context = budgeted(question, results, 180)
    body = {"messages": [{"role": m.role.value, "content": m.text} for m in messages(question, context)]}
    reply = cite_best_overlap(body)
    cited = int(reply.rsplit("[", 1)[1].rstrip("]"))
    assert context.citation(cited) is not None and context.citation(cited).chunk_id == 120  # the SICK chunk


def test_past_the_budget_a_new_document_still_comes_in_clipped_but_a_second_chunk_does_not() -> None:
    results = five_documents()
    # a sixth result: another chunk of the first result's document
    results.append(result(6, "Parental leave can be split into two blocks.\n\n" + FILLER, chunk_id=111))
    assert results[-1].document_id == results[0].document_id
    question = "how many weeks of paid parental leave do I get?"
    context = budgeted(question, results, 60)  # far too small for six sources
    documents = [s.citation.document_id for s in context.sources]
    assert sorted(set(documents)) == sorted({r.document_id for r in results})
    assert 111 not in {s.citation.chunk_id for s in context.sources}
    for source in context.sources[1:]:
        assert all(count_tokens(text) <= MIN_SHARE_TOKENS for text in source.sentences)
