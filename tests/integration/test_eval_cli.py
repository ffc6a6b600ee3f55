"""`hrbot eval` (retrieval and answer figures) and `hrbot ingest` through the real CLI on the sample company."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from bot.cli.main import app


def test_ingest_and_eval_cli(settings, sample_policies, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HRBOT_DATABASE_URL", settings.database_url.get_secret_value())
    runner = CliRunner()
    ingested = runner.invoke(app, ["ingest", str(sample_policies), "--source", "brightwave"])
    assert ingested.exit_code == 0, ingested.output
    assert "11 files seen, 11 new" in ingested.stdout

    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        "\n".join(
            json.dumps(q)
            for q in [
                {
                    "question": "how many vacation days in germany",
                    "relevant_docs": ["de-employee-handbook.pdf"],
                    "answer_must_contain": ["28 working days"],
                },
                {
                    "question": "uk mat leave pay",
                    "relevant_docs": ["uk-leave-policy.md"],
                    "answer_must_contain": ["SMP"],
                },
                {
                    "question": "AU note",
                    "relevant_pages": ["de-employee-handbook.pdf#4"],
                    "relevant_docs": ["de-employee-handbook.pdf"],
                    "country": "DE",
                },
                {"question": "what is the cafeteria menu", "relevant_docs": [], "unanswerable": True},
            ]
        )
    )
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["eval", str(qa), "--json", str(out), "--source", "brightwave"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["scored"] == 3 and report["questions"] == 4
    assert report["recall_at_k"] == 1.0
    assert [q["rank"] for q in report["per_question"]][:3] == [1, 1, 1]
    assert report["latency_p95_ms"] > 0

    # the answers, through Engine.policy: the second table and the "answers" figures
    assert "answer_must_contain" in result.stdout and "abstention recall" in result.stdout
    answers = report["answers"]
    assert (answers["questions"], answers["answerable"], answers["unanswerable"]) == (4, 3, 1)
    assert answers["must_contain_scored"] == 2 and answers["must_contain_share"] == 1.0
    assert answers["abstention_recall"] == 1.0  # the cafeteria menu is in no policy
    assert 0.0 <= answers["wrongly_abstained_share"] <= 1 / 3
    assert answers["answered"] >= 2 and answers["citation_validity"] == 1.0
    assert 0 < answers["latency_p50_ms"] <= answers["latency_p95_ms"]
    germany, _, _, cafeteria = answers["per_question"]
    assert not germany["abstained"] and germany["contains_expected"] and "[1]" in germany["answer"]
    assert cafeteria["abstained"] and cafeteria["confidence"] < germany["confidence"]


def test_eval_rejects_malformed_file(settings, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HRBOT_DATABASE_URL", settings.database_url.get_secret_value())
    qa = tmp_path / "bad.jsonl"
    qa.write_text('{"question": "x", "relevant_docs": ["a.md"]}\nnot json\n{"question": "no docs"}\n')
    result = CliRunner().invoke(app, ["eval", str(qa)])
    assert result.exit_code == 2
    assert "line 2" in result.output and "line 3" in result.output
