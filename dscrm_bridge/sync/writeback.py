"""Write-back: feed entries also into SuiteCRM's ``sugarfeed`` table.

SuiteCRM's activity-stream dashlet reads ``sugarfeed``; SuiteCRM itself posts
there only for some modules and events (acl-notes 5, Q38: Contacts, Leads,
Opportunities and Cases created, an opportunity won, a lead converted, a case
closed - each while its ``config`` row ``sugarfeed.module_<Module>`` is 1).
The write-back posts every other entry, Accounts included, in SuiteCRM's own
row format, and leaves the native ones to SuiteCRM so that the dashlet shows
each change once.  Which events are native is data in
``mappings/feed_fields.yaml`` (``native_sugarfeed``).

Each entry is looked at once (``feed_entries.writeback``).  The sugarfeed row's
id is derived from the entry's change key, so a write-back interrupted between
SuiteCRM's commit and the bridge's mark writes nothing twice.  The sync never
reads ``sugarfeed``, so these rows cannot come back into the feed.

The first write-back run of a store marks the entries already there as
skipped: switching write-back on does not flood the dashlet with history.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dscrm_bridge.feed import FeedAction, FeedChange, FeedStore
from dscrm_bridge.feed.render import render_sugarfeed_text
from dscrm_bridge.feed.schema import WriteBack
from dscrm_bridge.feed.store import Fence
from dscrm_bridge.suitecrm import tables
from dscrm_bridge.suitecrm.gateway import (
    MODULE_TABLES,
    NAMED_ONLY,
    open_engine,
    translate_errors,
)
from dscrm_bridge.suitecrm.text import strip_tags
from dscrm_bridge.sync.snapshots import feed_fields

logger = logging.getLogger(__name__)

# The status row that tells whether write-back ever ran on this store.
WRITEBACK_SOURCE = "sugarfeed"
# Ids of the rows the bridge writes: uuid5 of the entry's change key.
SUGARFEED_NAMESPACE = uuid.UUID("6f1d8c2e-4b7a-5e39-9a0c-2d5e8b7f1c43")
_NAME_LENGTH = 255
_DESCRIPTION_LENGTH = 510


@dataclass
class WriteBackResult:
    written: int = 0
    skipped: int = 0


def write_back(
    suitecrm: str | sa.URL | Engine,
    store: FeedStore,
    *,
    language: str = "zh_CN",
    batch_size: int = 200,
    fence: Fence | None = None,
) -> WriteBackResult:
    """Post the entries not yet looked at into SuiteCRM's ``sugarfeed``.

    Raises:
        DatabaseError: either database failed; entries not marked are tried again.
    """
    engine = open_engine(suitecrm)
    result = WriteBackResult()
    if WRITEBACK_SOURCE not in store.status():
        result.skipped += store.skip_writeback_backlog()
        store.record_run(WRITEBACK_SOURCE, rows=0)
        logger.info(
            "write-back starts now; %d earlier entries left out", result.skipped
        )
        return result
    native = _native_modules(engine)
    while True:
        pending = store.pending_writeback(limit=batch_size)
        if not pending:
            break
        marks = _post(engine, pending, native=native, language=language)
        store.mark_writeback(marks, fence=fence)
        for state, _id in marks.values():
            if state is WriteBack.WRITTEN:
                result.written += 1
            else:
                result.skipped += 1
        if len(pending) < batch_size:
            break
    store.record_run(WRITEBACK_SOURCE, rows=result.written)
    logger.info(
        "write-back: %d rows posted, %d left to SuiteCRM or skipped",
        result.written,
        result.skipped,
    )
    return result


def sugarfeed_id(change: FeedChange) -> str:
    """The id of the sugarfeed row the bridge writes for ``change``."""
    return str(uuid.uuid5(SUGARFEED_NAMESPACE, change.change_key))


def is_native(change: FeedChange, native_modules: Collection[str]) -> bool:
    """Whether SuiteCRM posts ``change`` to sugarfeed by itself."""
    if change.module not in native_modules:
        return False
    rules: Mapping[str, object] = (
        feed_fields().native_sugarfeed.get(change.module) or {}
    )
    if change.action is FeedAction.CREATE:
        return bool(rules.get("create"))
    if change.action is not FeedAction.UPDATE:
        return False
    updates = rules.get("update") or {}
    assert isinstance(updates, Mapping)
    return any(
        item.new in (updates.get(item.field) or ()) for item in change.field_changes
    )


def sugarfeed_row(
    change: FeedChange, *, assigned_user_id: str | None, language: str
) -> dict[str, object]:
    """The row SuiteCRM would store for ``change`` (acl-notes 5, Row format)."""
    text = strip_tags(render_sugarfeed_text(change, language))
    name = "<b>{this.CREATED_BY}</b> " + text
    overflow = name[_NAME_LENGTH:][:_DESCRIPTION_LENGTH]
    return {
        "id": sugarfeed_id(change),
        "name": name[:_NAME_LENGTH],
        "description": overflow or None,
        "date_entered": change.occurred_at,
        "date_modified": change.occurred_at,
        "created_by": change.actor_id,
        "modified_user_id": change.actor_id,
        "assigned_user_id": assigned_user_id,
        "related_module": change.module,
        "related_id": change.record_id,
        "deleted": 0,
    }


def _post(
    engine: Engine,
    pending: list[tuple[int, FeedChange]],
    *,
    native: Collection[str],
    language: str,
) -> dict[int, tuple[WriteBack, str | None]]:
    marks: dict[int, tuple[WriteBack, str | None]] = {}
    wanted = []
    for entry_id, change in pending:
        if change.module in NAMED_ONLY or is_native(change, native):
            marks[entry_id] = (WriteBack.SKIPPED, None)
        else:
            wanted.append((entry_id, change))
    owners = _owners(engine, [change for _, change in wanted])
    rows = [
        sugarfeed_row(
            change,
            assigned_user_id=owners.get((change.module, change.record_id)),
            language=language,
        )
        for _, change in wanted
    ]
    with translate_errors(engine), engine.begin() as conn:
        held = set(
            conn.execute(
                sa.select(tables.sugarfeed.c.id).where(
                    tables.sugarfeed.c.id.in_([row["id"] for row in rows])
                )
            ).scalars()
        )
        fresh = [row for row in rows if row["id"] not in held]
        if fresh:
            conn.execute(tables.sugarfeed.insert(), fresh)
    for (entry_id, _change), row in zip(wanted, rows, strict=True):
        marks[entry_id] = (WriteBack.WRITTEN, str(row["id"]))
    return marks


def _owners(engine: Engine, changes: list[FeedChange]) -> dict[tuple[str, str], str]:
    # acl-notes 5: the row's assigned_user_id is the record's.
    by_module: dict[str, set[str]] = {}
    for change in changes:
        if change.module in MODULE_TABLES:
            by_module.setdefault(change.module, set()).add(change.record_id)
    owners: dict[tuple[str, str], str] = {}
    with translate_errors(engine), engine.connect() as conn:
        for module, ids in by_module.items():
            table = MODULE_TABLES[module]
            query = sa.select(table.c.id, table.c.assigned_user_id).where(
                table.c.id.in_(sorted(ids))
            )
            for row in conn.execute(query):
                if row.assigned_user_id:
                    owners[(module, row.id)] = row.assigned_user_id
    return owners


def _native_modules(engine: Engine) -> set[str]:
    """Modules whose feed SuiteCRM's config switches on (Q38)."""
    config = tables.config
    query = sa.select(config.c.name, config.c.value).where(
        config.c.category == "sugarfeed"
    )
    with translate_errors(engine), engine.connect() as conn:
        rows = conn.execute(query).all()
    settings = {row.name: str(row.value or "").strip() for row in rows}
    if settings.get("enabled", "1") != "1":
        return set()
    return {
        name.removeprefix("module_")
        for name, value in settings.items()
        if name.startswith("module_") and value == "1"
    }
