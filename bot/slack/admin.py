"""``/hr-admin status | reindex [source] | audit [@user] [since]``: for hrbot admins only.

Admins are the Slack user ids in ``HRBOT_SLACK_ADMIN_USER_IDS`` and, when
``HRBOT_SLACK_ADMIN_USERGROUP`` is set, the members of that user group (``usergroups.users.list``).
Everyone else gets an ephemeral refusal and nothing runs. Every answer is ephemeral (only the admin
sees it). ``reindex`` runs a full sync of the source (``hrbot reindex``): on the Celery workers when
``HRBOT_REDIS_URL`` is set, else on a thread of the bot; a message in the admin's DM says it started
and is updated with the result (``bot.slack.reports``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.slack import reports
from bot.slack.handlers import Ack, Deps, Respond
from bot.slack.render import safe_mrkdwn
from hr.audit import service as audit
from hr.migrate import current_revision, head_revision
from hr.settings import Settings
from retrieval import store as retrieval_store

if TYPE_CHECKING:
    from workers.sync import Syncer

log = logging.getLogger(__name__)

Embedder = Callable[[list[str]], list[list[float]]]

USAGE_TEXT = (
    "Usage:\n"
    "• `/hr-admin status`: database, sources and audit log\n"
    "• `/hr-admin reindex [source]`: read a source again from scratch (every source when none is named)\n"
    "• `/hr-admin audit [@user] [since YYYY-MM-DD]`: the latest audit entries"
)
REFUSED_TEXT = "Sorry, `/hr-admin` is only for hrbot admins."
ERROR_TEXT = "Sorry, that admin command failed; the details are in the bot's log."
AUDIT_LIMIT = 15
QUESTION_EXCERPT = 80

_MENTION = re.compile(r"^<@([A-Z0-9]+)(?:\|[^>]*)?>$")
_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{6,}$")


def default_embedder(settings: Settings) -> Embedder:
    from retrieval.ingest import embedder_from_settings

    return embedder_from_settings(settings)


def register(app: App, deps: Deps) -> Admin:
    """Register ``/hr-admin`` on ``app``."""
    admin = Admin(deps, app.client)

    @app.command("/hr-admin")
    def hr_admin(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        admin.on_command(ack, command, respond)

    return admin


class Admin:
    """The ``/hr-admin`` command; one per app. ``embedder`` builds the ingest's embedder (loaded
    once, on the first reindex)."""

    def __init__(
        self, deps: Deps, client: WebClient, *, embedder: Callable[[Settings], Embedder] | None = None
    ) -> None:
        self.deps = deps
        self.client = client
        self._make_embedder = embedder
        self._lock = threading.Lock()
        self._sync: Syncer | None = None

    # --- access ----------------------------------------------------------------------------------

    def is_admin(self, user: str) -> bool:
        settings = self.deps.settings
        if user and user in settings.slack_admin_user_ids:
            return True
        group = settings.slack_admin_usergroup
        if not user or not group:
            return False
        try:
            members = self.client.usergroups_users_list(usergroup=group).get("users") or []
        except SlackApiError as exc:
            log.warning("usergroups.users.list failed", extra={"usergroup": group, "error": _error(exc)})
            return False
        return user in members

    # --- the command -----------------------------------------------------------------------------

    def on_command(self, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()
        user = str(command.get("user_id", ""))
        words = str(command.get("text", "")).split()
        if not self.is_admin(user):
            log.warning("hr-admin refused", extra={"slack_user_id": user})
            respond(response_type="ephemeral", text=REFUSED_TEXT)
            return
        sub, args = (words[0].lower(), words[1:]) if words else ("", [])
        log.info("hr-admin", extra={"slack_user_id": user, "subcommand": sub})
        try:
            if sub == "status":
                text = self.status()
            elif sub == "reindex":
                text = self.reindex(args[0] if args else None, user)
            elif sub == "audit":
                text = self.audit(args)
            else:
                text = USAGE_TEXT
        except Exception:
            log.exception("hr-admin failed", extra={"slack_user_id": user, "subcommand": sub})
            text = ERROR_TEXT
        respond(response_type="ephemeral", text=text)

    # --- status ----------------------------------------------------------------------------------

    def status(self) -> str:
        with self.deps.sessions() as session:
            bind = session.get_bind()
            engine = bind if isinstance(bind, Engine) else bind.engine
            current, head = current_revision(engine), head_revision(engine)
            sources = retrieval_store.source_stats(session)
            report = audit.verify(session=session)
            from workers import store as sync_store

            ids = {s.name: s.id for s in sync_store.list_sources(session)}
            last = sync_store.last_runs(session)
        lines = [f"*Database revision*: `{current or '(empty)'}`" + ("" if current == head else f" (code: `{head}`)")]
        lines.append("*Sources*")
        if not sources:
            lines.append("• none yet: ingest policies with `hrbot ingest` or `/hr-admin reindex`")
        for s in sources:
            when = _when(s.last_ingest) if s.last_ingest else "never"
            line = f"• `{safe_mrkdwn(s.name)}`: {s.documents} documents, {s.chunks} chunks, last ingest {when}"
            run = last.get(ids.get(s.name, -1))
            if run is not None:
                line += f"; last sync {_when(run.started_at)} {run.status}"
                line += f" ({len(run.errors)} problem(s))" if run.errors else ""
            lines.append(line)
        verdict = "OK" if not report.problems else f"{len(report.problems)} problem(s), run `hrbot audit verify`"
        lines.append(f"*Audit log*: {report.checked} entries; verify: {verdict}")
        return "\n".join(lines)

    # --- reindex ---------------------------------------------------------------------------------

    def reindex(self, source: str | None, user: str) -> str:
        """Start a full sync of ``source`` (every source when ``None``): on the Celery workers when
        ``HRBOT_REDIS_URL`` is set, else on a thread of the bot. A message in the admin's DM says it
        started and is updated with the result; the immediate reply says what started or why not."""
        from workers import store as sync_store

        with self.deps.sessions() as session:
            sources = [(s.id, s.name) for s in sync_store.list_sources(session)]
        chosen = [(i, n) for i, n in sources if source is None or n == source]
        if not chosen:
            known = ", ".join(f"`{safe_mrkdwn(n)}`" for _, n in sources) or "none"
            return f"Unknown source `{safe_mrkdwn(source or '')}`. Known sources: {known}."
        names = [n for _, n in chosen]
        on_workers = self.deps.settings.redis_url is not None
        notify = reports.post_queued(self.client, user, names, on_workers=on_workers)
        if on_workers:
            from workers.dispatch import enqueue_reindex

            enqueue_reindex(self.deps.settings, [i for i, _ in chosen], trigger="admin", notify=notify)
        else:
            thread = threading.Thread(target=self._run, args=(chosen, notify), daemon=True, name="reindex")
            thread.start()
        listed = ", ".join(f"`{safe_mrkdwn(n)}`" for n in names)
        return f"Reindexing {listed}; I'll update the message in our DM when it's done."

    def _run(self, chosen: list[tuple[int, str]], notify: dict[str, str]) -> None:
        results: list[dict[str, Any]] = []
        for source_id, name in chosen:
            try:
                results.append(self._syncer().sync(source_id, trigger="admin", full=True).as_dict())
            except Exception as exc:
                log.exception("reindex failed", extra={"source": name})
                results.append({"source": name, "status": "failed", "errors": [f"{type(exc).__name__}: {exc}"]})
        try:
            reports.update_message(self.client, notify, results)
        except SlackApiError as exc:
            log.warning("reindex result not sent", extra={"slack_user_id": notify["user"], "error": _error(exc)})

    def _syncer(self) -> Syncer:
        from workers.sync import Syncer

        with self._lock:
            if self._sync is None:
                bind = self.deps.sessions.kw["bind"]
                self._sync = Syncer(
                    self.deps.settings,
                    bind,
                    self.deps.sessions,
                    embed_factory=lambda: (self._make_embedder or default_embedder)(self.deps.settings),
                )
            return self._sync

    # --- audit -----------------------------------------------------------------------------------

    def audit(self, args: list[str]) -> str:
        user: str | None = None
        since: datetime | None = None
        for arg in args:
            mention = _MENTION.match(arg)
            if mention:
                user = mention.group(1)
            elif "@" in arg:
                user = arg.strip("<>").removeprefix("mailto:").split("|")[0]
            elif arg.lower() == "since":
                continue
            elif _SLACK_ID.match(arg):
                user = arg
            else:
                try:
                    since = datetime.combine(date.fromisoformat(arg), datetime.min.time(), tzinfo=UTC)
                except ValueError:
                    hint = f"I can't read `{safe_mrkdwn(arg)}`: give a user (`@name`) or a date (YYYY-MM-DD)."
                    return hint + "\n" + USAGE_TEXT
        with self.deps.sessions() as session:
            entries = audit.list_entries(session=session, since=since, user=user, limit=AUDIT_LIMIT)
        if not entries:
            return "No audit entries match."
        lines = [f"*Latest {len(entries)} audit {'entry' if len(entries) == 1 else 'entries'}* (newest first)"]
        for e in entries:
            who = f"<@{e.platform_user_id}>" if e.surface == "slack" and e.platform_user_id else None
            who = who or safe_mrkdwn(e.employee_email or e.platform_user_id or "unknown")
            question = " ".join(e.question.split())
            if len(question) > QUESTION_EXCERPT:
                question = question[: QUESTION_EXCERPT - 1] + "…"
            lines.append(f"• #{e.id} {_when(e.created_at)} {who} _{e.kind}_: {safe_mrkdwn(question)}")
        return "\n".join(lines)


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "")) if exc.response is not None else str(exc)
