"""The typed question every chat surface hands to the engine, and the typed answer it gets back.

Slack, Teams and the CLI each turn their payload into one :class:`Question`: who asks (as the chat
platform verified them), where, the text and the thread. The engine never reads an identity out of
the text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

Surface = Literal["cli", "slack", "teams", "api"]
AnswerKind = Literal["policy", "personal", "both", "greeting", "help", "abstain", "refusal", "unknown_user"]


@dataclass(frozen=True)
class Asker:
    """Who asks, as the platform says: a Slack user id, a Teams AAD object id, or (CLI) an email."""

    surface: Surface
    user_id: str


@dataclass(frozen=True)
class Question:
    text: str
    asker: Asker
    channel: str | None = None
    thread: str | None = None
    private: bool = True  # a DM (or the CLI): personal figures may be shown in the reply itself


@dataclass(frozen=True)
class Figure:
    """One personal figure and where it came from."""

    label: str
    value: str
    source: str
    as_of: date | None
    subject_email: str


@dataclass(frozen=True)
class Lookup:
    """A personal lookup that was made: which fixed query, for whom. Never the figures."""

    query: str
    subject_employee_id: int
    subject_email: str


@dataclass(frozen=True)
class CitedSource:
    n: int
    title: str
    section: str
    page: int | None
    uri: str
    chunk_id: int
    document_id: int
    version_id: int
    version_no: int
    content_hash: str


@dataclass(frozen=True)
class Answer:
    kind: AnswerKind
    text: str
    citations: list[CitedSource] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    lookups: list[Lookup] = field(default_factory=list)
    confidence: float | None = None
    audit_id: int | None = None
    latency_ms: float = 0.0
    retrieved_chunk_ids: list[int] = field(default_factory=list)
    # what the LLM generator did (model, tokens, fallback; HRBOT_GENERATOR=openai): for the audit row
    generation: dict[str, Any] | None = None

    @property
    def personal(self) -> bool:
        """Holds somebody's HR figures: show it only in a DM or an ephemeral reply."""
        return bool(self.figures)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["personal"] = self.personal
        return data
