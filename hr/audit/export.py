"""Writing audit entries as JSON Lines or CSV (one row per entry; nested lists as JSON in CSV)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import Any, Literal, TextIO

from hr.audit.chain import HASHED_FIELDS
from hr.audit.records import AuditEntryView

ExportFormat = Literal["jsonl", "csv"]

# every hashed column, then the feedback (outside the chain) and the chain's own hashes
CSV_COLUMNS: tuple[str, ...] = (*HASHED_FIELDS, "feedback", "feedback_comment", "feedback_at", "prev_hash", "row_hash")


def entry_to_json(entry: AuditEntryView) -> dict[str, Any]:
    """A JSON-ready dict of every field; the feedback flattened into three keys."""
    feedback = entry.feedback
    return {
        "id": entry.id,
        "seq": entry.seq,
        "created_at": entry.created_at.isoformat(),
        "kind": entry.kind,
        "surface": entry.surface,
        "platform_user_id": entry.platform_user_id,
        "employee_id": entry.employee_id,
        "employee_email": entry.employee_email,
        "channel": entry.channel,
        "thread": entry.thread,
        "question": entry.question,
        "answer_text": entry.answer_text,
        "citations": [c.to_json() for c in entry.citations],
        "lookups": [lookup.to_json() for lookup in entry.lookups],
        "latency_ms": entry.latency_ms,
        "feedback": None if feedback is None else feedback.value,
        "feedback_comment": None if feedback is None else feedback.comment,
        "feedback_at": None if feedback is None else feedback.at.isoformat(),
        "prev_hash": entry.prev_hash,
        "row_hash": entry.row_hash,
    }


def write_jsonl(entries: Iterable[AuditEntryView], stream: TextIO) -> int:
    count = 0
    for entry in entries:
        stream.write(json.dumps(entry_to_json(entry), ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(entries: Iterable[AuditEntryView], stream: TextIO) -> int:
    writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    count = 0
    for entry in entries:
        row = entry_to_json(entry)
        row["citations"] = json.dumps(row["citations"], ensure_ascii=False)
        row["lookups"] = json.dumps(row["lookups"], ensure_ascii=False)
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
        count += 1
    return count


def write_export(entries: Iterable[AuditEntryView], fmt: ExportFormat, stream: TextIO) -> int:
    """Write ``entries`` to ``stream``; return how many were written."""
    if fmt == "jsonl":
        return write_jsonl(entries, stream)
    if fmt == "csv":
        return write_csv(entries, stream)
    raise ValueError(f"unknown export format {fmt!r}")
