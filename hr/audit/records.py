"""Typed values in and out of the audit log (``hr.audit.service`` re-exports them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

AuditKind = Literal["answer", "refusal", "abstain", "lookup", "error"]
Surface = Literal["cli", "slack", "teams", "api"]
FeedbackValue = Literal["up", "down"]
ProblemKind = Literal["edited", "removed", "reordered", "inserted"]

AUDIT_KINDS: frozenset[str] = frozenset(get_args(AuditKind))
SURFACES: frozenset[str] = frozenset(get_args(Surface))
FEEDBACK_VALUES: frozenset[str] = frozenset(get_args(FeedbackValue))


@dataclass(frozen=True)
class AuditCitation:
    """One source an answer cited: the exact document version and chunks, so it can be reread later."""

    n: int
    document_id: int
    version_id: int
    version_no: int
    content_hash: str
    chunk_ids: tuple[int, ...]
    uri: str
    title: str
    page: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["chunk_ids"] = list(self.chunk_ids)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditCitation:
        return cls(
            n=int(data["n"]),
            document_id=int(data["document_id"]),
            version_id=int(data["version_id"]),
            version_no=int(data["version_no"]),
            content_hash=str(data["content_hash"]),
            chunk_ids=tuple(int(c) for c in data.get("chunk_ids", ())),
            uri=str(data.get("uri", "")),
            title=str(data.get("title", "")),
            page=None if data.get("page") is None else int(data["page"]),
        )


@dataclass(frozen=True)
class AuditLookup:
    """A personal lookup: which query ran, for whom. There is deliberately no field for the figures."""

    query: str
    subject_employee_id: int | None = None
    subject_email: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditLookup:
        subject = data.get("subject_employee_id")
        return cls(
            query=str(data["query"]),
            subject_employee_id=None if subject is None else int(subject),
            subject_email=data.get("subject_email"),
        )


@dataclass(frozen=True)
class AuditRecord:
    """What the engine or a surface appends: who asked, where, what, what was answered, from what."""

    kind: AuditKind
    surface: Surface
    question: str
    answer_text: str
    platform_user_id: str | None = None
    employee_id: int | None = None
    employee_email: str | None = None
    channel: str | None = None
    thread: str | None = None
    citations: tuple[AuditCitation, ...] = ()
    lookups: tuple[AuditLookup, ...] = ()
    latency_ms: int | None = None
    # the LLM that wrote the answer: model, prompt/completion tokens, fallback; not hashed
    generation: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.kind not in AUDIT_KINDS:
            raise ValueError(f"unknown audit kind {self.kind!r}; one of {sorted(AUDIT_KINDS)}")
        if self.surface not in SURFACES:
            raise ValueError(f"unknown surface {self.surface!r}; one of {sorted(SURFACES)}")
        if self.latency_ms is not None and self.latency_ms < 0:
            raise ValueError("latency_ms cannot be negative")


@dataclass(frozen=True)
class FeedbackView:
    value: FeedbackValue
    comment: str | None
    at: datetime


@dataclass(frozen=True)
class AuditEntryView:
    """One stored row, with its feedback (which is not part of the chain)."""

    id: int
    seq: int
    created_at: datetime
    kind: str
    surface: str
    platform_user_id: str | None
    employee_id: int | None
    employee_email: str | None
    channel: str | None
    thread: str | None
    question: str
    answer_text: str
    citations: tuple[AuditCitation, ...]
    lookups: tuple[AuditLookup, ...]
    latency_ms: int | None
    prev_hash: str
    row_hash: str
    feedback: FeedbackView | None = None
    generation: dict[str, Any] | None = None  # not hashed: see hr.audit.models


@dataclass(frozen=True)
class AuditProblem:
    """One finding of :func:`hr.audit.service.verify`. ``entry_id`` is None for rows that are gone."""

    seq: int
    entry_id: int | None
    kind: ProblemKind
    detail: str


@dataclass(frozen=True)
class VerifyReport:
    checked: int
    head_seq: int | None
    head_hash: str | None
    problems: tuple[AuditProblem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class CitedChunk:
    """The text an answer cited, read from the version it cited (even if that version is superseded)."""

    n: int
    chunk_id: int
    version_id: int
    content_hash: str
    title: str
    heading_path: str
    page: int | None
    body: str | None
    is_current: bool

    @property
    def found(self) -> bool:
        return self.body is not None
