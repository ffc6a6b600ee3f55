"""The small capability interfaces every connector implements.

A policy store yields batches of :class:`SourceDocument` (``load_all``, ``poll(since)``) and can list
the ids it holds (``list_ids``), so that what was deleted at the source is pruned here. An HR system
yields :class:`~hr.hrdata.parsing.ParsedFile` records for the HR tables (``load_hr``). Connectors
that keep a cursor between runs (a Graph delta link, file hashes) read and update ``state``, a
JSON-able dict the sync stores with the source after a successful run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from hr.hrdata.parsing import ParsedFile


@dataclass(frozen=True)
class SourceDocument:
    """One file or page as the source holds it: bytes plus where it lives."""

    path: str  # stable id within the source (a relative path, a page id)
    data: bytes
    uri: str  # a link a person can open
    origin: str  # the folder or system it came from; documents pruned per origin
    modified_at: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    format: str | None = None  # converter to use (".html", ".pdf", ...); None: the path's extension
    version: str | None = None  # the source's own version label (Confluence page version, eTag)


@dataclass(frozen=True)
class SkippedDocument:
    """A source entry that could not be read at all (permissions, I/O, a 404 while fetching)."""

    path: str
    reason: str


Batch = list[SourceDocument | SkippedDocument]


class ConnectorError(Exception):
    """The source could not be read this time (network, 5xx, 429 after retries); the sync retries later.
    ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ConnectorAuthError(ConnectorError):
    """The source refused the credentials (401/403, expired token). Retrying will not help; an admin must."""


class ConnectorConfigError(ValueError):
    """A source's settings are incomplete or wrong (missing URL, unknown option, unset secret variable)."""


@runtime_checkable
class LoadConnector(Protocol):
    def load_all(self) -> Iterator[Batch]: ...


@runtime_checkable
class PollConnector(Protocol):
    def poll(self, since: datetime) -> Iterator[Batch]: ...


@runtime_checkable
class ListConnector(Protocol):
    def list_ids(self) -> set[str]: ...


@runtime_checkable
class HRConnector(Protocol):
    def load_hr(self) -> Iterator[ParsedFile]: ...
