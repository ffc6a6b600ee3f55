"""Files of a SharePoint document library or a OneDrive, read through Microsoft Graph delta queries.

One *round* follows ``/drives/{id}/root/delta`` (``@odata.nextLink`` pages) until Graph hands out an
``@odata.deltaLink``; the next round starts from that link and sees only what changed since. Delta
answers carry no paths (``parentReference.path`` is left out on purpose: renaming a folder reports
the folder only), so the connector keeps the drive's tree in ``state["items"]`` (id -> name, parent,
cTag) and works every path out itself. ``state`` (JSON) is rewritten only once a round is complete
and its files were read; the sync stores it after a successful run.

Document ids are paths inside the drive relative to ``folder`` ("Benefits/Parental leave.pdf"). A
rename or a move (of the file or of a folder above it) is therefore a delete plus an add: the file is
read again under its new path and the old path drops out of :meth:`GraphDriveConnector.list_ids`.

Files without a converter (spreadsheets, images) are left out everywhere (reading, listing) unless
the setting ``include_unsupported`` is true: then each is reported as a :class:`SkippedDocument`
("unsupported file type") without being downloaded, and listed, like the folder connector does.

Settings: ``tenant_id``, ``client_id``, ``drive_id`` or ``site_id`` (the site's default library),
optional ``folder``, ``graph_url``, ``login_url``, ``include_unsupported``, ``client_secret_env``.
Secret: the app's client secret in ``HRBOT_GRAPH_CLIENT_SECRET`` (or the variable that
``client_secret_env`` names). The app needs the Graph application permission Files.Read.All or
Sites.Read.All.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any

import httpx

from connectors.base import (
    Batch,
    ConnectorAuthError,
    ConnectorConfigError,
    ConnectorError,
    SkippedDocument,
    SourceDocument,
)
from connectors.graph_auth import (
    DEFAULT_LOGIN_URL,
    ClientCredentials,
    GraphNotification,
    TokenError,
    parse_notifications,
    validation_response,
)
from connectors.http import HttpClient
from connectors.registry import require, secret
from retrieval.converters import is_supported

log = logging.getLogger(__name__)

DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
SECRET_VAR = "HRBOT_GRAPH_CLIENT_SECRET"
MAX_DEPTH = 400  # deeper parent chains are treated as broken (a cycle in bad data)
PENDING_TTL = 300.0  # seconds a round read by list_ids may be reused by the next poll/load_all
_HTTP_STATUS = re.compile(r"\bHTTP (\d{3})\b")

Node = dict[str, Any]  # one drive item as kept in state["items"]

__all__ = [
    "GraphDriveConnector",
    "GraphNotification",
    "http_status",
    "parse_notifications",
    "validation_response",
]


def http_status(exc: ConnectorError) -> int | None:
    """The HTTP status behind a connector error (``status`` attribute, else HttpClient's message)."""
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return status
    match = _HTTP_STATUS.search(str(exc))
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class _Round:
    changes: dict[str, dict[str, Any]]  # item id -> the last driveItem Graph sent for it
    delta_link: str
    full: bool  # an enumeration of the whole drive, not changes since a link


class GraphDriveConnector:
    """A drive (document library) read with delta queries; see the module docstring."""

    def __init__(
        self,
        *,
        credentials: ClientCredentials,
        drive_id: str | None = None,
        site_id: str | None = None,
        folder: str = "",
        graph_url: str = DEFAULT_GRAPH_URL,
        state: dict[str, Any] | None = None,
        include_unsupported: bool = False,
        batch_size: int = 16,
    ) -> None:
        if not drive_id and not site_id:
            raise ConnectorConfigError("a sharepoint source needs the setting 'drive_id' or 'site_id'")
        self.credentials = credentials
        self.drive_id = drive_id
        self.site_id = site_id
        self.folder = folder.strip("/")
        self.state: dict[str, Any] = state if state is not None else {}
        self.include_unsupported = include_unsupported
        self.batch_size = batch_size
        self.http = HttpClient(graph_url.rstrip("/"), auth_headers=credentials.headers)
        self._pending: tuple[str | None, float, _Round] | None = None  # (start, read at, round) of list_ids

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], *, env: Mapping[str, str], state: dict[str, Any]
    ) -> GraphDriveConnector:
        if not settings.get("drive_id") and not settings.get("site_id"):
            raise ConnectorConfigError("a sharepoint source needs the setting 'drive_id' or 'site_id'")
        credentials = ClientCredentials(
            tenant_id=str(require(settings, "tenant_id")),
            client_id=str(require(settings, "client_id")),
            client_secret=secret(env, settings, "client_secret", SECRET_VAR),
            login_url=str(settings.get("login_url") or DEFAULT_LOGIN_URL),
        )
        return cls(
            credentials=credentials,
            drive_id=str(settings["drive_id"]) if settings.get("drive_id") else None,
            site_id=str(settings["site_id"]) if settings.get("site_id") else None,
            folder=str(settings.get("folder") or ""),
            graph_url=str(settings.get("graph_url") or DEFAULT_GRAPH_URL),
            state=state,
            include_unsupported=str(settings.get("include_unsupported", "")).lower() in ("1", "true", "yes"),
        )

    @property
    def origin(self) -> str:
        base = f"graph:{self.drive_id}" if self.drive_id else f"graph:site:{self.site_id}"
        return f"{base}:/{self.folder}" if self.folder else base

    def close(self) -> None:
        self.http.close()
        self.credentials.close()

    # --- the capability interfaces ---------------------------------------------------------------

    def load_all(self) -> Iterator[Batch]:
        """Every file: a full delta round, every file downloaded."""
        return self._sync(None)

    def poll(self, since: datetime) -> Iterator[Batch]:
        """Files added or changed (new cTag, or a new path) since the last complete round; ``since``
        is not needed (the delta link is the cursor). Without a link, or when Graph answers 410 Gone
        for it, a full round. Deleted files are not yielded: :meth:`list_ids` leaves them out."""
        return self._sync(self.state.get("delta_link"))

    def list_ids(self) -> set[str]:
        """The paths of every current file: the stored tree plus the changes since the last round
        (a full round without downloads when there is no stored round). Changes no state; the round
        is reused by the next ``poll``/``load_all`` of this instance (within ``PENDING_TTL``), as the
        sync lists before it reads; what changed in between is seen by the poll after."""
        start = self.state.get("delta_link")
        round_ = self._fetch(start)
        self._pending = (start, time.monotonic(), round_)
        items, root = self._apply(round_)
        return set(self._files(items, root).values())

    def subscribe(self, notification_url: str, client_state: str, minutes: int = 4230) -> str:
        """Create a change-notification subscription on the drive's root; returns its id. Graph
        first validates ``notification_url`` (see :func:`validation_response`)."""
        expires = datetime.now(UTC) + timedelta(minutes=minutes)
        body = {
            "changeType": "updated",
            "notificationUrl": notification_url,
            "resource": f"drives/{self._drive()}/root",
            "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "clientState": client_state,
        }
        answer = self._json(self._request("POST", "/subscriptions", json=body), "/subscriptions")
        subscription_id = answer.get("id")
        if not isinstance(subscription_id, str):
            raise ConnectorError("POST /subscriptions: no subscription id in the answer")
        log.info("graph subscription created", extra={"subscription_id": subscription_id, "resource": body["resource"]})
        return subscription_id

    # --- rounds ----------------------------------------------------------------------------------

    def _sync(self, start: str | None) -> Iterator[Batch]:
        """A generator, so that nothing is read before the caller iterates (after ``list_ids``)."""
        pending, self._pending = self._pending, None
        fresh = pending is not None and pending[0] == start and time.monotonic() - pending[1] < PENDING_TTL
        round_ = pending[2] if pending is not None and fresh else self._fetch(start)
        items, root = self._apply(round_)
        todo = sorted(
            ((path, item_id) for item_id, path in self._files(items, root).items() if _stale(items[item_id], path)),
        )
        log.info(
            "graph delta round read",
            extra={"origin": self.origin, "full": round_.full, "changes": len(round_.changes), "to_read": len(todo)},
        )

        def commit() -> None:
            self.state.clear()
            self.state.update({"delta_link": round_.delta_link, "root_id": root, "items": items})

        yield from _commit_after(self._batches(todo, items), commit)

    def _fetch(self, start: str | None) -> _Round:
        """The round from delta link ``start`` (None: the whole drive); a full one on 410 Gone."""
        if start is None:
            return self._read_round(None)
        try:
            return self._read_round(start)
        except ConnectorAuthError:
            raise
        except ConnectorError as exc:
            if http_status(exc) != 410:
                raise
            log.warning("graph delta link expired; reading the whole drive", extra={"origin": self.origin})
            return self._read_round(None)

    def _read_round(self, start: str | None) -> _Round:
        url = start or f"/drives/{self._drive()}/root/delta"
        changes: dict[str, dict[str, Any]] = {}
        while True:
            page = self._json(self._request("GET", url), url)
            for item in page.get("value") or []:
                if isinstance(item, dict) and item.get("id"):
                    changes[str(item["id"])] = item  # the last occurrence wins
            if page.get("@odata.nextLink"):
                url = str(page["@odata.nextLink"])
            elif page.get("@odata.deltaLink"):
                return _Round(changes, str(page["@odata.deltaLink"]), full=start is None)
            else:
                raise ConnectorError(f"GET {url}: a delta page with neither nextLink nor deltaLink")

    def _apply(self, round_: _Round) -> tuple[dict[str, Node], str | None]:
        """The tree after ``round_``: a copy of the stored one (or a new one for a full round)."""
        stored = {} if round_.full else self.state.get("items") or {}
        items: dict[str, Node] = {item_id: dict(node) for item_id, node in stored.items()}
        root: str | None = None if round_.full else self.state.get("root_id")
        for item_id, item in round_.changes.items():
            if "deleted" in item:
                items.pop(item_id, None)
                continue
            if "root" in item:
                root = item_id
            node = _node(item)
            for marker in ("path", "synced"):
                if marker in items.get(item_id, {}):
                    node[marker] = items[item_id][marker]
            items[item_id] = node
        if root is not None:  # drop what hangs under a deleted folder
            cache: dict[str, str | None] = {root: ""}
            items = {i: n for i, n in items.items() if _full_path(items, cache, i) is not None}
        return items, root

    def _files(self, items: dict[str, Node], root: str | None) -> dict[str, str]:
        """item id -> document path, for the files under ``folder`` that are read (or reported)."""
        cache: dict[str, str | None] = {root: ""} if root is not None else {}
        found: dict[str, str] = {}
        for item_id, node in items.items():
            if not node.get("file"):
                continue
            full = _full_path(items, cache, item_id)
            path = None if full is None else self._scoped(full)
            if path and (self.include_unsupported or is_supported(path)):
                found[item_id] = path
        return found

    def _scoped(self, full: str) -> str | None:
        if not self.folder:
            return full
        prefix = f"{self.folder}/"
        return full[len(prefix) :] if full.casefold().startswith(prefix.casefold()) else None

    # --- files -----------------------------------------------------------------------------------

    def _batches(self, todo: list[tuple[str, str]], items: dict[str, Node]) -> Iterator[Batch]:
        batch: Batch = []
        for path, item_id in todo:
            batch.append(self._document(item_id, path, items[item_id]))
            if len(batch) >= self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _document(self, item_id: str, path: str, node: Node) -> SourceDocument | SkippedDocument:
        """Download one file; marks ``node`` as delivered (so the next poll skips it) on success."""
        if not is_supported(path):
            node.update(path=path, synced=node.get("version"))
            return SkippedDocument(path, f"unsupported file type {PurePosixPath(path).suffix or '(none)'}")
        url = f"/drives/{self._drive()}/items/{item_id}/content"
        try:
            data = self._request("GET", url).content
        except ConnectorAuthError:
            raise
        except ConnectorError as exc:
            log.warning("graph download failed", extra={"origin": self.origin, "path": path, "error": str(exc)})
            return SkippedDocument(path, f"download failed: {exc}")
        node.update(path=path, synced=node.get("version"))
        return SourceDocument(
            path=path,
            data=data,
            uri=str(node.get("url") or ""),
            origin=self.origin,
            modified_at=_parse_time(node.get("modified")),
            meta={"graph_item_id": item_id},
            version=node.get("version"),
        )

    # --- HTTP ------------------------------------------------------------------------------------

    def _drive(self) -> str:
        """The drive id; for a site, its default library's (asked once)."""
        if self.drive_id is None:
            url = f"/sites/{self.site_id}/drive"
            drive_id = self._json(self._request("GET", url), url).get("id")
            if not isinstance(drive_id, str) or not drive_id:
                raise ConnectorError(f"GET {url}: no drive id in the answer")
            self.drive_id = drive_id
        return self.drive_id

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """HttpClient's request; on a 401 the token is fetched again and the request sent once more."""
        try:
            return self.http.request(method, url, **kwargs)
        except TokenError:
            raise
        except ConnectorAuthError as exc:
            if http_status(exc) != 401:
                raise
            log.info("graph refused the token; fetching a new one", extra={"url": url})
            self.credentials.invalidate()
            return self.http.request(method, url, **kwargs)

    @staticmethod
    def _json(response: httpx.Response, url: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise ConnectorError(f"{url}: the answer is not JSON") from exc
        if not isinstance(body, dict):
            raise ConnectorError(f"{url}: the answer is not a JSON object")
        return body


def _node(item: Mapping[str, Any]) -> Node:
    node: Node = {"name": str(item.get("name") or ""), "parent": (item.get("parentReference") or {}).get("id")}
    if "file" in item:
        node.update(
            file=True,
            version=item.get("cTag") or item.get("eTag"),
            url=item.get("webUrl"),
            modified=item.get("lastModifiedDateTime"),
        )
    return node


def _full_path(items: Mapping[str, Node], cache: dict[str, str | None], item_id: str) -> str | None:
    """The item's path from the drive root; None when its chain of parents is broken."""
    chain: list[str] = []
    current: str | None = item_id
    while current is not None and current not in cache and current in items and len(chain) <= MAX_DEPTH:
        chain.append(current)
        current = items[current].get("parent")
    path = cache.get(current) if current is not None else None
    for node_id in reversed(chain):
        if path is not None:
            name = items[node_id]["name"]
            path = f"{path}/{name}" if path else name
        cache[node_id] = path
    return cache.get(item_id, path)


def _stale(node: Node, path: str) -> bool:
    """Whether a file must be read: new, its content changed, or its path changed."""
    return node.get("path") != path or node.get("synced") != node.get("version")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _commit_after(batches: Iterator[Batch], commit: Callable[[], None]) -> Iterator[Batch]:
    """Yield ``batches``; call ``commit`` once all were produced, before the last one is handed out."""
    held: Batch | None = None
    for batch in batches:
        if held is not None:
            yield held
        held = batch
    commit()
    if held is not None:
        yield held
