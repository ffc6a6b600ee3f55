"""The small capability interfaces every connector implements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class SourceDocument:
    """One file or page as the source holds it: bytes plus where it lives."""

    path: str  # stable id within the source (a relative path, a page id)
    data: bytes
    uri: str  # a link a person can open
    origin: str  # the folder or system it came from; documents pruned per origin
    modified_at: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SkippedDocument:
    """A source entry that could not be read at all (permissions, I/O)."""

    path: str
    reason: str


Batch = list[SourceDocument | SkippedDocument]


@runtime_checkable
class LoadConnector(Protocol):
    def load_all(self) -> Iterator[Batch]: ...


@runtime_checkable
class PollConnector(Protocol):
    def poll(self, since: datetime) -> Iterator[Batch]: ...


@runtime_checkable
class ListConnector(Protocol):
    def list_ids(self) -> set[str]: ...
