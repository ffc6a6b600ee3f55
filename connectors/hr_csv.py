"""HR CSV exports dropped in a folder, in the formats of ``hrbot people import``.

Each run yields the ``*.csv`` files of the folder (not its subfolders) that are new or changed since
the last successful import, employees first (their balances and requests name them). A file's
SHA-256 goes into ``state["files"]`` as it is yielded: the sync saves that state only when the import
succeeded, so a rejected file is offered again next time (and, once fixed, imported).

With ``archive=true`` the sync calls :meth:`CsvDropConnector.mark_done` after a successful import and
the file moves to ``processed/`` (a name already there gets a time stamp). ``load_hr`` never moves
anything: a file must stay where it is until its import has been committed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from connectors.base import ConnectorConfigError
from connectors.registry import require
from hr.hrdata.importer import IMPORT_ORDER
from hr.hrdata.parsing import ParsedFile, RowError, parse_csv

log = logging.getLogger(__name__)

PROCESSED = "processed"
TRUE, FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off", ""}


def _flag(raw: Any, name: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw if raw is not None else "").strip().lower()
    if text in TRUE | FALSE:
        return text in TRUE
    raise ConnectorConfigError(f"{name} must be true or false, not {raw!r}")


def _order(parsed: ParsedFile) -> tuple[int, str]:
    """Unreadable files first (they are reported, not imported), then employees, holidays, balances, requests."""
    return (IMPORT_ORDER.index(parsed.kind) if parsed.kind else -1, parsed.name)


class CsvDropConnector:
    """Reads ``root/*.csv``; ``state["files"]`` maps a file name to the SHA-256 last imported."""

    def __init__(
        self,
        root: Path,
        *,
        archive: bool = False,
        state: dict[str, Any] | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.root = root
        self.archive = archive
        self.state: dict[str, Any] = state if state is not None else {}
        self.state.setdefault("files", {})
        self.today = today

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], *, env: Mapping[str, str], state: dict[str, Any]
    ) -> CsvDropConnector:
        """Settings: ``path`` (the drop folder), ``archive`` (optional, true: move imported files to
        ``processed/``)."""
        root = Path(str(require(settings, "path"))).expanduser()
        if not root.is_dir():
            raise ConnectorConfigError(f"{root} is not a folder")
        return cls(root.resolve(), archive=_flag(settings.get("archive"), "archive"), state=state)

    @property
    def origin(self) -> str:
        return f"hr-csv:{self.root}"

    def _files(self) -> list[Path]:
        return sorted(
            path
            for path in self.root.iterdir()
            if path.suffix.lower() == ".csv" and path.is_file() and not path.name.startswith((".", "~$"))
        )

    def load_hr(self) -> Iterator[ParsedFile]:
        """One :class:`ParsedFile` per new or changed CSV file, employees first."""
        known: dict[str, str] = self.state["files"]
        present: dict[str, tuple[Path, bytes]] = {}
        for path in self._files():
            try:
                present[path.name] = (path, path.read_bytes())
            except OSError as exc:
                log.warning("cannot read a dropped file", extra={"file": str(path), "error": str(exc)})
        for name in set(known) - set(present):
            del known[name]  # gone (or archived): if it comes back it is imported again
        pending: list[tuple[ParsedFile, str]] = []
        for name, (path, data) in present.items():
            digest = hashlib.sha256(data).hexdigest()
            if known.get(name) == digest:
                continue
            pending.append((self._parse(path, data), digest))
        pending.sort(key=lambda item: _order(item[0]))
        for parsed, digest in pending:
            log.info(
                "dropped file to import",
                extra={"file": parsed.name, "kind": str(parsed.kind), "rows": len(parsed.rows)},
            )
            known[Path(parsed.name).name] = digest
            yield parsed

    def _parse(self, path: Path, data: bytes) -> ParsedFile:
        try:
            content = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            error = RowError(str(path), 0, f"cannot read the file: {exc}")
            return ParsedFile(str(path), f"csv:{path.name}", None, (), (error,))
        return parse_csv(content, name=str(path), today=self.today())

    def mark_done(self, name: str) -> Path | None:
        """After a successful import of ``name`` (a file name or the ``ParsedFile.name``): move it to
        ``processed/`` when ``archive`` is on. Returns where it went, or None."""
        if not self.archive:
            return None
        source = self.root / Path(name).name
        if not source.is_file():
            return None
        folder = self.root / PROCESSED
        folder.mkdir(exist_ok=True)
        target = folder / source.name
        if target.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            target = folder / f"{source.stem}-{stamp}{source.suffix}"
        source.replace(target)
        log.info("dropped file archived", extra={"file": source.name, "to": str(target)})
        return target
