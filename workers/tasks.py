"""Celery tasks. They take ids, not objects; names and queues are constants; every one is idempotent.

``sync_source`` is acknowledged late: a worker killed mid-sync gives the task back and the next
worker runs it again, finishing what the killed one started (documents already written are
unchanged by hash and cost nothing). Connector errors are retried with exponential backoff;
credentials or settings that are wrong are not (an admin has to act).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Task
from celery.signals import worker_ready

from workers.celery_app import CHAT_QUEUE, SYNC_QUEUE, app

log = logging.getLogger(__name__)

SYNC_SOURCE = "hrbot.sync_source"
REPORT_TO_SLACK = "hrbot.report_to_slack"
MAX_RETRIES = 5
RETRY_BACKOFF_SECONDS = 30


@worker_ready.connect
def _warm_up(**_: Any) -> None:
    """Load the embedding model in the background as the worker starts consuming."""

    def warm() -> None:
        from workers.runtime import get_runtime

        try:
            get_runtime().syncer.warm_up()
        except Exception:
            log.exception("could not warm up the embedding model")

    threading.Thread(target=warm, name="hrbot-warm-up", daemon=True).start()


@app.task(name=SYNC_SOURCE, bind=True, acks_late=True, max_retries=MAX_RETRIES, queue=SYNC_QUEUE)
def sync_source(
    self: Task,
    source_id: int,
    trigger: str = "schedule",
    full: bool = False,
    page_ids: list[str] | None = None,
) -> dict[str, Any]:
    from workers.runtime import get_runtime

    runtime = get_runtime()
    result = runtime.syncer.sync(source_id, trigger=trigger, full=full, page_ids=page_ids, task_id=self.request.id)
    if result.retryable and self.request.retries < MAX_RETRIES:
        countdown = RETRY_BACKOFF_SECONDS * (2**self.request.retries)
        log.warning(
            "sync failed, retrying",
            extra={"source": result.source, "retry_in": countdown, "errors": result.errors},
        )
        raise self.retry(countdown=countdown)
    # The last try returns its failure instead of raising, so a chord waiting on it still reports.
    return result.as_dict()


@app.task(name=REPORT_TO_SLACK, bind=True, acks_late=True, max_retries=3, queue=CHAT_QUEUE)
def report_to_slack(self: Task, results: list[dict[str, Any]], notify: dict[str, Any]) -> None:
    """Update the admin's "reindex queued" message in Slack with how the syncs ended (a chord's callback)."""
    from bot.slack.reports import update_reindex_message
    from workers.runtime import get_runtime

    try:
        update_reindex_message(get_runtime().settings, notify, results)
    except Exception as exc:
        raise self.retry(exc=exc, countdown=5 * (2**self.request.retries)) from exc
