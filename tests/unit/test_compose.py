"""docker-compose.yml cannot run here (no Docker): check its shape instead."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.main import get_command

from bot.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def test_compose_commands_are_real_hrbot_commands() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    cli = get_command(app)
    for name, service in compose["services"].items():
        command = service.get("command")
        if not command:
            continue
        assert command[0] == "hrbot", name
        group = cli
        for word in command[1:]:
            if word.startswith("-"):
                break
            sub = group.commands.get(word) if hasattr(group, "commands") else None  # type: ignore[attr-defined]
            if sub is None:
                break
            group = sub
        assert group is not cli, f"{name}: {command} is not an hrbot command"
    assert compose["services"]["postgres"]["image"].startswith("pgvector/pgvector")


def test_compose_variables_are_documented() -> None:
    import re

    text = (ROOT / "docker-compose.yml").read_text()
    documented = (ROOT / ".env.example").read_text()
    for var in set(re.findall(r"\$\{(\w+)", text)):
        assert var in documented, var
