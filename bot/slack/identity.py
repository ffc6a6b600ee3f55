"""Slack user id -> employee: the HR record's Slack id first, then the Slack profile's email.

The email comes from ``users.info`` (Slack verifies it for the workspace), never from message text.
Lookups are cached for ``ttl`` seconds so that a busy user does not cost one ``users.info`` a message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from hr.hrdata import store
from hr.hrdata.store import Person

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 600.0


class SlackIdentity:
    """Resolves Slack users to employees; thread-safe, with a small in-memory cache of profile emails."""

    def __init__(
        self, client: WebClient, *, ttl: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self._emails: dict[str, tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    def resolve(self, user_id: str, *, session: Session) -> Person | None:
        """The active employee this Slack user is: by the Slack id HR recorded, else by profile email."""
        person = store.employee_by_slack_id(user_id, session=session)
        if person is not None:
            return person
        email = self.email(user_id)
        if not email:
            return None
        person = store.employee_by_email(email, session=session)
        if person is None:
            return None
        if person.slack_user_id and person.slack_user_id != user_id:
            # HR records another Slack account for this person: do not let a matching email take it over
            log.warning("slack email matches an employee with another slack id", extra={"slack_user_id": user_id})
            return None
        if store.link_slack_user(person.id, user_id, session=session):
            log.info("slack user matched by email", extra={"slack_user_id": user_id, "employee_id": person.id})
        return store.employee_by_id(person.id, session=session)

    def email(self, user_id: str) -> str | None:
        """The profile email of a Slack user (``users.info``), cached; ``None`` when Slack has none."""
        now = self.clock()
        with self._lock:
            cached = self._emails.get(user_id)
            if cached is not None and cached[1] > now:
                return cached[0]
        try:
            response = self.client.users_info(user=user_id)
        except SlackApiError as exc:
            log.warning("users.info failed", extra={"slack_user_id": user_id, "error": str(exc.response.get("error"))})
            return None
        user = response.get("user") or {}
        profile = user.get("profile") or {}
        email = profile.get("email")
        found = email.strip().lower() if isinstance(email, str) and email.strip() else None
        with self._lock:
            self._emails[user_id] = (found, now + self.ttl)
        return found
