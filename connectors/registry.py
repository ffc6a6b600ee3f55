"""Source kinds and the connector classes that read them.

Every connector class has ``from_settings(settings, *, env, state)``: ``settings`` is the source's
stored JSON (URLs, space keys, folders; never secrets), ``env`` the process environment where the
secrets live (each connector documents the variables it reads, and a source may name other ones
with ``*_env`` settings), and ``state`` the cursor it left after the last successful run.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from connectors.base import ConnectorConfigError


class ConnectorClass(Protocol):
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Kind:
    name: str
    target: Literal["policies", "hr"]
    factory: str  # "module:Class"
    description: str
    settings_help: str

    def load(self) -> Any:
        module_name, _, class_name = self.factory.partition(":")
        return getattr(importlib.import_module(module_name), class_name)


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "folder",
            "policies",
            "connectors.filesystem:FilesystemConnector",
            "policy files in a folder (Markdown, HTML, PDF, DOCX, text)",
            "path=/srv/policies",
        ),
        Kind(
            "confluence",
            "policies",
            "connectors.confluence:ConfluenceConnector",
            "Confluence Cloud or Data Center pages of one or more spaces",
            "url=https://acme.atlassian.net/wiki spaces=HR,PEOPLE [deployment=cloud|datacenter] [email=bot@acme.com]"
            " [entity_names=JSON label-slug to entity] [token_env=VAR] (token: HRBOT_CONFLUENCE_TOKEN)."
            " Labels country-de, entity-<slug>, employment-<type> set a page's audience",
        ),
        Kind(
            "sharepoint",
            "policies",
            "connectors.graph:GraphDriveConnector",
            "files of a SharePoint document library or OneDrive, through Microsoft Graph delta queries",
            "tenant_id=… client_id=… drive_id=…|site_id=… [folder=HR Policies] [include_unsupported=true]"
            " [client_secret_env=VAR] (secret: HRBOT_GRAPH_CLIENT_SECRET)",
        ),
        Kind(
            "website",
            "policies",
            "connectors.sitemap:SitemapConnector",
            "pages of a website listed in its sitemap.xml",
            "url=https://intranet.acme.com/sitemap.xml [prefix=https://intranet.acme.com/hr/] [max_pages=N]",
        ),
        Kind(
            "hr-csv",
            "hr",
            "connectors.hr_csv:CsvDropConnector",
            "HR CSV exports dropped in a folder (the formats of `hrbot people import`)",
            "path=/srv/hr-drop [archive=true: move imported files to processed/]",
        ),
        Kind(
            "bamboohr",
            "hr",
            "connectors.bamboohr:BambooHRConnector",
            "BambooHR employee directory and time-off balances",
            "company=acme [url=https://api.bamboohr.com/api/gateway.php] [default_country=US]"
            " [locations=JSON location to ISO country] [leave_types=JSON name to code] [employment_types=JSON]"
            " [entity_field=division] [api_key_env=VAR] (API key: HRBOT_BAMBOOHR_API_KEY)",
        ),
    )
}


def kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ConnectorConfigError(f"unknown source kind {name!r}; use one of {', '.join(KINDS)}") from None


def build(
    kind_name: str,
    settings: Mapping[str, Any],
    *,
    state: dict[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Any:
    """The connector for one stored source."""
    cls = kind(kind_name).load()
    return cls.from_settings(dict(settings), env=os.environ if env is None else env, state=dict(state or {}))


def secret(env: Mapping[str, str], settings: Mapping[str, Any], key: str, default_var: str) -> str:
    """A secret from the environment: the variable named by ``settings[key + '_env']``, else ``default_var``."""
    var = str(settings.get(f"{key}_env") or default_var)
    value = env.get(var)
    if not value:
        raise ConnectorConfigError(f"set {var} in the environment (the source's {key})")
    return value


def require(settings: Mapping[str, Any], key: str) -> Any:
    value = settings.get(key)
    if value in (None, "", []):
        raise ConnectorConfigError(f"the source needs the setting {key!r}")
    return value
