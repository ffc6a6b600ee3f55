"""The admin's reindex message: posted when a reindex starts, updated in place when it ends.

The message lives in the admin's DM with the bot (``chat.postMessage`` to the user id), because an
ephemeral reply cannot be updated later. The update comes from the Celery chat queue when workers
run the sync (``workers.tasks.report_to_slack``), or from the bot's own thread without them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk import WebClient

from bot.slack.render import safe_mrkdwn
from hr.settings import Settings

STATUS_ICON = {"succeeded": "✅", "partial": "⚠️", "failed": "❌", "skipped": "⏭️"}
MAX_ERRORS = 5


def queued_text(names: Sequence[str], *, on_workers: bool) -> str:
    listed = ", ".join(f"`{safe_mrkdwn(n)}`" for n in names)
    where = "on the sync workers" if on_workers else "in the bot"
    return f"⏳ *Reindex* of {listed} started {where}. This message will show the result."


def result_line(result: Mapping[str, Any]) -> str:
    status = str(result.get("status", "failed"))
    name = safe_mrkdwn(str(result.get("source", "?")))
    if status == "skipped":
        return f"{STATUS_ICON[status]} `{name}`: another sync of it was already running; that one carries on."
    counts = result.get("counts") or {}
    if "chunks_written" in counts or "seen" in counts:
        shown = (
            f"{counts.get('seen', 0)} documents seen, {counts.get('new', 0)} new, {counts.get('changed', 0)} changed,"
            f" {counts.get('unchanged', 0)} unchanged, {counts.get('removed', 0)} removed,"
            f" {counts.get('failed', 0)} failed; {counts.get('chunks_embedded', 0)} chunks embedded"
        )
    else:
        shown = ", ".join(f"{k} {v}" for k, v in counts.items()) or "nothing read"
    line = f"{STATUS_ICON.get(status, '❔')} `{name}` {status} in {float(result.get('seconds') or 0):.1f} s: {shown}"
    errors = [str(e) for e in result.get("errors") or []]
    for error in errors[:MAX_ERRORS]:
        line += f"\n    • {safe_mrkdwn(error[:300])}"
    if len(errors) > MAX_ERRORS:
        line += f"\n    • … and {len(errors) - MAX_ERRORS} more (`hrbot sources show {name}`)"
    return line


def report_text(results: Sequence[Mapping[str, Any]]) -> str:
    failed = sum(1 for r in results if r.get("status") == "failed")
    head = "*Reindex done*" if not failed else f"*Reindex finished with {failed} failed source(s)*"
    return "\n".join([head, *(result_line(r) for r in results)])


def post_queued(client: WebClient, user: str, names: Sequence[str], *, on_workers: bool) -> dict[str, str]:
    """Post the "started" message in the admin's DM; returns where it is, for the later update."""
    reply = client.chat_postMessage(channel=user, text=queued_text(names, on_workers=on_workers))
    return {"channel": str(reply["channel"]), "ts": str(reply["ts"]), "user": user}


def update_message(client: WebClient, notify: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> None:
    client.chat_update(channel=notify["channel"], ts=notify["ts"], text=report_text(results))


def update_reindex_message(settings: Settings, notify: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> None:
    """For the Celery chat queue: a client from the settings, then the update."""
    from bot.slack.app import web_client

    update_message(web_client(settings), notify, results)
