"""A folder (or single files) on disk."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from connectors.base import Batch, SkippedDocument, SourceDocument
from retrieval.converters import is_supported

IGNORED_NAMES = {"LICENSE", "LICENSE.md", "LICENSE.txt", "SOURCE.md", ".DS_Store"}


class FilesystemConnector:
    """Reads every file under ``root`` (hidden files and folders skipped); ids are POSIX paths
    relative to the root. A single file is its own root's only entry."""

    def __init__(self, root: Path, *, batch_size: int = 64, include_unsupported: bool = True) -> None:
        self.root = root.resolve()
        self.batch_size = batch_size
        self.include_unsupported = include_unsupported

    @property
    def origin(self) -> str:
        return str(self.root if self.root.is_dir() else self.root.parent)

    def _files(self) -> Iterator[Path]:
        if self.root.is_file():
            yield self.root
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or name in IGNORED_NAMES:
                    continue
                if self.include_unsupported or is_supported(name):
                    yield Path(dirpath) / name

    def _rel(self, path: Path) -> str:
        base = self.root if self.root.is_dir() else self.root.parent
        return path.relative_to(base).as_posix()

    def list_ids(self) -> set[str]:
        return {self._rel(p) for p in self._files()}

    def load_all(self) -> Iterator[Batch]:
        batch: Batch = []
        for path in self._files():
            rel = self._rel(path)
            try:
                stat = path.stat()
                data = path.read_bytes()
            except OSError as exc:
                batch.append(SkippedDocument(rel, f"cannot read: {exc.strerror or exc}"))
            else:
                batch.append(
                    SourceDocument(
                        path=rel,
                        data=data,
                        uri=path.as_uri(),
                        origin=self.origin,
                        modified_at=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
                    )
                )
            if len(batch) >= self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch
