"""The feed store: the bridge's own database of feed entries and sync cursors.

Entries are appended exactly once (a unique ``change_key``) and read newest
first.  Cursors move only inside the transaction that appends the entries they
cover, so a failed run leaves both untouched.  The tables come from the
migrations (:mod:`dscrm_bridge.feed.migrate`); the store never creates them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping

from dscrm_bridge.errors import DatabaseError
from dscrm_bridge.feed.entry import FeedChange
from dscrm_bridge.feed.migrate import pending
from dscrm_bridge.feed.render import render_text
from dscrm_bridge.feed.schema import FeedAction, feed_entries, sync_cursors
from dscrm_bridge.i18n import _
from dscrm_bridge.suitecrm.gateway import (
    Keyset,
    database_error,
    mask_url,
    open_engine,
)

logger = logging.getLogger(__name__)

# Keys looked up per query when checking which changes the store already holds.
_KEYS_PER_QUERY = 500


def utc_now() -> datetime:
    """Now as naive UTC, the way both databases store datetimes."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso_utc(value: datetime) -> str:
    """A naive-UTC datetime as ISO 8601 with an explicit ``+00:00``."""
    return value.replace(tzinfo=UTC).isoformat()


class FeedStore:
    """Appends and lists feed entries; keeps the sync cursors."""

    def __init__(self, url_or_engine: str | sa.URL | Engine) -> None:
        self.engine = open_engine(url_or_engine)

    def cursors(self) -> dict[str, Keyset | None]:
        """Every source's cursor; None for a source that was empty when it started.

        A source missing from the mapping was never synced.
        """
        with self._connect() as conn:
            rows = conn.execute(sa.select(sync_cursors)).mappings()
            return {row["source"]: _keyset(row) for row in rows}

    def append(
        self,
        changes: Iterable[FeedChange],
        *,
        cursors: Mapping[str, Keyset | None] | None = None,
    ) -> list[FeedChange]:
        """Append the changes not yet held and move ``cursors``, in one transaction.

        Returns the changes actually appended, in the order given.
        """
        now = utc_now()
        with self._connect() as conn, conn.begin():
            fresh = _unseen(conn, changes)
            if fresh:
                conn.execute(
                    feed_entries.insert(), [_entry_row(c, now=now) for c in fresh]
                )
            for source, keyset in (cursors or {}).items():
                _save_cursor(conn, source, keyset, now=now)
        logger.debug("appended %d feed entries", len(fresh))
        return fresh

    def list_entries(
        self,
        *,
        limit: int | None = None,
        offset: int = 0,
        module: str | None = None,
        record_id: str | None = None,
        action: FeedAction | None = None,
    ) -> list[dict[str, Any]]:
        """Entries newest first, each a JSON-friendly dict (see :func:`entry_dict`)."""
        query = sa.select(feed_entries).order_by(
            feed_entries.c.occurred_at.desc(), feed_entries.c.id.desc()
        )
        if module is not None:
            query = query.where(feed_entries.c.module == module)
        if record_id is not None:
            query = query.where(feed_entries.c.record_id == record_id)
        if action is not None:
            query = query.where(feed_entries.c.action == action.value)
        query = query.limit(limit).offset(offset or None)
        with self._connect() as conn:
            return [entry_dict(row) for row in conn.execute(query).mappings()]

    def count(self) -> int:
        """How many entries the store holds."""
        with self._connect() as conn:
            query = sa.select(sa.func.count()).select_from(feed_entries)
            return int(conn.execute(query).scalar_one())

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise self._database_error(exc) from exc

    def _database_error(self, exc: sa.exc.SQLAlchemyError) -> DatabaseError:
        try:
            not_migrated = pending(self.engine)
        except DatabaseError:
            not_migrated = False
        if not_migrated:
            return DatabaseError(
                _(
                    "The feed store at {url} is not at the current schema; "
                    "run `dscrm db upgrade` first"
                ).format(url=mask_url(self.engine))
            )
        return database_error(self.engine, exc)


def entry_dict(row: RowMapping) -> dict[str, Any]:
    """One stored entry as plain JSON types; ``occurred_at`` is ISO 8601 UTC."""
    return {
        "id": row["id"],
        "module": row["module"],
        "action": row["action"],
        "record_id": row["record_id"],
        "record_name": row["record_name"],
        "actor": row["actor_name"],
        "actor_id": row["actor_id"],
        "text_zh": row["text_zh"],
        "text_en": row["text_en"],
        "occurred_at": iso_utc(row["occurred_at"]),
        "related_module": row["related_module"],
        "related_id": row["related_id"],
        "related_name": row["related_name"],
    }


def _unseen(conn: Connection, changes: Iterable[FeedChange]) -> list[FeedChange]:
    by_key: dict[str, FeedChange] = {}
    for change in changes:
        by_key.setdefault(change.change_key, change)
    keys = list(by_key)
    for start in range(0, len(keys), _KEYS_PER_QUERY):
        chunk = keys[start : start + _KEYS_PER_QUERY]
        query = sa.select(feed_entries.c.change_key).where(
            feed_entries.c.change_key.in_(chunk)
        )
        for held in conn.execute(query).scalars():
            by_key.pop(held, None)
    return list(by_key.values())


def _entry_row(change: FeedChange, *, now: datetime) -> dict[str, Any]:
    return {
        "change_key": change.change_key,
        "module": change.module,
        "record_id": change.record_id,
        "record_name": change.record_name,
        "action": change.action.value,
        "actor_id": change.actor_id,
        "actor_name": change.actor_name,
        "occurred_at": change.occurred_at,
        "text_zh": render_text(change, "zh_CN"),
        "text_en": render_text(change, "en"),
        "related_module": change.related_module,
        "related_id": change.related_id,
        "related_name": change.related_name,
        "created_at": now,
    }


def _keyset(row: RowMapping) -> Keyset | None:
    if row["last_modified"] is None:
        return None
    return Keyset(row["last_modified"], row["last_id"])


def _save_cursor(
    conn: Connection, source: str, keyset: Keyset | None, *, now: datetime
) -> None:
    values = {
        "last_modified": keyset.date_modified if keyset else None,
        "last_id": keyset.id if keyset else "",
        "updated_at": now,
    }
    updated = conn.execute(
        sync_cursors.update().where(sync_cursors.c.source == source).values(values)
    )
    if updated.rowcount == 0:
        conn.execute(sync_cursors.insert().values(source=source, **values))
