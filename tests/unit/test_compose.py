"""docker-compose.yml cannot run here (no Docker): check its shape instead.

Commands must be real ``hrbot`` commands with real options, every variable must be documented in
``.env.example`` and be a real setting or connector secret, services must start in a sane order,
and the Dockerfile must copy everything the package is built from.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.main import get_command

from bot.cli.main import app
from hr.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# The app services and what each must run.
EXPECTED_COMMANDS = {
    "migrate": ["hrbot", "db", "upgrade"],
    "bot": ["hrbot", "serve", "slack"],
    "worker": ["hrbot", "worker"],
    "beat": ["hrbot", "beat"],
    "webhooks": ["hrbot", "serve", "webhooks"],
}
AFTER_MIGRATE = ("bot", "worker", "beat", "webhooks")
NEEDS_HEALTHCHECK = ("postgres", "redis", "worker", "webhooks")
HRBOT_VAR = re.compile(r"\bHRBOT_[A-Z0-9_]+\b")
DOCUMENTED_VAR = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


# -- command resolution ---------------------------------------------------------------------------


class NotACommand(AssertionError):
    pass


def resolve(argv: list[str]) -> list[str]:
    """Walk the Typer/click tree like the shell would; return the command path, or raise NotACommand."""
    if not argv or argv[0] != "hrbot":
        raise NotACommand(f"{argv}: not an hrbot command")
    command: Any = get_command(app)
    path = ["hrbot"]
    words = list(argv[1:])
    positional: list[str] = []
    while words:
        word = words.pop(0)
        if word.startswith("-"):
            name, has_value, _ = word.partition("=")
            options = [p for p in command.params if p.param_type_name == "option"]
            option = next((p for p in options if name in (*p.opts, *p.secondary_opts)), None)
            if option is None:
                raise NotACommand(f"`{' '.join(path)}` has no option {name}")
            if not option.is_flag and not option.count and not has_value:
                if not words:
                    raise NotACommand(f"`{' '.join(path)} {name}` needs a value")
                words.pop(0)
        elif hasattr(command, "commands") and not positional:
            sub = command.commands.get(word)
            if sub is None:
                raise NotACommand(f"`{' '.join(path)}` has no command {word!r}")
            command = sub
            path.append(word)
        else:
            positional.append(word)
    if hasattr(command, "commands"):
        raise NotACommand(f"`{' '.join(path)}` is a group, not a command")
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    if any(p.nargs < 0 for p in arguments):
        return path
    if len(positional) > sum(p.nargs for p in arguments):
        raise NotACommand(f"`{' '.join(path)}` takes no argument(s) {positional}")
    return path


def test_resolve_rejects_typos() -> None:
    assert resolve(["hrbot", "serve", "slack", "--socket"]) == ["hrbot", "serve", "slack"]
    assert resolve(["hrbot", "-v", "sources", "add", "x", "--kind", "folder", "--no-check"])[-1] == "add"
    for bad in (
        ["hrbot", "serve", "slak"],
        ["hrbot", "serve"],
        ["hrbot", "worker", "--queue", "hrbot.sync"],
        ["hrbot", "worker", "--hostname"],
        ["hrbot", "beat", "extra"],
        ["python", "-m", "hrbot"],
    ):
        with pytest.raises(NotACommand):
            resolve(bad)


@pytest.mark.parametrize("name", sorted(EXPECTED_COMMANDS))
def test_service_runs_a_real_hrbot_command(name: str) -> None:
    command = SERVICES[name]["command"]
    assert isinstance(command, list), f"{name}: write the command as a list"
    assert resolve(command) == EXPECTED_COMMANDS[name], f"{name}: {command}"


def test_every_command_in_compose_is_real() -> None:
    for name, service in SERVICES.items():
        command = service.get("command")
        if command and command[0] == "hrbot":
            resolve(command)
        assert "build" in service or "image" in service, name


# -- variables ------------------------------------------------------------------------------------


def documented_variables() -> set[str]:
    return set(DOCUMENTED_VAR.findall(ENV_EXAMPLE))


def setting_variables() -> set[str]:
    return {f"HRBOT_{name.upper()}" for name in Settings.model_fields}


def connector_secret_variables() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "connectors").glob("*.py"):
        found |= set(HRBOT_VAR.findall(path.read_text()))
    return found - setting_variables()


def compose_variables() -> set[str]:
    """``${VAR}`` / ``$VAR`` that compose interpolates (``$$`` is a literal dollar for the container)."""
    text = COMPOSE_TEXT.replace("$$", "")
    return {m.group(1) or m.group(2) for m in re.finditer(r"\$(?:\{(\w+)|([A-Za-z_]\w*))", text)}


def test_connector_secrets_are_found() -> None:
    assert {"HRBOT_CONFLUENCE_TOKEN", "HRBOT_GRAPH_CLIENT_SECRET", "HRBOT_BAMBOOHR_API_KEY"} <= (
        connector_secret_variables()
    )


def test_compose_variables_are_documented() -> None:
    used = compose_variables() | set(HRBOT_VAR.findall(COMPOSE_TEXT))
    assert "POSTGRES_PASSWORD" in used
    missing = sorted(used - documented_variables())
    assert not missing, f"document these in .env.example: {missing}"


def test_env_example_names_only_real_variables() -> None:
    real = setting_variables() | connector_secret_variables()
    unknown = sorted(v for v in documented_variables() if v.startswith("HRBOT_") and v not in real)
    assert not unknown, f".env.example names variables hrbot never reads: {unknown}"


def test_env_example_documents_every_setting_and_secret() -> None:
    missing = sorted((setting_variables() | connector_secret_variables()) - documented_variables())
    assert not missing, f"document these in .env.example (one line each, with a comment): {missing}"


def test_env_example_lines_have_comments() -> None:
    lines = ENV_EXAMPLE.splitlines()
    for i, line in enumerate(lines):
        if DOCUMENTED_VAR.match(line):
            inline = " #" in line.lstrip("#").strip()
            above = i > 0 and lines[i - 1].startswith("#") and not DOCUMENTED_VAR.match(lines[i - 1])
            assert inline or above, f".env.example line {i + 1} needs a comment: {line}"


def test_app_services_share_env_file_and_point_at_the_stack() -> None:
    for name in EXPECTED_COMMANDS:
        service = SERVICES[name]
        assert service.get("env_file") in (".env", [".env"]), name
        env = service["environment"]
        assert "@postgres:5432/" in env["HRBOT_DATABASE_URL"], name
        assert env["HRBOT_REDIS_URL"].startswith("redis://redis:6379"), name


# -- health and start order -----------------------------------------------------------------------


def depends(name: str) -> dict[str, str]:
    raw = SERVICES[name].get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {dep: (spec or {}).get("condition", "service_started") for dep, spec in raw.items()}


def test_images_and_health_checks() -> None:
    assert SERVICES["postgres"]["image"].startswith("pgvector/pgvector:")
    assert SERVICES["redis"]["image"].startswith("redis:7")
    for name in NEEDS_HEALTHCHECK:
        assert SERVICES[name].get("healthcheck", {}).get("test"), f"{name} needs a health check"
    assert "pg_isready" in str(SERVICES["postgres"]["healthcheck"]["test"])
    assert "redis-cli" in str(SERVICES["redis"]["healthcheck"]["test"])


def test_health_checks_run_real_commands() -> None:
    dependencies = " ".join(PYPROJECT["project"]["dependencies"])
    worker = SERVICES["worker"]
    check = " ".join(worker["healthcheck"]["test"])
    assert "celery" in dependencies and "inspect ping" in check
    # the check pings the worker's own node name, and reaches the broker the worker uses
    assert "celery@$$HOSTNAME" in check and "$$HRBOT_REDIS_URL" in check
    assert worker["command"][worker["command"].index("--hostname") + 1] == "celery@%h"

    webhooks = SERVICES["webhooks"]
    port = webhooks["command"][webhooks["command"].index("--port") + 1]
    check = " ".join(webhooks["healthcheck"]["test"])
    assert webhooks["healthcheck"]["test"][:2] == ["CMD", "python"] and "urllib.request" in check
    assert f"http://127.0.0.1:{port}/healthz" in check
    assert any(str(p).endswith(f":{port}") for p in webhooks["ports"])


def test_start_order() -> None:
    assert depends("migrate") == {"postgres": "service_healthy"}
    assert SERVICES["migrate"]["restart"] == "no"
    for name in AFTER_MIGRATE:
        deps = depends(name)
        assert deps.get("migrate") == "service_completed_successfully", name
        assert deps.get("redis") == "service_healthy", name
    for name in SERVICES:
        for dep, condition in depends(name).items():
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
            if condition == "service_healthy":
                assert SERVICES[dep].get("healthcheck"), f"{name} waits for {dep} to be healthy: it has no check"


def test_named_volumes_are_declared() -> None:
    declared = set(COMPOSE.get("volumes") or {})
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name}: volume {source} is not declared"
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in SERVICES["postgres"]["volumes"])


# -- Dockerfile and package data ------------------------------------------------------------------


def top_level_packages() -> list[str]:
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({pattern.rstrip("*").split(".")[0] for pattern in include})


def test_dockerfile_copies_what_the_package_is_built_from() -> None:
    copied: set[str] = set()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words and words[0] == "COPY" and not any(w.startswith("--from") for w in words):
            copied |= {w.rstrip("/") for w in words[1:-1]}
    needed = {"pyproject.toml", PYPROJECT["project"]["readme"], *top_level_packages()}
    missing = sorted(needed - copied)
    assert not missing, f"the Dockerfile must COPY {missing}"
    assert "torch==2.13.0" in (ROOT / "Dockerfile").read_text()


def test_package_data_ships_every_data_file() -> None:
    """A file inside a package that is not Python must be in package-data, or `pip install .` drops it."""
    package_data: dict[str, list[str]] = PYPROJECT["tool"]["setuptools"].get("package-data", {})
    for package, patterns in package_data.items():
        folder = ROOT / package.replace(".", "/")
        for pattern in patterns:
            assert any(folder.glob(pattern)), f"package-data {package}: {pattern} matches nothing"
    missing = []
    for top in top_level_packages():
        for path in (ROOT / top).rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc", ".pyi") or "__pycache__" in path.parts:
                continue
            rel = path.relative_to(ROOT)
            if not _covered(rel, package_data):
                missing.append(str(rel))
    assert not missing, f"add to [tool.setuptools.package-data] in pyproject.toml: {sorted(missing)}"


def _covered(rel: Path, package_data: dict[str, list[str]]) -> bool:
    for package, patterns in package_data.items():
        prefix = Path(package.replace(".", "/"))
        if prefix not in rel.parents:
            continue
        inner = rel.relative_to(prefix).as_posix()
        for pattern in patterns:
            if fnmatch.fnmatch(inner, pattern) or fnmatch.fnmatch(inner, pattern.replace("**/", "")):
                return True
    return False
