"""The feed store: the bridge's own database of feed entries and sync state.

Entries are appended exactly once (a unique ``change_key``) and read newest
first.  Cursors, record snapshots and backfill progress move only inside the
transaction that appends the entries they cover, so a failed run leaves all of
them untouched; a ``fence`` checked in that transaction (the runner's lease)
refuses the write of a runner that lost its job.  The tables come from the
migrations (:mod:`dscrm_bridge.feed.migrate`); the store never creates them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping

from dscrm_bridge.errors import DatabaseError
from dscrm_bridge.feed.entry import FeedChange, FieldChange
from dscrm_bridge.feed.migrate import pending
from dscrm_bridge.feed.render import render_text
from dscrm_bridge.feed.schema import (
    FeedAction,
    WriteBack,
    feed_entries,
    record_snapshots,
    sync_cursors,
    sync_status,
)
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


Fence = Callable[[Connection], None]

# Writes of one batch tried when another writer keeps recording its changes.
_APPEND_ATTEMPTS = 3


class DuplicateEntry(Exception):
    """Inside :meth:`FeedStore.append`: a change key was inserted by another writer."""


@dataclass(frozen=True)
class SnapshotRow:
    """A mirrored record as last seen: its fields worth comparing, as text."""

    fields: Mapping[str, str | None]
    date_modified: datetime | None
    deleted: bool = False


@dataclass(frozen=True)
class Backfill:
    """Where a backfill from ``since`` got to, for progress and for resuming."""

    since: datetime
    position: Keyset | None
    done: int
    total: int | None
    started_at: datetime


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
        snapshots: Mapping[str, Mapping[str, SnapshotRow]] | None = None,
        backfills: Mapping[str, Backfill | None] | None = None,
        rows_read: Mapping[str, int] | None = None,
        floors: Mapping[str, Keyset | None] | None = None,
        fence: Fence | None = None,
    ) -> list[FeedChange]:
        """Append the changes not yet held and move the sync state, in one transaction.

        Args:
            changes: entries to append; a key already held is skipped.
            cursors: new cursor per source.
            snapshots: per source, the records' snapshots to keep.
            backfills: per source, the backfill's progress (None: finished).
            rows_read: per source, rows read for this write (status totals).
            floors: per source, the row it starts after (rows up to it are
                never told).
            fence: called first inside the transaction; raises to refuse it.

        Returns the changes actually appended, in the order given.  A change
        another writer recorded between the check and the insert (a race on
        ``change_key``) counts as already recorded: the write is retried.
        """
        for attempt in range(_APPEND_ATTEMPTS):
            try:
                return self._append(
                    changes,
                    cursors=cursors,
                    snapshots=snapshots,
                    backfills=backfills,
                    rows_read=rows_read,
                    floors=floors,
                    fence=fence,
                )
            except DuplicateEntry as exc:
                if attempt + 1 == _APPEND_ATTEMPTS:
                    cause = exc.__cause__
                    assert isinstance(cause, sa.exc.SQLAlchemyError)
                    raise self._database_error(cause) from cause
                logger.info("a change was recorded meanwhile; writing the batch again")
        raise AssertionError("unreachable")

    def _append(
        self,
        changes: Iterable[FeedChange],
        *,
        cursors: Mapping[str, Keyset | None] | None,
        snapshots: Mapping[str, Mapping[str, SnapshotRow]] | None,
        backfills: Mapping[str, Backfill | None] | None,
        rows_read: Mapping[str, int] | None,
        floors: Mapping[str, Keyset | None] | None,
        fence: Fence | None,
    ) -> list[FeedChange]:
        changes = list(changes)
        now = utc_now()
        with self._connect() as conn:
            try:
                with conn.begin():
                    if fence is not None:
                        fence(conn)
                    fresh = _unseen(conn, changes)
                    if fresh:
                        conn.execute(
                            feed_entries.insert(),
                            [_entry_row(c, now=now) for c in fresh],
                        )
                    _save_state(
                        conn,
                        now=now,
                        cursors=cursors,
                        snapshots=snapshots,
                        backfills=backfills,
                        rows_read=rows_read,
                        floors=floors,
                    )
            except sa.exc.IntegrityError as exc:
                # Another writer inserted a key between the check and the
                # insert; the transaction rolled back.
                raise DuplicateEntry() from exc
        logger.debug("appended %d feed entries", len(fresh))
        return fresh

    def held_keys(self, change_keys: Iterable[str]) -> set[str]:
        """Which of ``change_keys`` the feed already holds."""
        wanted = sorted(set(change_keys))
        if not wanted:
            return set()
        with self._connect() as conn:
            return _held(conn, wanted)

    def snapshots(
        self, source: str, record_ids: Iterable[str]
    ) -> dict[str, SnapshotRow]:
        """The kept snapshots of ``record_ids`` in ``source`` (missing: never seen)."""
        wanted = sorted(set(record_ids))
        found: dict[str, SnapshotRow] = {}
        with self._connect() as conn:
            for start in range(0, len(wanted), _KEYS_PER_QUERY):
                chunk = wanted[start : start + _KEYS_PER_QUERY]
                query = sa.select(record_snapshots).where(
                    record_snapshots.c.source == source,
                    record_snapshots.c.record_id.in_(chunk),
                )
                for row in conn.execute(query).mappings():
                    found[row["record_id"]] = _snapshot_row(row)
        return found

    def floors(self) -> dict[str, Keyset]:
        """Per source, the row it started after (sources with a floor only)."""
        query = sa.select(
            sync_status.c.source, sync_status.c.floor_modified, sync_status.c.floor_id
        ).where(sync_status.c.floor_modified.is_not(None))
        with self._connect() as conn:
            return {
                row.source: Keyset(row.floor_modified, row.floor_id or "")
                for row in conn.execute(query)
            }

    def live_record_ids(self, source: str) -> set[str]:
        """Ids of the records of ``source`` mirrored and not deleted."""
        query = sa.select(record_snapshots.c.record_id).where(
            record_snapshots.c.source == source,
            record_snapshots.c.deleted == sa.false(),
        )
        with self._connect() as conn:
            return set(conn.execute(query).scalars())

    def backfill(self, source: str) -> Backfill | None:
        """The unfinished backfill of ``source``, if any."""
        with self._connect() as conn:
            row = (
                conn.execute(
                    sa.select(sync_status).where(sync_status.c.source == source)
                )
                .mappings()
                .first()
            )
        if row is None or row["backfill_since"] is None:
            return None
        position = None
        if row["backfill_last_modified"] is not None:
            position = Keyset(
                row["backfill_last_modified"], row["backfill_last_id"] or ""
            )
        return Backfill(
            since=row["backfill_since"],
            position=position,
            done=int(row["backfill_done"] or 0),
            total=row["backfill_total"],
            started_at=row["backfill_started_at"] or utc_now(),
        )

    def record_run(
        self,
        source: str,
        *,
        rows: int,
        error: str | None = None,
        reconciled: bool = False,
    ) -> None:
        """Note that a run of ``source`` ended: its rows, or the error it met."""
        self.record_runs({source: (rows, error)}, reconciled=reconciled)

    def record_runs(
        self, runs: Mapping[str, tuple[int, str | None]], *, reconciled: bool = False
    ) -> None:
        """:meth:`record_run` for several sources in one transaction."""
        now = utc_now()
        with self._connect() as conn, conn.begin():
            for source, (rows, error) in runs.items():
                values: dict[str, Any] = {"last_run_at": now, "last_rows": rows}
                if error is None:
                    values.update(
                        last_success_at=now, last_error=None, last_error_at=None
                    )
                else:
                    values.update(last_error=error[:2000], last_error_at=now)
                if reconciled:
                    values["reconciled_at"] = now
                _save_status(conn, source, values)

    def status(self) -> dict[str, dict[str, Any]]:
        """Per source: cursor and status columns (see ``sync_status``)."""
        with self._connect() as conn:
            cursor_rows = conn.execute(sa.select(sync_cursors)).mappings().all()
            status_rows = conn.execute(sa.select(sync_status)).mappings().all()
        found: dict[str, dict[str, Any]] = {
            row["source"]: {"cursor": _keyset(row)} for row in cursor_rows
        }
        for row in status_rows:
            found.setdefault(row["source"], {"cursor": None}).update(
                {key: value for key, value in row.items() if key != "source"}
            )
        return found

    def pending_writeback(self, *, limit: int) -> list[tuple[int, FeedChange]]:
        """Entries not yet looked at by the write-back, oldest first."""
        query = (
            sa.select(feed_entries)
            .where(feed_entries.c.writeback.is_(None))
            .order_by(feed_entries.c.id)
            .limit(limit)
        )
        with self._connect() as conn:
            return [
                (row["id"], _change_of(row)) for row in conn.execute(query).mappings()
            ]

    def mark_writeback(
        self,
        marks: Mapping[int, tuple[WriteBack, str | None]],
        *,
        fence: Fence | None = None,
    ) -> None:
        """Record what the write-back did with each entry id."""
        with self._connect() as conn, conn.begin():
            if fence is not None:
                fence(conn)
            for entry_id, (state, sugarfeed_id) in marks.items():
                conn.execute(
                    feed_entries.update()
                    .where(feed_entries.c.id == entry_id)
                    .values(writeback=state.value, sugarfeed_id=sugarfeed_id)
                )

    def skip_writeback_backlog(self) -> int:
        """Mark every entry not yet looked at as skipped; returns how many."""
        with self._connect() as conn, conn.begin():
            result = conn.execute(
                feed_entries.update()
                .where(feed_entries.c.writeback.is_(None))
                .values(writeback=WriteBack.SKIPPED.value)
            )
        return int(result.rowcount or 0)

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
        "changes": _field_changes_of(row),
    }


def _unseen(conn: Connection, changes: Iterable[FeedChange]) -> list[FeedChange]:
    by_key: dict[str, FeedChange] = {}
    for change in changes:
        by_key.setdefault(change.change_key, change)
    for held in _held(conn, list(by_key)):
        by_key.pop(held, None)
    return list(by_key.values())


def _held(conn: Connection, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), _KEYS_PER_QUERY):
        chunk = keys[start : start + _KEYS_PER_QUERY]
        query = sa.select(feed_entries.c.change_key).where(
            feed_entries.c.change_key.in_(chunk)
        )
        found.update(conn.execute(query).scalars())
    return found


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
        "field_changes": (
            json.dumps(
                [item.as_dict() for item in change.field_changes], ensure_ascii=False
            )
            if change.field_changes
            else None
        ),
    }


def _field_changes_of(row: RowMapping) -> list[dict[str, Any]]:
    stored = row.get("field_changes")
    return list(json.loads(stored)) if stored else []


def _change_of(row: RowMapping) -> FeedChange:
    return FeedChange(
        change_key=row["change_key"],
        module=row["module"],
        record_id=row["record_id"],
        record_name=row["record_name"],
        action=FeedAction(row["action"]),
        actor_id=row["actor_id"],
        actor_name=row["actor_name"],
        occurred_at=row["occurred_at"],
        related_module=row["related_module"],
        related_id=row["related_id"],
        related_name=row["related_name"],
        field_changes=tuple(FieldChange.from_dict(d) for d in _field_changes_of(row)),
    )


def _snapshot_row(row: RowMapping) -> SnapshotRow:
    return SnapshotRow(
        fields=json.loads(row["fields"]),
        date_modified=row["date_modified"],
        deleted=bool(row["deleted"]),
    )


def _save_state(
    conn: Connection,
    *,
    now: datetime,
    cursors: Mapping[str, Keyset | None] | None,
    snapshots: Mapping[str, Mapping[str, SnapshotRow]] | None,
    backfills: Mapping[str, Backfill | None] | None,
    rows_read: Mapping[str, int] | None,
    floors: Mapping[str, Keyset | None] | None,
) -> None:
    for source, keyset in (cursors or {}).items():
        _save_cursor(conn, source, keyset, now=now)
    for source, records in (snapshots or {}).items():
        _save_snapshots(conn, source, records, now=now)
    for source, backfill in (backfills or {}).items():
        _save_status(conn, source, _backfill_values(backfill))
    for source, count in (rows_read or {}).items():
        _add_rows(conn, source, count)
    for source, floor in (floors or {}).items():
        _save_status(
            conn,
            source,
            {
                "floor_modified": floor.date_modified if floor else None,
                "floor_id": floor.id if floor else None,
            },
        )


def _save_snapshots(
    conn: Connection, source: str, records: Mapping[str, SnapshotRow], *, now: datetime
) -> None:
    # Delete and insert: the same statements on MySQL and SQLite, inside the
    # caller's transaction.
    ids = list(records)
    for start in range(0, len(ids), _KEYS_PER_QUERY):
        chunk = ids[start : start + _KEYS_PER_QUERY]
        conn.execute(
            record_snapshots.delete().where(
                record_snapshots.c.source == source,
                record_snapshots.c.record_id.in_(chunk),
            )
        )
    if ids:
        conn.execute(
            record_snapshots.insert(),
            [
                {
                    "source": source,
                    "record_id": record_id,
                    "fields": json.dumps(
                        dict(snap.fields), ensure_ascii=False, sort_keys=True
                    ),
                    "date_modified": snap.date_modified,
                    "deleted": snap.deleted,
                    "updated_at": now,
                }
                for record_id, snap in records.items()
            ],
        )


def _backfill_values(backfill: Backfill | None) -> dict[str, Any]:
    if backfill is None:
        return dict.fromkeys(
            (
                "backfill_since",
                "backfill_last_modified",
                "backfill_last_id",
                "backfill_total",
                "backfill_done",
                "backfill_started_at",
            )
        )
    return {
        "backfill_since": backfill.since,
        "backfill_last_modified": backfill.position.date_modified
        if backfill.position
        else None,
        "backfill_last_id": backfill.position.id if backfill.position else None,
        "backfill_total": backfill.total,
        "backfill_done": backfill.done,
        "backfill_started_at": backfill.started_at,
    }


def _save_status(conn: Connection, source: str, values: Mapping[str, Any]) -> None:
    updated = conn.execute(
        sync_status.update().where(sync_status.c.source == source).values(**values)
    )
    if updated.rowcount == 0:
        conn.execute(sync_status.insert().values(source=source, **values))


def _add_rows(conn: Connection, source: str, count: int) -> None:
    updated = conn.execute(
        sync_status.update()
        .where(sync_status.c.source == source)
        .values(total_rows=sync_status.c.total_rows + count)
    )
    if updated.rowcount == 0:
        conn.execute(sync_status.insert().values(source=source, total_rows=count))


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
