"""Edit the pages of a running fake Confluence (``python -m tests.fakes.confluence_api``), as an HR
editor would in the wiki. See README, "Try it locally with a fake Confluence".

    python -m tests.fakes.confluence_admin list
    python -m tests.fakes.confluence_admin show PAGE_ID
    python -m tests.fakes.confluence_admin add TITLE TEXT [--space HR] [--label country-de ...]
    python -m tests.fakes.confluence_admin edit PAGE_ID TEXT [--title T]
    python -m tests.fakes.confluence_admin delete PAGE_ID [--trash]

``TEXT`` is Markdown (headings, paragraphs, lists), or ``@FILE`` to read it from a file; ``--url``
is the fake's root (default ``http://127.0.0.1:8090``).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def call(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request = urllib.request.Request(
        url.rstrip("/") + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _text(value: str) -> str:
    return Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value


def _line(page: dict[str, Any]) -> str:
    return f"{page['id']}  {page['space']}  v{page['version']}  {page['status']:8} {page['title']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Edit the pages of a running fake Confluence.")
    parser.add_argument("--url", default="http://127.0.0.1:8090", help="the fake's root (no /wiki)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every page")
    show = commands.add_parser("show", help="one page with its storage body")
    show.add_argument("page_id")
    add = commands.add_parser("add", help="a new page (webhook page_created)")
    add.add_argument("title")
    add.add_argument("text", help="Markdown, or @FILE")
    add.add_argument("--space", default="HR")
    add.add_argument("--label", action="append", default=[], help="e.g. country-de; repeat for more")
    edit = commands.add_parser("edit", help="a new version of a page (webhook page_updated)")
    edit.add_argument("page_id")
    edit.add_argument("text", help="the new body: Markdown, or @FILE")
    edit.add_argument("--title")
    delete = commands.add_parser("delete", help="delete a page (webhook page_removed)")
    delete.add_argument("page_id")
    delete.add_argument("--trash", action="store_true", help="move it to the trash instead (page_trashed)")
    args = parser.parse_args(argv)

    try:
        if args.command == "list":
            status, answer = call(args.url, "GET", "/_fake/pages")
        elif args.command == "show":
            status, answer = call(args.url, "GET", f"/_fake/pages/{args.page_id}")
        elif args.command == "add":
            fields = {"title": args.title, "text": _text(args.text), "space": args.space, "labels": args.label}
            status, answer = call(args.url, "POST", "/_fake/pages", fields)
        elif args.command == "edit":
            fields = {"text": _text(args.text)} | ({"title": args.title} if args.title else {})
            status, answer = call(args.url, "PUT", f"/_fake/pages/{args.page_id}", fields)
        else:
            query = "?trash=1" if args.trash else ""
            status, answer = call(args.url, "DELETE", f"/_fake/pages/{args.page_id}{query}")
    except OSError as exc:
        print(f"cannot reach the fake Confluence at {args.url}: {exc}", file=sys.stderr)
        return 1
    if status >= 400:
        print(f"{status}: {answer.get('message', answer)}", file=sys.stderr)
        return 1
    if args.command == "list":
        for page in answer["results"]:
            print(_line(page))
    elif args.command == "show":
        print(_line(answer))
        print(answer["body"])
    else:
        deleted = "trashed" if getattr(args, "trash", False) else "deleted"
        verb = {"add": "added", "edit": "edited", "delete": deleted}[args.command]
        print(f"{verb}: {_line(answer)}")
        if "webhook" in answer:
            print(f"webhook: {answer['webhook']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
