"""The App Home tab: the viewer's own leave balances and how to ask.

Slack shows a user's Home tab to that user only, and ``app_home_opened`` names the viewer: the
view is built from the viewer's own HR record and published for the viewer alone (``user_id`` of
``views.publish``). Someone HR has no record of gets a view saying so, and no figures.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import personal
from bot.slack.handlers import Deps
from bot.slack.render import Block, mrkdwn, render_home, safe_mrkdwn
from hr.hrdata import store

log = logging.getLogger(__name__)

NOT_IN_RECORDS_TEXT = (
    "I can't find your HR record, so I can't show your leave balances here. "
    "If you think you should be in the HR records, please contact {contact}."
)


def register(app: App, deps: Deps) -> None:
    """Register the ``app_home_opened`` listener on ``app``."""

    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any], client: WebClient) -> None:
        on_app_home_opened(event, client, deps)


def on_app_home_opened(event: dict[str, Any], client: WebClient, deps: Deps) -> None:
    """``app_home_opened`` on the Home tab: publish the viewer's own view."""
    if event.get("tab", "home") != "home":
        return
    user = event.get("user")
    if not isinstance(user, str) or not user:
        return
    view = home_view(user, deps)
    try:
        client.views_publish(user_id=user, view=view)
    except SlackApiError as exc:
        log.warning("views.publish failed", extra={"slack_user_id": user, "error": str(exc.response.get("error"))})


def home_view(user: str, deps: Deps) -> dict[str, Any]:
    """The Home view for Slack user ``user``: built from their own record only."""
    with deps.sessions() as session:
        person = deps.identity.resolve(user, session=session)
        if person is None:
            session.commit()
            return unknown_home(deps.settings.hr_contact)
        balances = personal.report(person, ["balance"], "", today=date.today(), session=session, own=True)
        lines = [] if not store.balances(person.id, session=session) else balances.lines
        session.commit()  # resolve() may have linked the Slack id by profile email
    log.info("slack home published", extra={"slack_user_id": user, "employee_id": person.id})
    return render_home(lines, person.name.split()[0] if person.name.split() else "")


def unknown_home(contact: str) -> dict[str, Any]:
    """The Home view for someone not in the HR records: how to ask, no figures."""
    view = render_home([], "")
    blocks: list[Block] = view["blocks"]
    for i, block in enumerate(blocks):
        if block.get("type") == "section" and "no leave balances" in str(block.get("text", {}).get("text", "")):
            blocks[i] = {"type": "section", "text": mrkdwn(safe_mrkdwn(NOT_IN_RECORDS_TEXT.format(contact=contact)))}
    return view
