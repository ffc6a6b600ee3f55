"""The Celery app: Redis broker, two queues, tasks that survive a killed worker.

``app`` is created at import with no configuration (nothing reads the environment at import time);
:func:`configure` applies a :class:`~hr.settings.Settings` at the edge (``hrbot worker``, ``hrbot
beat``, the enqueueing side). A worker process configures itself from the environment on start.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu.entity import Queue

from hr.settings import Settings

SYNC_QUEUE = "hrbot.sync"
CHAT_QUEUE = "hrbot.chat"

app = Celery("hrbot", include=["workers.tasks"])


class RedisNotConfigured(RuntimeError):
    pass


def redis_url(settings: Settings) -> str:
    if settings.redis_url is None:
        raise RedisNotConfigured("set HRBOT_REDIS_URL (e.g. redis://localhost:6379/0) to use the Celery workers")
    return settings.redis_url.get_secret_value()


def celery_config(settings: Settings) -> dict[str, Any]:
    url = redis_url(settings)
    return {
        "broker_url": url,
        "result_backend": url,
        "broker_connection_retry_on_startup": True,
        # A task held by a worker that died is handed out again once it is older than the
        # visibility timeout; a worker looks for such tasks every minute (kombu's default sweep is
        # every 100 s). A sync outliving the timeout is delivered twice: the per-source lock skips
        # the copy.
        "broker_transport_options": {
            "visibility_timeout": settings.celery_visibility_timeout,
            "unacked_restore_interval": 60,
            "unacked_restore_throttle": 1,
        },
        "result_backend_transport_options": {"visibility_timeout": settings.celery_visibility_timeout},
        "result_expires": 24 * 3600,
        "task_queues": (Queue(SYNC_QUEUE), Queue(CHAT_QUEUE)),  # type: ignore[no-untyped-call]
        "task_default_queue": SYNC_QUEUE,
        # A task is acknowledged when it finishes, and given back when its worker dies mid-way, so a
        # sync killed half-way is run again (every task is idempotent).
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        "worker_hijack_root_logger": False,
    }


def configure(settings: Settings) -> Celery:
    app.conf.update(celery_config(settings))
    return app
