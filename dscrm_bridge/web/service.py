"""The feed's web service without HTTP: what the API routes and the page call.

One :class:`FeedService` per process holds the two databases (the bridge's own
and SuiteCRM's, read for users, groups and ACL), the login check and the
counters.  Every read is for a :class:`~dscrm_bridge.web.auth.Viewer` and shows
only entries whose record SuiteCRM lets that viewer view; an entry shown always
comes with all of its replies.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping

from dscrm_bridge.errors import BridgeError, DatabaseError, InputError, NotFoundError
from dscrm_bridge.feed import replies as reply_store
from dscrm_bridge.feed.migrate import current_revision, head_revision
from dscrm_bridge.feed.replies import Author
from dscrm_bridge.feed.schema import feed_entries, sync_cursors, sync_status
from dscrm_bridge.feed.store import utc_now
from dscrm_bridge.feed.timeline import (
    Cursor,
    FeedFilter,
    RecordCheck,
    read_entries,
    read_page,
    timeline_entry,
)
from dscrm_bridge.i18n import _
from dscrm_bridge.suitecrm import acl
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.suitecrm.gateway import compose_person_name, translate_errors
from dscrm_bridge.web.auth import (
    ClientFactory,
    LoginRefusedError,
    LoginThrottle,
    Session,
    SessionCodec,
    Viewer,
    end_session,
    load_viewer,
    session_live,
    store_session,
    token_user,
    verify_login,
)
from dscrm_bridge.web.visibility import (
    EntryVisibility,
    entry_visibility,
    group_record_ids,
)

logger = logging.getLogger(__name__)

MENTIONS_PAGE = 30
_RECENT_MAX = 10_000
T = TypeVar("T")


@dataclass(frozen=True)
class WebSettings:
    """What the web service is configured with (from the ``web`` section)."""

    session_secret: str
    page_size: int = 30
    session_max_age_s: int = 43200
    login_max_failures: int = 5
    login_window_s: int = 900
    # SuiteCRM's address as users open it, for links to records.
    suitecrm_url: str = ""
    language: str = "zh_CN"
    # Copy replies into SuiteCRM's sugarfeed under the entry's own row.
    writeback: bool = False
    modules: tuple[str, ...] = ()
    secure_cookies: bool = False
    # Rights are re-read from SuiteCRM after this many seconds; whether the user
    # is still active is read on every request.
    rights_ttl_s: float = 5.0


class _Recent(Generic[T]):
    """Values by key, each reused for ``ttl_s`` seconds after it was loaded.

    Users and rights are read from SuiteCRM; a few seconds of reuse saves those
    queries on every request while a change in SuiteCRM still applies promptly.
    """

    def __init__(self, ttl_s: float, *, clock: Callable[[], float] = time.monotonic):
        self._ttl_s = ttl_s
        self._clock = clock
        self._values: dict[str, tuple[float, T]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], T]) -> T:
        now = self._clock()
        with self._lock:
            held = self._values.get(key)
        if held is not None and now - held[0] < self._ttl_s:
            return held[1]
        value = load()
        with self._lock:
            if len(self._values) > _RECENT_MAX:
                self._values.clear()
            self._values[key] = (now, value)
        return value


@dataclass
class Metrics:
    """Counters for ``/metrics``; safe to bump from several threads."""

    entries_served: int = 0
    replies_posted: int = 0
    logins_failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, count: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + count)


class FeedService:
    """Timeline, entries, replies, mentions, logins; one instance per process."""

    def __init__(
        self,
        feed_engine: Engine,
        crm_engine: Engine,
        *,
        client_factory: ClientFactory,
        settings: WebSettings,
    ) -> None:
        self.feed_engine = feed_engine
        self.crm_engine = crm_engine
        self.settings = settings
        self.client_factory = client_factory
        self.sessions = SessionCodec(
            settings.session_secret, max_age_s=settings.session_max_age_s
        )
        self.throttle = LoginThrottle(
            feed_engine,
            max_failures=settings.login_max_failures,
            window_s=settings.login_window_s,
        )
        self.metrics = Metrics()
        self.modules = tuple(dict.fromkeys((*settings.modules, *acl.MODULE_TABLES)))
        self._rights: _Recent[EntryVisibility] = _Recent(settings.rights_ttl_s)

    # -- who is asking -----------------------------------------------------------

    def login(self, user_name: str, password: str, address: str) -> tuple[Viewer, str]:
        """Check the credentials with SuiteCRM; (viewer, session cookie value).

        Raises:
            TooManyAttemptsError: too many failures; nothing was sent to SuiteCRM.
            LoginRefusedError: SuiteCRM refused, or confirmed someone else (Q3).
        """
        user_name = user_name.strip()
        self.throttle.check(user_name, address)
        try:
            user_id = verify_login(self.client_factory, user_name, password)
            viewer = self.viewer(user_id)
            if viewer is None:
                raise _inactive()
        except BridgeError:
            self.throttle.record(user_name, address, succeeded=False)
            self.metrics.add("logins_failed")
            raise
        self.throttle.record(user_name, address, succeeded=True)
        session, cookie = self.sessions.new_session(viewer.id)
        with self._feed_tx() as conn:
            store_session(conn, session, max_age_s=self.settings.session_max_age_s)
        logger.info("user %s signed in to the feed", viewer.user_name)
        return viewer, cookie

    def viewer(self, user_id: str) -> Viewer | None:
        """The active SuiteCRM user ``user_id``; None once inactive or deleted.

        Read on every request (one primary-key lookup), so a user switched off
        in SuiteCRM loses the feed at once, whatever session or token they hold.
        """
        with self._crm() as crm:
            return load_viewer(crm, user_id)

    def session_viewer(self, cookie: str | None) -> tuple[Viewer, Session] | None:
        """Who a session cookie signs in: a live session of an active user."""
        session = self.sessions.read_session(cookie)
        if session is None:
            return None
        with self._feed() as conn:
            if not session_live(conn, session):
                return None
        viewer = self.viewer(session.user_id)
        return (viewer, session) if viewer else None

    def logout(self, session: Session) -> None:
        """End ``session`` on the server: its cookie no longer signs anyone in."""
        with self._feed_tx() as conn:
            end_session(conn, session)

    def token_viewer(self, token: str) -> Viewer | None:
        with self._feed_tx() as conn:
            user_id = token_user(conn, token)
        return self.viewer(user_id) if user_id else None

    # -- reading -------------------------------------------------------------------

    def timeline(
        self,
        viewer: Viewer,
        wanted: FeedFilter,
        *,
        group_id: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """A page of entries the viewer may see, each with its replies."""
        after = Cursor.decode(cursor) if cursor else None
        with self._crm() as crm:
            rights = self._visibility(crm, viewer)
            if group_id:
                wanted = _with_group(wanted, group_record_ids(crm, group_id))
            with self._feed() as conn:
                page = read_page(
                    conn,
                    wanted,
                    limit=limit or self.settings.page_size,
                    cursor=after,
                    modules_allowed=rights.modules_allowed(),
                    check=None if rights.sees_all else _checker(rights, crm),
                )
                entries = self._with_replies(conn, page.entries)
        self.metrics.add("entries_served", len(entries))
        return {"entries": entries, "next_cursor": page.next_cursor}

    def entry(self, viewer: Viewer, entry_id: int) -> dict[str, Any]:
        """One entry with its replies; NotFoundError when absent or not visible."""
        with self._feed() as conn:
            rows = read_entries(conn, [entry_id])
        visible = self._visible_rows(viewer, rows)
        if not visible:
            raise NotFoundError(
                _("Feed entry {id} does not exist or is not yours to see.").format(
                    id=entry_id
                )
            )
        with self._feed() as conn:
            entry = self._with_replies(conn, [timeline_entry(visible[0])])[0]
        self.metrics.add("entries_served")
        return entry

    def mentions(
        self, viewer: Viewer, *, before: int | None = None, limit: int = MENTIONS_PAGE
    ) -> dict[str, Any]:
        """Replies that mention the viewer (「@我」), newest first, with entries."""
        with self._feed() as conn:
            found = reply_store.mentions_of(
                conn, viewer.id, before_id=before, limit=limit
            )
            rows = read_entries(conn, {m["entry_id"] for m in found})
        shown = {row["id"]: row for row in self._visible_rows(viewer, rows)}
        with self._feed() as conn:
            entries = self._with_replies(
                conn, [timeline_entry(row) for row in shown.values()]
            )
        by_id = {entry["id"]: entry for entry in entries}
        items = []
        for mention in found:
            entry = by_id.get(mention["entry_id"])
            reply = _find_reply(entry, mention["reply_id"]) if entry else None
            if entry and reply:
                items.append({"id": mention["id"], "reply": reply, "entry": entry})
        more = len(found) == limit
        return {
            "mentions": items,
            "next_before": found[-1]["id"] if more and found else None,
        }

    # -- writing -------------------------------------------------------------------

    def reply(self, viewer: Viewer, entry_id: int, body: str) -> dict[str, Any]:
        """Post a reply under a visible entry; mentioned users are resolved."""
        entry = self.entry(viewer, entry_id)
        text = reply_store.check_reply_text(body)
        with self._crm() as crm:
            mentioned = resolve_mentions(crm, reply_store.mention_tokens(text))
        with self._feed_tx() as conn:
            reply = reply_store.add_reply(
                conn,
                entry_id,
                Author(viewer.id, viewer.name),
                text,
                mentioned=mentioned,
            )
        if self.settings.writeback:
            reply = self._write_back(entry, reply, viewer)
        self.metrics.add("replies_posted")
        return reply

    def _write_back(
        self, entry: dict[str, Any], reply: dict[str, Any], viewer: Viewer
    ) -> dict[str, Any]:
        parent = entry.get("sugarfeed_id")
        if not parent:
            # NOTE: only entries the bridge itself wrote to sugarfeed have a
            # parent row there; a reply to any other entry stays in the bridge.
            logger.debug("entry %s has no sugarfeed row; reply kept here", entry["id"])
            return reply
        with translate_errors(self.crm_engine), self.crm_engine.begin() as crm:
            feed_id = reply_store.write_reply_to_sugarfeed(
                crm, parent_feed_id=parent, author_id=viewer.id, body=reply["body"]
            )
        with self._feed_tx() as conn:
            reply_store.mark_written_back(conn, reply["id"], feed_id)
        return {**reply, "sugarfeed_id": feed_id}

    # -- health and metrics ----------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Whether both databases answer and the bridge's schema is current."""
        checks: dict[str, Any] = {}
        try:
            revision = current_revision(self.feed_engine)
            checks["feed_database"] = "ok"
            checks["schema"] = revision
            checks["schema_current"] = revision == head_revision()
        except DatabaseError as exc:
            checks["feed_database"] = str(exc)
        try:
            with self._crm() as crm:
                crm.execute(sa.select(sa.literal(1)))
            checks["suitecrm_database"] = "ok"
        except DatabaseError as exc:
            checks["suitecrm_database"] = str(exc)
        healthy = (
            checks.get("feed_database") == "ok"
            and checks.get("suitecrm_database") == "ok"
            and checks.get("schema_current") is True
        )
        return {"status": "ok" if healthy else "failing", **checks}

    def sync_lag_s(self) -> dict[str, float]:
        """Per sync source, seconds since its last successful run.

        A source the sync never ran to success is measured from its cursor.
        """
        now = utc_now()
        with self._feed() as conn:
            moved = dict(
                conn.execute(
                    sa.select(sync_cursors.c.source, sync_cursors.c.updated_at)
                ).all()
            )
            succeeded = dict(
                conn.execute(
                    sa.select(sync_status.c.source, sync_status.c.last_success_at)
                ).all()
            )
        stamps = {**moved, **{k: v for k, v in succeeded.items() if v is not None}}
        return {
            str(source): max(0.0, (now - stamp).total_seconds())
            for source, stamp in stamps.items()
            if stamp is not None
        }

    def metrics_text(self) -> str:
        """The counters and gauges in Prometheus' text format."""
        with self._feed() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(feed_entries)
            ).scalar_one()
            newest = conn.execute(sa.select(sa.func.max(feed_entries.c.occurred_at)))
            newest_at = newest.scalar()
        lines = [
            "# HELP dscrm_feed_entries_served_total Entries returned to readers.",
            "# TYPE dscrm_feed_entries_served_total counter",
            f"dscrm_feed_entries_served_total {self.metrics.entries_served}",
            "# HELP dscrm_feed_replies_posted_total Replies posted.",
            "# TYPE dscrm_feed_replies_posted_total counter",
            f"dscrm_feed_replies_posted_total {self.metrics.replies_posted}",
            "# HELP dscrm_web_logins_failed_total Logins refused.",
            "# TYPE dscrm_web_logins_failed_total counter",
            f"dscrm_web_logins_failed_total {self.metrics.logins_failed}",
            "# HELP dscrm_feed_entries Entries in the feed store.",
            "# TYPE dscrm_feed_entries gauge",
            f"dscrm_feed_entries {total}",
            "# HELP dscrm_sync_lag_seconds Seconds since a sync source last succeeded.",
            "# TYPE dscrm_sync_lag_seconds gauge",
        ]
        for source, lag in sorted(self.sync_lag_s().items()):
            label = _label(source)
            lines.append(f'dscrm_sync_lag_seconds{{source="{label}"}} {lag:.0f}')
        if newest_at is not None:
            age = (utc_now() - newest_at).total_seconds()
            lines += [
                "# HELP dscrm_feed_newest_entry_age_seconds Age of the newest entry.",
                "# TYPE dscrm_feed_newest_entry_age_seconds gauge",
                f"dscrm_feed_newest_entry_age_seconds {max(0.0, age):.0f}",
            ]
        return "\n".join(lines) + "\n"

    # -- people and groups for the page's filters --------------------------------------

    def people(self) -> list[dict[str, str]]:
        """Active users (id, user name, name), for filters and mentions."""
        with self._crm() as crm:
            return active_users(crm)

    def groups(self, viewer: Viewer) -> list[dict[str, str]]:
        """Security groups: all for an admin, else the viewer's own."""
        groups = t.securitygroups
        query = sa.select(groups.c.id, groups.c.name).where(groups.c.deleted == 0)
        if not viewer.is_admin:
            sgu = t.securitygroups_users
            query = query.where(
                groups.c.id.in_(
                    sa.select(sgu.c.securitygroup_id).where(
                        sgu.c.user_id == viewer.id, sgu.c.deleted == 0
                    )
                )
            )
        with self._crm() as crm:
            rows = crm.execute(query.order_by(groups.c.name)).all()
        return [{"id": str(row.id), "name": str(row.name or "")} for row in rows]

    # -- helpers ---------------------------------------------------------------------

    def _visibility(self, crm: Connection, viewer: Viewer) -> EntryVisibility:
        if viewer.is_admin:  # acl rule 1: admins bypass every check
            return EntryVisibility(user_id=viewer.id, is_admin=True)
        return self._rights.get(
            viewer.id, lambda: entry_visibility(crm, viewer.id, self.modules)
        )

    def _visible_rows(
        self, viewer: Viewer, rows: Sequence[RowMapping]
    ) -> list[RowMapping]:
        if not rows:
            return []
        with self._crm() as crm:
            rights = self._visibility(crm, viewer)
            allowed = rights.modules_allowed()
            candidates = [r for r in rows if allowed is None or r["module"] in allowed]
            seen = rights.check(crm, candidates)
        return [row for row in candidates if row["id"] in seen]

    def _with_replies(
        self, conn: Connection, entries: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        replies = reply_store.replies_for(conn, [entry["id"] for entry in entries])
        for entry in entries:
            entry["replies"] = replies.get(entry["id"], [])
            entry["record_url"] = self.record_url(entry["module"], entry["record_id"])
        return entries

    def record_url(self, module: str, record_id: str) -> str | None:
        base = self.settings.suitecrm_url.rstrip("/")
        if not base:
            return None
        params = {"module": module, "action": "DetailView", "record": record_id}
        return f"{base}/index.php?{urlencode(params)}"

    @contextmanager
    def _feed(self) -> Iterator[Connection]:
        with translate_errors(self.feed_engine), self.feed_engine.connect() as conn:
            yield conn

    @contextmanager
    def _feed_tx(self) -> Iterator[Connection]:
        with translate_errors(self.feed_engine), self.feed_engine.begin() as conn:
            yield conn

    @contextmanager
    def _crm(self) -> Iterator[Connection]:
        with translate_errors(self.crm_engine), self.crm_engine.connect() as conn:
            yield conn


def resolve_mentions(crm: Connection, tokens: Sequence[str]) -> list[Author]:
    """Users named by ``@`` words: a user name, or a person's name (张三)."""
    if not tokens:
        return []
    people = active_users(crm)
    by_login = {p["user_name"].casefold(): p for p in people if p["user_name"]}
    by_name = sorted(
        (p for p in people if p["name"]), key=lambda p: len(p["name"]), reverse=True
    )
    found: dict[str, Author] = {}
    for token in tokens:
        person = by_login.get(token.casefold())
        if person is None:
            # A Chinese name runs into the text after it (@张三请看): longest prefix.
            person = next((p for p in by_name if token.startswith(p["name"])), None)
        if person is not None:
            found.setdefault(person["id"], Author(person["id"], person["name"]))
    return list(found.values())


def active_users(crm: Connection) -> list[dict[str, str]]:
    users = t.users
    rows = crm.execute(
        sa.select(users.c.id, users.c.user_name, users.c.first_name, users.c.last_name)
        .where(
            sa.func.coalesce(users.c.deleted, 0) == 0,
            sa.func.coalesce(users.c.status, "Active") == "Active",
        )
        .order_by(users.c.user_name)
    ).all()
    return [
        {
            "id": str(row.id),
            "user_name": str(row.user_name or ""),
            "name": compose_person_name(row.first_name, row.last_name)
            or str(row.user_name or ""),
        }
        for row in rows
    ]


def _checker(rights: EntryVisibility, crm: Connection) -> RecordCheck:
    return lambda rows: rights.check(crm, rows)


def _with_group(wanted: FeedFilter, record_ids: tuple[str, ...]) -> FeedFilter:
    return replace(wanted, record_ids=record_ids)


def _find_reply(entry: dict[str, Any], reply_id: int) -> dict[str, Any] | None:
    return next((r for r in entry["replies"] if r["id"] == reply_id), None)


def _inactive() -> LoginRefusedError:
    return LoginRefusedError(_("This SuiteCRM user is not active."))


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def parse_time(value: str | None, name: str) -> datetime | None:
    """A filter bound as naive UTC: ISO 8601 (offset honoured) or a date."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(
            _(
                "{name}={value!r} is not a time; write it as 2026-12-01 or "
                "2026-12-01T08:30:00+08:00."
            ).format(name=name, value=value)
        ) from exc
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed
