"""`hrbot demo`, `hrbot ask --json` and `hrbot audit verify` through the real CLI."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from bot.cli.main import app


def test_demo_then_ask_then_audit(settings, monkeypatch) -> None:
    monkeypatch.setenv("HRBOT_DATABASE_URL", settings.database_url.get_secret_value())
    runner = CliRunner()
    question = "how much vacation do I have left and can I carry it over?"
    demo = runner.invoke(
        app,
        ["demo", "--as", "alice.nguyen@brightwave.example"],
        input=f"{question}\n/as anna.becker@brightwave.example\n{question}\n/quit\n",
    )
    assert demo.exit_code == 0, demo.output
    assert "You have 15 days of vacation left for 2026" in demo.stdout  # Alice
    assert "You have 18 days of vacation left for 2026" in demo.stdout  # Anna, in Germany
    assert "[1]" in demo.stdout and "Sources:" in demo.stdout

    asked = runner.invoke(app, ["ask", question, "--as", "daniel.brooks@brightwave.example", "--json"])
    assert asked.exit_code == 0, asked.output
    data = json.loads(asked.stdout)
    assert set(data) >= {"answer", "citations", "lookups", "audit_id", "latency_ms"}
    assert data["lookups"] == [
        {
            "query": "leave_balances",
            "subject_employee_id": data["lookups"][0]["subject_employee_id"],
            "subject_email": "daniel.brooks@brightwave.example",
        }
    ]
    assert data["citations"] and all(c["content_hash"] for c in data["citations"])

    listed = runner.invoke(app, ["audit", "export", "--format", "jsonl"])
    rows = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    assert [r["employee_email"] for r in rows] == [
        "alice.nguyen@brightwave.example",
        "anna.becker@brightwave.example",
        "daniel.brooks@brightwave.example",
    ]
    assert all(r["citations"] for r in rows)
    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
