"""Teams user -> employee: the HR record's Teams (Entra ID object) id first, then the member's email.

The object id comes from the activity (``from.aadObjectId``), which the Bot Connector signed for;
the email and user principal name come from the connector's member lookup
(``GET /v3/conversations/{id}/members/{userId}``), never from message text. Lookups are cached for
``ttl`` seconds so that a busy user does not cost one member lookup a message. An email that
belongs to an employee HR records with another Teams id matches nobody.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from hr.hrdata import store
from hr.hrdata.store import Person

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 600.0

# the member's addresses as the connector reports them (email, then user principal name); blocking
FetchAddresses = Callable[[], tuple[str, ...]]


class TeamsIdentity:
    """Resolves Teams users to employees; thread-safe, with a small cache of member addresses."""

    def __init__(self, *, ttl: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._addresses: dict[str, tuple[tuple[str, ...], float]] = {}
        self._lock = threading.Lock()

    def resolve(self, user_id: str, *, session: Session, fetch: FetchAddresses | None = None) -> Person | None:
        """The active employee this Teams user is: by the Teams id HR recorded, else by the
        member's email or user principal name (``fetch``: a connector lookup, called at most once
        per ``ttl``)."""
        person = store.employee_by_teams_id(user_id, session=session) if user_id else None
        if person is not None or fetch is None:
            return person
        for address in self.addresses(user_id, fetch):
            person = store.employee_by_email(address, session=session)
            if person is None:
                continue
            if person.teams_user_id and person.teams_user_id.lower() != user_id.lower():
                # HR records another Teams account for this person: a matching email does not take it over
                log.warning("teams email matches an employee with another teams id", extra={"teams_user_id": user_id})
                return None
            log.info("teams user matched by email", extra={"teams_user_id": user_id, "employee_id": person.id})
            return person
        return None

    def addresses(self, user_id: str, fetch: FetchAddresses) -> tuple[str, ...]:
        now = self.clock()
        with self._lock:
            cached = self._addresses.get(user_id)
            if cached is not None and cached[1] > now:
                return cached[0]
        try:
            found = tuple(dict.fromkeys(a.strip().lower() for a in fetch() if a and "@" in a))
        except Exception as exc:  # the connector is down or refuses: nobody, this time
            log.warning("teams member lookup failed", extra={"teams_user_id": user_id, "error": repr(exc)})
            return ()
        with self._lock:
            self._addresses[user_id] = (found, now + self.ttl)
        return found


def member_addresses(member: object) -> tuple[str, ...]:
    """Email and user principal name of a connector member (a ``ChannelAccount`` carries them as
    extra fields, a ``TeamsChannelAccount`` as its own), in that order; empty when it has neither."""
    extra = getattr(member, "model_extra", None) or {}
    found: list[str] = []
    for attribute, key in (("email", "email"), ("user_principal_name", "userPrincipalName")):
        value = getattr(member, attribute, None) or extra.get(key) or extra.get(attribute)
        if isinstance(value, str) and value.strip():
            found.append(value)
    return tuple(found)
