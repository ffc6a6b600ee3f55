"""The enqueueing side: what the CLI, Slack and the webhooks call to hand a sync to the workers."""

from __future__ import annotations

from typing import Any

from celery import chord
from celery.result import AsyncResult

from hr.settings import Settings
from workers.celery_app import CHAT_QUEUE, SYNC_QUEUE, configure
from workers.tasks import report_to_slack, sync_source


def enqueue_sync(
    settings: Settings,
    source_id: int,
    *,
    trigger: str,
    full: bool = False,
    page_ids: list[str] | None = None,
) -> AsyncResult[Any]:
    configure(settings)
    return sync_source.apply_async(
        kwargs={"source_id": source_id, "trigger": trigger, "full": full, "page_ids": page_ids}, queue=SYNC_QUEUE
    )


def enqueue_reindex(
    settings: Settings, source_ids: list[int], *, trigger: str, notify: dict[str, Any] | None = None
) -> AsyncResult[Any]:
    """A full sync of each source; with ``notify`` ({"channel", "ts"} of a Slack message), the
    message is updated with every result once all have finished."""
    configure(settings)
    syncs = [
        sync_source.si(source_id=source_id, trigger=trigger, full=True).set(queue=SYNC_QUEUE)
        for source_id in source_ids
    ]
    if notify is None:
        from celery import group

        return group(syncs).apply_async()
    return chord(syncs)(report_to_slack.s(notify=notify).set(queue=CHAT_QUEUE))
