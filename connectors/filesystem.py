"""A folder (or single files) on disk."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.base import Batch, ConnectorConfigError, SkippedDocument, SourceDocument
from retrieval.converters import is_supported

IGNORED_NAMES = {"LICENSE", "LICENSE.md", "LICENSE.txt", "SOURCE.md", ".DS_Store"}


class FilesystemConnector:
    """Reads every file under ``root`` (hidden files and folders skipped); ids are POSIX paths
    relative to the root. A single file is its own root's only entry."""

    def __init__(self, root: Path, *, batch_size: int = 64, include_unsupported: bool = True) -> None:
        self.root = root.resolve()
        self.batch_size = batch_size
        self.include_unsupported = include_unsupported
        self.state: dict[str, Any] = {}  # nothing to remember: modification times and hashes decide

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], *, env: Mapping[str, str], state: dict[str, Any]
    ) -> FilesystemConnector:
        """Settings: ``path`` (a folder or one file)."""
        raw = settings.get("path")
        if not raw:
            raise ConnectorConfigError("a folder source needs the setting 'path'")
        root = Path(str(raw)).expanduser()
        if not root.exists():
            raise ConnectorConfigError(f"{root} does not exist")
        connector = cls(root)
        connector.state = state
        return connector

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
        return self._load(changed_only=False)

    def poll(self, since: datetime) -> Iterator[Batch]:
        """Files that are new or whose size or modification time differ from the last run's
        (``state["files"]``). Not a plain ``mtime >= since`` test: a file unpacked or copied with
        its old modification time, or moved in, would never be read. The sync's content hash still
        decides what is converted and embedded."""
        return self._load(changed_only="files" in self.state)

    def _load(self, *, changed_only: bool) -> Iterator[Batch]:
        seen: dict[str, list[int]] = {}
        known: dict[str, list[int]] = self.state.get("files", {})
        batch: Batch = []
        for path in self._files():
            rel = self._rel(path)
            try:
                stat = path.stat()
                stamp = [stat.st_mtime_ns, stat.st_size]
                if changed_only and known.get(rel) == stamp:
                    seen[rel] = stamp
                    continue
                data = path.read_bytes()
            except OSError as exc:
                batch.append(SkippedDocument(rel, f"cannot read: {exc.strerror or exc}"))
            else:
                seen[rel] = stamp
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
        self.state["files"] = seen
