"""Confluence Cloud and Data Center pages, through the v1 REST content API both serve.

Cloud: ``url=https://acme.atlassian.net/wiki``, HTTP basic ``email:api_token``. Data Center:
``url=https://confluence.acme.com`` (with its context path, if any), ``Authorization: Bearer`` and
a personal access token. The token comes from ``HRBOT_CONFLUENCE_TOKEN`` (or the variable named by
the setting ``token_env``).

Each page becomes one HTML document (``{space}/{page_id}``) with its title as ``<h1>``; labels
declare its audience (see :mod:`connectors.confluence_storage`). ``state`` keeps
``{"versions": {page_id: version number}, "retry": [document paths]}``: ``poll`` lists changed pages with
their version only and fetches the bodies of those whose version moved, plus the ones that could
not be read last time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from connectors.base import (
    Batch,
    ConnectorAuthError,
    ConnectorConfigError,
    ConnectorError,
    SkippedDocument,
    SourceDocument,
)
from connectors.confluence_storage import labels_to_meta, storage_to_html
from connectors.http import HttpClient
from connectors.registry import require, secret

log = logging.getLogger(__name__)

TOKEN_VAR = "HRBOT_CONFLUENCE_TOKEN"
PAGE_EXPAND = "body.storage,version,metadata.labels,ancestors"
FETCH_EXPAND = f"{PAGE_EXPAND},space"
# CQL reads dates in the searching user's time zone: ask a day earlier, then filter on version.when.
CQL_MARGIN = timedelta(days=1)
_DEPLOYMENTS = {"cloud": "cloud", "datacenter": "datacenter", "data-center": "datacenter", "dc": "datacenter"}
_DEPLOYMENTS |= {"server": "datacenter"}

Item = SourceDocument | SkippedDocument


class ConfluenceConnector:
    """Pages of the given spaces. ``client`` is an :class:`HttpClient` on the site's base URL with
    the credentials set (see :meth:`from_settings`)."""

    def __init__(
        self,
        url: str,
        spaces: Sequence[str],
        *,
        client: HttpClient,
        deployment: str = "cloud",
        state: dict[str, Any] | None = None,
        page_size: int = 25,
        batch_size: int = 16,
        entity_names: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.spaces = tuple(spaces)
        self.client = client
        self.deployment = deployment
        self.state: dict[str, Any] = state if state is not None else {}
        self.state.setdefault("versions", {})
        self.state.setdefault("retry", [])
        self.page_size = page_size
        self.batch_size = batch_size
        self.entity_names = dict(entity_names or {})
        self._space_of: dict[str, str] = {}

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], *, env: Mapping[str, str], state: dict[str, Any]
    ) -> ConfluenceConnector:
        """Settings: ``url``, ``spaces`` (a list or ``"HR,PEOPLE"``), ``deployment`` (``cloud``,
        the default, or ``datacenter``), ``email`` (Cloud), optional ``token_env``, ``page_size``
        and ``entity_names`` (label slug -> legal entity name)."""
        deployment = _deployment(settings.get("deployment"))
        url = _base_url(str(require(settings, "url")), deployment)
        spaces = _space_keys(require(settings, "spaces"))
        token = secret(env, settings, "token", TOKEN_VAR)
        headers = {"Accept": "application/json"}
        if deployment == "cloud":
            email = str(require(settings, "email"))
            client = HttpClient(url, auth=(email, token), headers=headers)
        else:
            client = HttpClient(url, headers={**headers, "Authorization": f"Bearer {token}"})
        entity_names = settings.get("entity_names") or {}
        if not isinstance(entity_names, Mapping):
            raise ConnectorConfigError("the setting 'entity_names' must map label slugs to entity names")
        return cls(
            url,
            spaces,
            client=client,
            deployment=deployment,
            state=state,
            page_size=int(settings.get("page_size") or 25),
            entity_names={str(k): str(v) for k, v in entity_names.items()},
        )

    @property
    def origin(self) -> str:
        return f"confluence:{self.url}"

    def close(self) -> None:
        self.client.close()

    # --- the capability interfaces --------------------------------------------------------------

    def load_all(self) -> Iterator[Batch]:
        """Every current page of every space, bodies included in the listing."""
        return self._batches(self._load_all())

    def poll(self, since: datetime) -> Iterator[Batch]:
        """Pages modified at or after ``since`` whose version differs from the one last seen, plus
        the pages that could not be read on the last run."""
        return self._batches(self._poll(_aware(since)))

    def list_ids(self) -> set[str]:
        """The document paths (``{space}/{page_id}``) of every current page, for pruning."""
        ids: set[str] = set()
        for space in self.spaces:
            for page in self._paginate("rest/api/content", self._listing(space, expand=None)):
                ids.add(f"{space}/{page['id']}")
        return ids

    def fetch(self, page_ids: Iterable[str]) -> Iterator[Batch]:
        """Specific pages (page ids, or ``{space}/{page_id}`` paths), as a webhook names them. A
        page that is gone (404) or outside the configured spaces is not yielded."""
        return self._batches(self._fetch(page_ids))

    # --- listing --------------------------------------------------------------------------------

    def _load_all(self) -> Iterator[Item]:
        seen: dict[str, int] = {}
        for space in self.spaces:
            for page in self._paginate("rest/api/content", self._listing(space, expand=PAGE_EXPAND)):
                item = self._item(space, page) if _storage(page) is not None else self._refetch(space, page)
                if item is not None:
                    if isinstance(item, SourceDocument) and item.version is not None:
                        seen[str(page["id"])] = int(item.version)
                    yield item
        self.state["versions"] = seen

    def _poll(self, since: datetime) -> Iterator[Item]:
        refs = self._changed_since(since) + list(self.state["retry"])
        yield from self._fetch(refs)

    def _changed_since(self, since: datetime) -> list[str]:
        bound = (since - CQL_MARGIN).astimezone(UTC).strftime("%Y/%m/%d %H:%M")
        versions: dict[str, int] = self.state["versions"]
        changed: list[str] = []
        for space in self.spaces:
            cql = f'type = page AND space = "{space}" AND lastmodified >= "{bound}"'
            params = {"cql": cql, "expand": "version", "limit": self.page_size}
            for page in self._paginate("rest/api/content/search", params):
                page_id, version = str(page["id"]), page.get("version") or {}
                when = _parse_when(version.get("when"))
                number = version.get("number")
                if (when is not None and when < since) or (number is not None and versions.get(page_id) == number):
                    continue
                self._space_of[page_id] = space
                changed.append(f"{space}/{page_id}")
        return changed

    def _listing(self, space: str, *, expand: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"spaceKey": space, "type": "page", "status": "current", "limit": self.page_size}
        if expand:
            params["expand"] = expand
        return params

    def _paginate(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every result of a listing, following ``_links.next`` (relative to the site's base)."""
        url: str | None = path
        query: Mapping[str, Any] | None = params
        while url:
            body = self.client.get_json(url, params=query)
            results = body.get("results") if isinstance(body, dict) else None
            if not isinstance(results, list):
                raise ConnectorError(f"GET {url}: the answer has no results list")
            yield from (r for r in results if isinstance(r, dict) and r.get("id"))
            following = (body.get("_links") or {}).get("next")
            url = self._relative(following) if following and results and following != url else None
            query = None

    def _relative(self, link: str) -> str:
        """``_links.next`` is relative to the base (which holds any context path, e.g. ``/wiki``)."""
        context = urlsplit(self.url).path.rstrip("/")
        if context and link.startswith(f"{context}/rest/"):
            link = link.removeprefix(context)
        return link

    # --- single pages ---------------------------------------------------------------------------

    def _fetch(self, refs: Iterable[str]) -> Iterator[Item]:
        for ref in dict.fromkeys(refs):
            space, _, page_id = ref.rpartition("/")
            space = space or self._space_of.get(page_id, "")
            try:
                page = self._get_page(page_id)
            except ConnectorAuthError:
                raise
            except ConnectorError as exc:
                yield self._skip(f"{space}/{page_id}" if space else page_id, page_id, str(exc))
                continue
            self._drop_retry(page_id)
            if page is None:
                self.state["versions"].pop(page_id, None)
                continue
            page_space = str((page.get("space") or {}).get("key") or space)
            if page_space not in self.spaces or page.get("status", "current") != "current":
                log.info("confluence page not in the configured spaces", extra={"page_id": page_id})
                continue
            yield self._item(page_space, page)

    def _get_page(self, page_id: str) -> dict[str, Any] | None:
        """One page with its body; None when it does not exist (any more)."""
        try:
            page = self.client.get_json(f"rest/api/content/{page_id}", params={"expand": FETCH_EXPAND})
        except ConnectorAuthError:
            raise
        except ConnectorError as exc:
            if _is_not_found(exc):
                return None
            raise
        return page if isinstance(page, dict) else None

    def _refetch(self, space: str, page: Mapping[str, Any]) -> Item | None:
        """A listed page whose body the listing did not carry: ask for it on its own."""
        page_id = str(page["id"])
        self._space_of[page_id] = space
        return next(iter(self._fetch([f"{space}/{page_id}"])), None)

    def _skip(self, path: str, page_id: str, reason: str) -> SkippedDocument:
        """A page that could not be read; the next ``poll`` tries it again."""
        log.warning("confluence page skipped", extra={"page_id": page_id, "reason": reason})
        if path not in self.state["retry"]:
            self.state["retry"].append(path)
        return SkippedDocument(path, reason)

    def _drop_retry(self, page_id: str) -> None:
        self.state["retry"] = [ref for ref in self.state["retry"] if ref.rpartition("/")[2] != page_id]

    # --- documents ------------------------------------------------------------------------------

    def _item(self, space: str, page: Mapping[str, Any]) -> Item:
        page_id = str(page["id"])
        path = f"{space}/{page_id}"
        storage = _storage(page)
        if storage is None:
            return self._skip(path, page_id, "the page has no storage-format body")
        self._drop_retry(page_id)
        title = str(page.get("title") or page_id)
        version = page.get("version") or {}
        number = version.get("number")
        if isinstance(number, int):
            self.state["versions"][page_id] = number
        return SourceDocument(
            path=path,
            data=storage_to_html(title, storage),
            uri=self._web_link(page),
            origin=self.origin,
            modified_at=_parse_when(version.get("when")),
            meta=self._meta(space, page),
            format=".html",
            version=str(number) if number is not None else None,
        )

    def _meta(self, space: str, page: Mapping[str, Any]) -> dict[str, Any]:
        labels = ((page.get("metadata") or {}).get("labels") or {}).get("results") or []
        names = [str(label.get("name")) for label in labels if isinstance(label, dict) and label.get("name")]
        ancestors = [str(a.get("title")) for a in page.get("ancestors") or [] if isinstance(a, dict)]
        return {**labels_to_meta(names, self.entity_names), "space": space, "ancestors": ancestors}

    def _web_link(self, page: Mapping[str, Any]) -> str:
        webui = (page.get("_links") or {}).get("webui")
        if isinstance(webui, str) and webui:
            return webui if webui.startswith(("http://", "https://")) else f"{self.url}{webui}"
        return f"{self.url}/pages/viewpage.action?pageId={page['id']}"

    def _batches(self, items: Iterable[Item]) -> Iterator[Batch]:
        batch: Batch = []
        for item in items:
            batch.append(item)
            if len(batch) >= self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


# --- webhooks -------------------------------------------------------------------------------------

PAGE_EVENTS = frozenset({"page_created", "page_updated", "page_removed", "page_trashed", "page_restored"})
REMOVING_EVENTS = frozenset({"page_removed", "page_trashed"})
_FORGE_EVENTS = {
    "avi:confluence:created:page": "page_created",
    "avi:confluence:updated:page": "page_updated",
    "avi:confluence:trashed:page": "page_trashed",
    "avi:confluence:restored:page": "page_restored",
    "avi:confluence:deleted:page": "page_removed",
}


@dataclass(frozen=True)
class ConfluenceWebhookEvent:
    event: str  # page_created, page_updated, page_removed, page_trashed, page_restored
    page_id: str
    space_key: str | None
    removed: bool  # the page left the space (trashed or deleted): take it out of search


def parse_webhook(payload: Mapping[str, Any]) -> ConfluenceWebhookEvent | None:
    """A page event from a Data Center webhook (``{"event": "page_updated", "page": {...}}``), a
    Cloud webhook (``webhookEvent``/``eventType``, ``page``) or a Forge event (``eventType``
    ``avi:confluence:updated:page``, ``content``); None for any other event."""
    event = _event_name(payload)
    if event not in PAGE_EVENTS:
        return None
    page = payload.get("page") or payload.get("content")
    if not isinstance(page, Mapping) or not page.get("id"):
        return None
    space = page.get("spaceKey") or (page.get("space") or {}).get("key")
    return ConfluenceWebhookEvent(event, str(page["id"]), str(space) if space else None, event in REMOVING_EVENTS)


def _event_name(payload: Mapping[str, Any]) -> str | None:
    for key in ("event", "webhookEvent", "eventType"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            name = value.strip().lower()
            return _FORGE_EVENTS.get(name, name)
    return None


# --- helpers --------------------------------------------------------------------------------------


def _deployment(value: Any) -> str:
    name = str(value or "cloud").strip().lower()
    if name not in _DEPLOYMENTS:
        raise ConnectorConfigError(f"deployment must be 'cloud' or 'datacenter', not {value!r}")
    return _DEPLOYMENTS[name]


def _base_url(url: str, deployment: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConnectorConfigError(f"the setting 'url' must be an http(s) address, not {url!r}")
    url = url.strip().rstrip("/")
    if deployment == "cloud" and parts.netloc.endswith(".atlassian.net") and parts.path.rstrip("/") == "":
        url += "/wiki"  # Cloud serves Confluence under /wiki
    return url


def _space_keys(value: Any) -> list[str]:
    raw = value.split(",") if isinstance(value, str) else list(value) if isinstance(value, Iterable) else [value]
    keys = list(dict.fromkeys(str(k).strip() for k in raw if str(k).strip()))
    if not keys:
        raise ConnectorConfigError("the setting 'spaces' must name at least one space key")
    return keys


def _storage(page: Mapping[str, Any]) -> str | None:
    value = ((page.get("body") or {}).get("storage") or {}).get("value")
    return value if isinstance(value, str) else None


def _parse_when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return _aware(datetime.fromisoformat(value))
    except ValueError:
        return None


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _is_not_found(exc: ConnectorError) -> bool:
    # HttpClient reports a 4xx as "GET <url>: HTTP <status>"
    return getattr(exc, "status", None) == 404 or str(exc).endswith(": HTTP 404")
