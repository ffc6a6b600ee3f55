"""The hash chain: ``row_hash = sha256(prev_hash + canonical JSON of the hashed fields)``.

The hashed fields are the row's id, seq, creation time (ISO 8601 in UTC, microseconds) and every
content column; the feedback is not hashed (it is filled in later). Canonical JSON sorts keys, has
no spaces and keeps non-ASCII text as UTF-8, so a row read back from PostgreSQL hashes the same as
the values that were inserted (JSONB reorders keys; sorting makes that irrelevant).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

GENESIS_HASH = "0" * 64

HASHED_FIELDS: tuple[str, ...] = (
    "id",
    "seq",
    "created_at",
    "kind",
    "surface",
    "platform_user_id",
    "employee_id",
    "employee_email",
    "channel",
    "thread",
    "question",
    "answer_text",
    "citations",
    "lookups",
    "latency_ms",
)


class HashedRow(Protocol):
    """The columns of an audit row that the chain covers (``hr.audit.models.AuditEntry`` has them)."""

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
    citations: list[dict[str, Any]]
    lookups: list[dict[str, Any]]
    latency_ms: int | None
    prev_hash: str


def iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def hashed_fields(row: HashedRow) -> dict[str, Any]:
    fields = {name: getattr(row, name) for name in HASHED_FIELDS}
    fields["created_at"] = iso_utc(row.created_at)
    return fields


def canonical_json(fields: Mapping[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def compute_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(fields)).encode("utf-8")).hexdigest()


def row_hash(row: HashedRow) -> str:
    """The hash the row should carry, given its stored ``prev_hash``."""
    return compute_hash(row.prev_hash, hashed_fields(row))
