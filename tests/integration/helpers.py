from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from connectors.filesystem import FilesystemConnector
from hr.settings import Settings
from retrieval.ingest import Ingestor, IngestSummary


def ingest_folder(
    settings: Settings,
    sessions: sessionmaker[Session],
    embed: Callable[[list[str]], list[list[float]]],
    folder: Path,
    source: str = "policies",
    **kwargs: object,
) -> IngestSummary:
    connector = FilesystemConnector(folder)
    return Ingestor(settings, sessions, embed).ingest(
        connector.load_all(), source_name=source, origin=connector.origin, listed_ids=connector.list_ids(), **kwargs
    )
