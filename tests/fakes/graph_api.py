"""A fake Microsoft Graph (drives, delta, content, subscriptions) and login endpoint on loopback.

It speaks the wire format: ``POST /{tenant}/oauth2/v2.0/token`` (form) for app tokens; under
``/v1.0``: ``GET /drives/{id}/root/delta`` with ``@odata.nextLink`` pages of ``page_size`` items and
an ``@odata.deltaLink`` whose token returns only later changes (deleted items with a ``deleted``
facet, parents included, ``parentReference`` without ``path`` as in Graph), ``GET /sites/{id}/drive``,
``GET /drives/{id}/items/{item}/content`` answering ``302`` to a pre-authenticated download URL on
the same server, and ``POST /subscriptions`` (which validates the notification URL first, as Graph
does). Tests edit the drive (:meth:`FakeGraph.put`, ``rename``, ``delete``), expire tokens and delta
links, make the secret wrong, inject 429/5xx (:meth:`FakeGraph.fail`) and read :attr:`requests`.
"""

from __future__ import annotations

import itertools
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.serving import send_json, serving

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
Answer = tuple[int, Any, dict[str, str]]  # status, JSON body (or bytes), headers


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    token: str | None
    status: int
    kind: str  # "token", "delta", "drive", "content", "download", "subscriptions", "other"


@dataclass
class Failure:
    status: int
    times: int = 1
    retry_after: int | None = None


@dataclass
class Item:
    id: str
    name: str
    parent: str | None
    folder: bool
    content: bytes = b""
    version: int = 1  # eTag: any change
    content_version: int = 1  # cTag: content changes only
    seq: int = 0  # the change number of its last change
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))
    deleted: bool = False


@dataclass
class FakeGraph:
    tenant_id: str = "contoso-tenant"
    client_id: str = "hrbot-app"
    client_secret: str = "s3cret"
    drive_id: str = "b!drive1"
    site_id: str = "contoso.sharepoint.com,site1,web1"
    page_size: int = 3
    token_lifetime: int = 3599
    server: ThreadingHTTPServer | None = None
    requests: list[Request] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    items: dict[str, Item] = field(default_factory=dict)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    delta_epoch: int = 0  # delta tokens of an earlier epoch answer 410 Gone
    now_seq: int = 0  # the number of the last change
    _seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.items["root"] = Item("root", "root", None, True)

    # --- set-up ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}"

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0"

    def settings(self, **extra: Any) -> dict[str, Any]:
        """Source settings pointing at this fake."""
        return {
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "drive_id": self.drive_id,
            "graph_url": self.graph_url,
            "login_url": self.base_url,
            **extra,
        }

    def _touch(self, item: Item) -> None:
        self.now_seq = next(self._seq)
        item.seq = self.now_seq
        item.version += 1
        item.modified = datetime.now(UTC)

    def folder(self, path: str) -> str:
        """The id of the folder at ``path`` ("HR/Benefits"), created with its parents when missing."""
        with self._lock:
            parent = "root"
            for name in [p for p in path.split("/") if p]:
                found = self._child(parent, name)
                if found is None:
                    found = Item(f"fold{next(self._ids)}", name, parent, True)
                    self.items[found.id] = found
                    self._touch(found)
                parent = found.id
            return parent

    def put(self, path: str, content: bytes) -> str:
        """Add or edit the file at ``path`` (parents created); an edit changes its eTag/cTag."""
        with self._lock:
            folder, _, name = path.rpartition("/")
            parent = self.folder(folder)
            item = self._child(parent, name)
            if item is None:
                item = Item(f"file{next(self._ids)}", name, parent, False)
                self.items[item.id] = item
            item.content = content
            item.content_version += 1
            self._touch(item)
            return item.id

    def rename(self, item_id: str, name: str) -> None:
        with self._lock:
            self.items[item_id].name = name
            self._touch(self.items[item_id])

    def delete(self, item_id: str) -> None:
        """Delete an item; a folder's descendants are reported deleted too."""
        with self._lock:
            for child in [i for i in self.items.values() if i.parent == item_id and not i.deleted]:
                self.delete(child.id)
            self.items[item_id].deleted = True
            self._touch(self.items[item_id])

    def id_of(self, path: str) -> str:
        with self._lock:
            current = "root"
            for name in path.split("/"):
                found = self._child(current, name)
                assert found is not None, path
                current = found.id
            return current

    def expire_tokens(self) -> None:
        """Every access token issued so far is refused from now on (401)."""
        with self._lock:
            self.tokens.clear()

    def expire_delta_links(self) -> None:
        """Every delta link handed out so far answers 410 Gone (resync required)."""
        with self._lock:
            self.delta_epoch += 1

    def fail(self, kind: str, status: int = 503, *, times: int = 1, retry_after: int | None = None) -> None:
        """Answer the next ``times`` requests of ``kind`` ("delta", "content", "content:<item id>",
        "token", "subscriptions", ...) with ``status`` (and a ``Retry-After`` header)."""
        with self._lock:
            self.failures.setdefault(kind, []).append(Failure(status, times, retry_after))

    def of(self, kind: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.kind == kind]

    def notify(self, change_type: str = "updated") -> list[int]:
        """Send a change notification to every subscription; the receivers' HTTP statuses."""
        statuses = []
        for sub in list(self.subscriptions):
            note = {
                "subscriptionId": sub["id"],
                "clientState": sub.get("clientState"),
                "changeType": change_type,
                "resource": sub["resource"],
                "tenantId": self.tenant_id,
                "subscriptionExpirationDateTime": sub["expirationDateTime"],
            }
            statuses.append(_post(sub["notificationUrl"], json.dumps({"value": [note]}).encode())[0])
        return statuses

    # --- the API --------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], form: dict[str, Any], auth: str) -> Answer:
        kind, item_id = _kind(path)
        token = auth.removeprefix("Bearer ").strip() or None
        with self._lock:
            answer = self._failure(kind, item_id) or self._route(kind, method, path, query, form, token)
            self.requests.append(Request(method, path, query, token, answer[0], kind))
        return answer

    def _failure(self, kind: str, item_id: str | None) -> Answer | None:
        for key in (f"{kind}:{item_id}", kind):
            queued = self.failures.get(key)
            if queued:
                failure = queued[0]
                failure.times -= 1
                if failure.times <= 0:
                    queued.pop(0)
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
                error = {"code": "serviceNotAvailable" if failure.status >= 500 else "itemNotFound", "message": "x"}
                return failure.status, {"error": error}, headers
        return None

    def _route(
        self, kind: str, method: str, path: str, query: dict[str, str], form: dict[str, Any], token: str | None
    ) -> Answer:
        if kind == "token":
            return self._token(path, form)
        if kind == "download":
            item = self.items.get(path.rsplit("/", 1)[-1])
            if item is None or item.deleted or query.get("tempauth") != "ok":
                return 404, {"error": {"code": "itemNotFound", "message": "gone"}}, {}
            return 200, item.content, {"Content-Type": "application/octet-stream"}
        if token is None or token not in self.tokens:
            message = "Access token has expired or is not yet valid."
            return 401, {"error": {"code": "InvalidAuthenticationToken", "message": message}}, {}
        if kind == "delta" and path == f"/v1.0/drives/{self.drive_id}/root/delta":
            return self._delta(query)
        if kind == "drive" and path == f"/v1.0/sites/{self.site_id}/drive":
            return 200, {"id": self.drive_id, "driveType": "documentLibrary", "name": "Documents"}, {}
        if kind == "content":
            item = self.items.get(path.split("/")[-2])
            if item is None or item.deleted or item.folder:
                return 404, {"error": {"code": "itemNotFound", "message": "The resource could not be found."}}, {}
            location = f"{self.base_url}/download/{item.id}?tempauth=ok"
            return 302, {}, {"Location": location}
        if kind == "subscriptions" and method == "POST":
            return self._subscribe(form)
        return 404, {"error": {"code": "itemNotFound", "message": "no such route"}}, {}

    def _token(self, path: str, form: dict[str, Any]) -> Answer:
        if path != f"/{self.tenant_id}/oauth2/v2.0/token":
            return 400, {"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."}, {}
        if form.get("grant_type") != "client_credentials" or form.get("scope") != GRAPH_SCOPE:
            return 400, {"error": "invalid_request", "error_description": "AADSTS900144: bad grant or scope"}, {}
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            description = "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1\r\nCorrelation ID: 2"
            return 401, {"error": "invalid_client", "error_description": description}, {}
        token = f"tok{next(self._ids)}"
        self.tokens.add(token)
        lifetime = self.token_lifetime
        body = {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}
        return 200, body, {}

    def _delta(self, query: dict[str, str]) -> Answer:
        seq, _, epoch = query.get("token", f"0.{self.delta_epoch}").partition(".")
        since = int(seq)
        if epoch != str(self.delta_epoch):
            error = {"code": "resyncRequired", "message": "Resync required. Replace any local items with the server's."}
            return 410, {"error": error}, {"Location": f"{self.graph_url}/drives/{self.drive_id}/root/delta"}
        upto = int(query.get("upto", self.now_seq))
        changed = self._changed(since, upto)
        skip = int(query.get("skip", "0"))
        page = [self._json(i) for i in changed[skip : skip + self.page_size]]
        base = f"{self.graph_url}/drives/{self.drive_id}/root/delta"
        body: dict[str, Any] = {"@odata.context": f"{self.graph_url}/$metadata#Collection(driveItem)", "value": page}
        if skip + self.page_size < len(changed):
            params = {"upto": str(upto), "skip": str(skip + self.page_size)}
            if "token" in query:
                params["token"] = query["token"]
            body["@odata.nextLink"] = f"{base}?{urllib.parse.urlencode(params)}"
        else:
            body["@odata.deltaLink"] = f"{base}?token={upto}.{self.delta_epoch}"
        return 200, body, {}

    def _changed(self, since: int, upto: int) -> list[Item]:
        """Items changed in (since, upto], with their live ancestors; a full round: every live item."""
        found: dict[str, Item] = {}
        for item in self.items.values():
            if (since == 0 and not item.deleted and item.seq <= upto) or since < item.seq <= upto:
                chain = [item]
                while chain[-1].parent is not None and not item.deleted:
                    chain.append(self.items[chain[-1].parent])
                for entry in reversed(chain):  # parents before children
                    found.setdefault(entry.id, entry)
        return list(found.values())

    def _json(self, item: Item) -> dict[str, Any]:
        parent_ref = {"driveId": self.drive_id, "driveType": "documentLibrary"}
        if item.deleted:  # Graph reports deleted items under the root, without their old facets
            parent_ref["id"] = "root"
            return {"id": item.id, "name": item.name, "deleted": {"state": "deleted"}, "parentReference": parent_ref}
        body: dict[str, Any] = {
            "id": item.id,
            "name": item.name,
            "eTag": f'"{{{item.id}}},{item.version}"',
            "cTag": f'"c:{{{item.id}}},{item.content_version}"',
            "lastModifiedDateTime": item.modified.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "webUrl": f"https://contoso.sharepoint.com/sites/hr/Shared%20Documents/{urllib.parse.quote(self._path(item))}",
            "parentReference": {**parent_ref, "id": item.parent} if item.parent else parent_ref,
        }
        if item.parent is None:
            body["root"] = {}
        if item.folder:
            children = sum(1 for i in self.items.values() if i.parent == item.id and not i.deleted)
            body["folder"] = {"childCount": children}
        else:
            body.update(size=len(item.content), file={"mimeType": "application/octet-stream"})
        return body

    def _subscribe(self, form: dict[str, Any]) -> Answer:
        url = str(form.get("notificationUrl") or "")
        challenge = "Validation: Testing client application reachability for subscription Request-Id: 42"
        status, text = _post(f"{url}?{urllib.parse.urlencode({'validationToken': challenge})}", b"")
        if status != 200 or text != challenge.encode():
            message = "Subscription validation request failed. Notification endpoint must respond with 200 OK."
            return 400, {"error": {"code": "InvalidRequest", "message": message}}, {}
        sub = {**form, "id": f"sub{next(self._ids)}", "applicationId": self.client_id}
        self.subscriptions.append(sub)
        return 201, sub, {}

    def _child(self, parent: str, name: str) -> Item | None:
        return next((i for i in self.items.values() if i.parent == parent and i.name == name and not i.deleted), None)

    def _path(self, item: Item) -> str:
        names = []
        while item.parent is not None:
            names.append(item.name)
            item = self.items[item.parent]
        return "/".join(reversed(names))


def _kind(path: str) -> tuple[str, str | None]:
    parts = path.strip("/").split("/")
    if path.endswith("/oauth2/v2.0/token"):
        return "token", None
    if parts[0] == "download":
        return "download", parts[-1]
    if path.endswith("/root/delta"):
        return "delta", None
    if path.endswith("/content") and len(parts) >= 5:
        return "content", parts[-2]
    if path.endswith("/drive"):
        return "drive", None
    if path == "/v1.0/subscriptions":
        return "subscriptions", None
    return "other", None


def _post(url: str, data: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def _handler(fake: FakeGraph) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8") if length else ""
            content_type = self.headers.get("Content-Type") or ""
            form: dict[str, Any] = json.loads(raw) if raw and "json" in content_type else dict(parse_qsl(raw))
            auth = self.headers.get("Authorization") or ""
            status, body, headers = fake.handle(self.command, parts.path, dict(parse_qsl(parts.query)), form, auth)
            send_json(self, status, body, headers, content_type="application/json")

        do_GET = _serve
        do_POST = _serve

    return Handler


@contextmanager
def fake_graph(**kwargs: Any) -> Iterator[FakeGraph]:
    """A running fake on 127.0.0.1, port 0; stopped on exit."""
    fake = FakeGraph(**kwargs)
    with serving(_handler(fake)) as server:
        fake.server = server
        yield fake
