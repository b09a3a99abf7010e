"""The V8 API as a change source, for deployments that give the bridge no SQL.

:class:`ApiReader` answers the questions the engine asks of SuiteCRM's database
(changed rows after a keyset, the newest keyset, names of records and users)
through the one V8 client, so :func:`~dscrm_bridge.sync.engine.sync_once` runs
unchanged over it.  What the API cannot do shapes what it sees:

- Q16: datetimes come back cut to the minute, so keysets hold minutes; every
  read asks ``date_modified >= <that minute>`` (Q18: ``gte`` and de-duplicate)
  and the records' snapshots make the re-read harmless.
- Q30: deleted records are invisible; :func:`reconcile_deletes` lists the ids
  SuiteCRM still has and tells a delete for every mirrored record missing.
- Link tables and security-group rows are not readable: only records' own
  create / update / delete (and the relates of their parent fields) are told.

NOTE: the API pages by offset; a record saved while the pages are read moves
to the end and can push another past a page boundary.  The overlap window of
the next run catches it only when its ``date_modified`` is within the window.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from dscrm_bridge.errors import NotFoundError, SyncError
from dscrm_bridge.feed import FeedAction, FeedChange, FeedStore
from dscrm_bridge.feed.store import Fence, SnapshotRow, utc_now
from dscrm_bridge.i18n import _
from dscrm_bridge.suitecrm.gateway import (
    MODULE_TABLES,
    Keyset,
    RecordInfo,
    compose_person_name,
    record_name,
)
from dscrm_bridge.suitecrm.v8client import V8Client, parse_datetime

logger = logging.getLogger(__name__)

# Refuse a reconciliation that would delete more than this share of the
# mirrored records: an API user that cannot see them all (ACL) must not turn
# into a wave of deletes.
MAX_DELETE_SHARE = 0.5
_MIN_GUARDED = 10
_PAGE_SIZE = 100


class ApiReader:
    """SuiteCRM's changed records through the V8 API, shaped like SQL rows."""

    reads_links = False

    def __init__(self, client: V8Client, *, page_size: int = _PAGE_SIZE) -> None:
        self.client = client
        self.page_size = page_size
        self._modules = {table.name: module for module, table in MODULE_TABLES.items()}
        self._users: dict[str, str] = {}

    def last_keyset(self, table: sa.Table) -> Keyset | None:
        """The newest (date_modified, id) of the module; None when it is empty."""
        page = self.client.list(
            self._module(table),
            fields=["date_modified"],
            sort="-date_modified",
            page_size=1,
            page_number=1,
        )
        if not page.records:
            return None
        row = self._row(table, page.records[0])
        return Keyset(row["date_modified"], row["id"])

    def count_after(self, table: sa.Table, after: Keyset | None) -> int | None:
        # Q27/Q28: module lists give no trustworthy count.
        return None

    def changed_rows(
        self, table: sa.Table, *, after: Keyset | None, limit: int
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` records after ``after`` by (date_modified, id)."""
        module = self._module(table)
        filters = None
        if after is not None:
            minute = after.date_modified.replace(second=0, microsecond=0)
            filters = {"date_modified": {"gte": minute.replace(tzinfo=UTC)}}
        found: list[dict[str, Any]] = []
        boundary: datetime | None = None
        for record in self.client.iter_records(
            module, filters=filters, sort="date_modified", page_size=self.page_size
        ):
            row = self._row(table, record)
            if row["date_modified"] is None:
                continue
            # Server order is by date_modified: once a minute past the batch's
            # last row begins, nothing that sorts before it can follow.
            if boundary is not None and _minute(row) > boundary:
                break
            if after is None or _key(row) > (after.date_modified, after.id):
                found.append(row)
            if boundary is None and len(found) >= limit:
                boundary = _minute(sorted(found, key=_key)[limit - 1])
        found.sort(key=_key)
        return found[:limit]

    def records(self, module: str, ids: Iterable[str | None]) -> dict[str, RecordInfo]:
        """Name and last change of records by id; missing ones are left out."""
        found: dict[str, RecordInfo] = {}
        if module not in MODULE_TABLES:
            return found
        for record_id in sorted({i for i in ids if i}):
            try:
                record = self.client.get(module, record_id)
            except NotFoundError:
                continue
            found[record_id] = RecordInfo(
                name=record_name(module, _plain(record.attributes)),
                modified_user_id=record.get("modified_user_id") or None,
                date_modified=_naive(parse_datetime(record.get("date_modified"))),
            )
        return found

    def user_names(self, user_ids: Iterable[str | None]) -> dict[str, str]:
        """Users' names, composed as the SQL path composes them (not Q15's)."""
        wanted = {i for i in user_ids if i}
        for user_id in wanted - set(self._users):
            try:
                user = self.client.get("Users", user_id)
            except NotFoundError:
                continue
            self._users[user_id] = compose_person_name(
                user.get("first_name"), user.get("last_name")
            ) or str(user.get("user_name") or user.get("full_name") or user_id)
        return {uid: name for uid, name in self._users.items() if uid in wanted}

    def _module(self, table: sa.Table) -> str:
        return self._modules[table.name]

    def _row(self, table: sa.Table, record: Any) -> dict[str, Any]:
        """The record as its table's row: datetimes naive UTC, "" as None (Q12)."""
        attributes = _plain(record.attributes)
        row: dict[str, Any] = {name: None for name in table.c.keys()}
        for name, column in table.c.items():
            value = attributes.get(name)
            if isinstance(column.type, sa.DateTime) and value:
                value = _naive(parse_datetime(value))
            row[name] = value
        row["id"] = record.id
        row["deleted"] = 0  # Q30: the API never lists a deleted record
        return row


def reconcile_deletes(
    client: V8Client,
    store: FeedStore,
    *,
    modules: Iterable[str],
    fence: Fence | None = None,
) -> dict[str, int]:
    """Tell a delete for each mirrored record SuiteCRM no longer lists.

    Q30: the API shows neither deleted records nor a list of deletions, so the
    ids SuiteCRM lists are compared with the records the feed mirrors.  The
    API user must see every record of ``modules`` (an admin): a record hidden
    by ACL looks deleted.  Returns deletes told, by module.

    Raises:
        SyncError: more than half of a module's mirrored records would be
            deleted at once (an API user that sees too little); nothing written.
    """
    told: dict[str, int] = {}
    for module in modules:
        table = MODULE_TABLES[module]
        mirrored = store.live_record_ids(table.name)
        if not mirrored:
            store.record_run(table.name, rows=0, reconciled=True)
            told[module] = 0
            continue
        listed = {
            record.id
            for record in client.iter_records(
                module, fields=["date_modified"], page_size=_PAGE_SIZE
            )
        }
        gone = sorted(mirrored - listed)
        _check_share(module, len(gone), len(mirrored))
        snapshots = store.snapshots(table.name, gone)
        now = utc_now()
        changes = [
            FeedChange(
                change_key=f"{module}:{record_id}:delete",
                module=module,
                record_id=record_id,
                record_name=record_name(module, snapshots[record_id].fields),
                action=FeedAction.DELETE,
                actor_id=None,
                actor_name="",
                occurred_at=now,
            )
            for record_id in gone
            if record_id in snapshots
        ]
        marked = {
            record_id: SnapshotRow(
                fields=snapshots[record_id].fields, date_modified=now, deleted=True
            )
            for record_id in gone
            if record_id in snapshots
        }
        store.append(changes, snapshots={table.name: marked}, fence=fence)
        store.record_run(table.name, rows=len(listed), reconciled=True)
        told[module] = len(changes)
        logger.info("%s: reconciled %d ids, %d deleted", module, len(listed), len(gone))
    return told


def _check_share(module: str, gone: int, mirrored: int) -> None:
    if mirrored >= _MIN_GUARDED and gone > mirrored * MAX_DELETE_SHARE:
        raise SyncError(
            _(
                "Reconciling {module} would delete {gone} of {mirrored} mirrored "
                "records; check that the API user sees every record (an admin), "
                "nothing was deleted"
            ).format(module=module, gone=gone, mirrored=mirrored)
        )


def _plain(attributes: Mapping[str, Any]) -> dict[str, Any]:
    # Q12: unset values come back as "".
    return {key: (None if value == "" else value) for key, value in attributes.items()}


def _naive(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _key(row: Mapping[str, Any]) -> tuple[datetime, str]:
    return (row["date_modified"], row["id"])


def _minute(row: Mapping[str, Any]) -> datetime:
    return row["date_modified"] - timedelta(seconds=row["date_modified"].second)
