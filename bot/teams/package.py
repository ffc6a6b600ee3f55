"""The Teams app package (``hrbot teams package``): ``manifest.json`` and the two icons, zipped.

Upload the zip in Teams (*Apps* → *Manage your apps* → *Upload an app*) to sideload the bot, or
hand it to your Teams admin for the org's app catalogue. The icons are drawn here (a person on the
accent colour, 192×192; its white outline on transparency, 32×32) unless you pass your own PNGs.
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_VERSION = "1.17"
MANIFEST_SCHEMA = (
    f"https://developer.microsoft.com/en-us/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
)
COLOR_SIZE = 192
OUTLINE_SIZE = 32
SCOPES = ["personal", "team", "groupChat"]
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")

Pixel = tuple[int, int, int, int]


class PackageError(ValueError):
    """The package cannot be built as asked (a bad app id, colour or icon)."""


@dataclass(frozen=True)
class AppInfo:
    app_id: str
    name: str = "hrbot"
    full_name: str = "hrbot: HR answers with sources"
    developer: str = "Your company"
    website: str = "https://github.com/hrbot/hrbot"
    privacy_url: str = "https://github.com/hrbot/hrbot#privacy"
    terms_url: str = "https://github.com/hrbot/hrbot#license"
    version: str = "1.0.0"
    accent_color: str = "#3B5BDB"
    valid_domains: tuple[str, ...] = field(default_factory=tuple)


def manifest(info: AppInfo) -> dict[str, Any]:
    """The app manifest: one bot (the Azure Bot's Microsoft App ID) in personal chats, teams and
    group chats, with a few sample questions as its command list."""
    if not _GUID.match(info.app_id):
        raise PackageError(f"the app id must be the bot's Microsoft App ID (a GUID), not {info.app_id!r}")
    if not _COLOR.match(info.accent_color):
        raise PackageError(f"the accent colour must be #RRGGBB, not {info.accent_color!r}")
    commands = [
        ("How many vacation days do I have left?", "Your own leave balance (shown only in a personal chat)"),
        ("Can I carry PTO into next year?", "A policy answer with numbered sources"),
        ("What's parental leave in Germany?", "Policies for another country"),
        ("Help", "What I can answer"),
    ]
    return {
        "$schema": MANIFEST_SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": info.version,
        "id": info.app_id,
        "developer": {
            "name": info.developer[:32],
            "websiteUrl": info.website,
            "privacyUrl": info.privacy_url,
            "termsOfUseUrl": info.terms_url,
        },
        "name": {"short": info.name[:30], "full": info.full_name[:100]},
        "description": {
            "short": "Answers HR questions from your policies, with sources"[:80],
            "full": (
                "Ask about leave, benefits, expenses or any other HR policy: answers quote your company's own "
                "policy documents with numbered sources you can open. Ask about your own leave balance in a "
                "personal chat: personal figures are never posted in a channel. Every answer is audited."
            ),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": info.accent_color,
        "bots": [
            {
                "botId": info.app_id,
                "scopes": SCOPES,
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [{"scopes": SCOPES, "commands": [{"title": t, "description": d} for t, d in commands]}],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": list(info.valid_domains),
    }


def build_package(info: AppInfo, out: Path, *, color: Path | None = None, outline: Path | None = None) -> Path:
    """Write the zip (``manifest.json``, ``color.png``, ``outline.png`` at its root) to ``out``."""
    color_png = _own_icon(color, COLOR_SIZE) if color else color_icon(info.accent_color)
    outline_png = _own_icon(outline, OUTLINE_SIZE) if outline else outline_icon()
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest(info), indent=2, ensure_ascii=False) + "\n")
        zf.writestr("color.png", color_png)
        zf.writestr("outline.png", outline_png)
    return out


# --- icons -------------------------------------------------------------------------------------------


def color_icon(accent: str = AppInfo.accent_color, size: int = COLOR_SIZE) -> bytes:
    """A white person on the accent colour, full bleed (Teams' colour icon)."""
    r, g, b = (int(accent[i : i + 2], 16) for i in (1, 3, 5))
    return _draw(size, lambda cover: _blend((r, g, b, 255), (255, 255, 255, 255), cover))


def outline_icon(size: int = OUTLINE_SIZE) -> bytes:
    """The same person in white on transparency (Teams' outline icon)."""
    return _draw(size, lambda cover: (255, 255, 255, round(255 * cover)))


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG (from its IHDR chunk)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise PackageError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _own_icon(path: Path, size: int) -> bytes:
    data = path.read_bytes()
    if png_size(data) != (size, size):
        raise PackageError(f"{path} must be a {size}x{size} PNG")
    return data


def _person(u: float, v: float) -> bool:
    """The glyph, in a unit square: a head and the shoulders below it."""
    head = (u - 0.5) ** 2 + (v - 0.36) ** 2 <= 0.15**2
    body = ((u - 0.5) / 0.29) ** 2 + ((v - 0.84) / 0.27) ** 2 <= 1.0 and v <= 0.80
    return head or body


def _draw(size: int, shade: Callable[[float], Pixel], samples: int = 3) -> bytes:
    """Rasterise :func:`_person` with ``samples``² supersampling; ``shade`` maps coverage to a pixel."""
    rows = []
    step = 1.0 / (size * samples)
    for y in range(size):
        row = bytearray(b"\x00")  # filter: none
        for x in range(size):
            hits = sum(
                _person((x * samples + i + 0.5) * step, (y * samples + j + 0.5) * step)
                for i in range(samples)
                for j in range(samples)
            )
            row.extend(shade(hits / samples**2))
        rows.append(bytes(row))
    return _png(size, size, b"".join(rows))


def _blend(back: Pixel, front: Pixel, cover: float) -> Pixel:
    return (
        round(back[0] + (front[0] - back[0]) * cover),
        round(back[1] + (front[1] - back[1]) * cover),
        round(back[2] + (front[2] - back[2]) * cover),
        255,
    )


def _png(width: int, height: int, raw: bytes) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
