"""Reading the feed page by page: keyset cursors, filters, a visibility check.

Entries come newest first, ordered by (``occurred_at``, ``id``) on the index
``ix_feed_entries_occurred``; a cursor is that pair of the last entry a page
looked at, so paging stays stable while the sync appends.  Filters that the
bridge's own table can answer go into SQL; whether a viewer may see an entry is
asked of SuiteCRM by a :data:`RecordCheck` on each batch, and a page scans at
most ``max_scan`` entries, so one request stays bounded even when a viewer sees
few of the entries (the page is then shorter and still carries a cursor).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from dscrm_bridge.errors import InputError
from dscrm_bridge.feed.render import field_label, module_label, value_label
from dscrm_bridge.feed.schema import FeedAction, feed_entries
from dscrm_bridge.feed.store import entry_dict
from dscrm_bridge.i18n import N_, _, translator

logger = logging.getLogger(__name__)

MAX_LIMIT = 200
DEFAULT_MAX_SCAN = 2000

# Given a batch of entry rows, the ids of those the viewer may see.
RecordCheck = Callable[[Sequence[RowMapping]], set[int]]

# Added to feed_entries by revision 0002; read when the column is there.
_FIELD_CHANGES = "field_changes"
_SUGARFEED_ID = "sugarfeed_id"
_EMPTY = N_("(empty)")


@dataclass(frozen=True)
class Cursor:
    """Where a page stopped: the (occurred_at, id) of the last entry looked at."""

    occurred_at: datetime
    id: int

    def encode(self) -> str:
        raw = json.dumps([self.occurred_at.isoformat(), self.id]).encode("utf-8")
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor a page handed out; InputError for anything else."""
        try:
            padded = text + "=" * (-len(text) % 4)
            stamp, entry_id = json.loads(base64.urlsafe_b64decode(padded))
            return cls(datetime.fromisoformat(stamp), int(entry_id))
        except (ValueError, TypeError, binascii.Error) as exc:
            raise InputError(
                _("The cursor {cursor!r} is not one this feed handed out.").format(
                    cursor=text[:60]
                )
            ) from exc


@dataclass(frozen=True)
class FeedFilter:
    """What a reader asked for; empty collections mean "no restriction"."""

    modules: tuple[str, ...] = ()
    actor_ids: tuple[str, ...] = ()
    record_id: str | None = None
    actions: tuple[FeedAction, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    # Records of one security group, resolved from SuiteCRM by the caller.
    record_ids: tuple[str, ...] | None = None


@dataclass
class TimelinePage:
    """One page: entries as JSON-friendly dicts and the cursor of the next page."""

    entries: list[dict[str, Any]]
    next_cursor: str | None
    scanned: int = 0
    rows: list[RowMapping] = field(default_factory=list, repr=False)


def read_page(
    conn: Connection,
    wanted: FeedFilter,
    *,
    limit: int,
    cursor: Cursor | None = None,
    modules_allowed: Collection[str] | None = None,
    check: RecordCheck | None = None,
    max_scan: int = DEFAULT_MAX_SCAN,
) -> TimelinePage:
    """One page of entries newest first that match ``wanted`` and pass ``check``.

    ``modules_allowed`` (None: every module) narrows the SQL before ``check`` is
    asked; ``check`` decides per entry (None: every entry passes).
    """
    limit = max(1, min(limit, MAX_LIMIT))
    if modules_allowed is not None and not modules_allowed:
        return TimelinePage(entries=[], next_cursor=None)
    batch_size = limit if check is None else min(max(limit * 2, 50), max_scan)
    shown: list[RowMapping] = []
    position = cursor
    scanned = 0
    exhausted = False
    while len(shown) < limit and scanned < max_scan:
        batch = _fetch(conn, wanted, position, batch_size, modules_allowed)
        visible = {row["id"] for row in batch} if check is None else check(batch)
        for row in batch:
            scanned += 1
            position = Cursor(row["occurred_at"], row["id"])
            if row["id"] in visible:
                shown.append(row)
                if len(shown) == limit:
                    break
        if len(batch) < batch_size and position == _last(batch, position):
            exhausted = True
            break
    more = not exhausted and position is not None and position != cursor
    logger.debug("timeline page: %d shown of %d scanned", len(shown), scanned)
    return TimelinePage(
        entries=[timeline_entry(row) for row in shown],
        next_cursor=position.encode() if more and position else None,
        scanned=scanned,
        rows=shown,
    )


def read_entries(conn: Connection, entry_ids: Collection[int]) -> list[RowMapping]:
    """Entries by id, newest first (unknown ids are skipped)."""
    if not entry_ids:
        return []
    query = (
        _select_entries()
        .where(feed_entries.c.id.in_(sorted(entry_ids)))
        .order_by(feed_entries.c.occurred_at.desc(), feed_entries.c.id.desc())
    )
    return list(conn.execute(query).mappings())


def timeline_entry(row: RowMapping, *, lang: str = "zh_CN") -> dict[str, Any]:
    """An entry as the API shows it: the store's fields plus field differences."""
    entry = entry_dict(row)
    entry["module_label"] = module_label(row["module"], lang)
    related = row["related_module"]
    entry["related_module_label"] = module_label(related, lang) if related else None
    entry["field_changes"] = _field_changes(
        row.get(_FIELD_CHANGES), row["module"], lang
    )
    entry["sugarfeed_id"] = row.get(_SUGARFEED_ID)
    return entry


def _select_entries() -> sa.Select[Any]:
    extra = [
        sa.column(name, sa.Text())
        for name in (_FIELD_CHANGES, _SUGARFEED_ID)
        if name not in feed_entries.c
    ]
    return sa.select(feed_entries, *extra).select_from(feed_entries)


def _fetch(
    conn: Connection,
    wanted: FeedFilter,
    after: Cursor | None,
    limit: int,
    modules_allowed: Collection[str] | None,
) -> list[RowMapping]:
    query = _select_entries().where(*_conditions(wanted, after, modules_allowed))
    query = query.order_by(
        feed_entries.c.occurred_at.desc(), feed_entries.c.id.desc()
    ).limit(limit)
    return list(conn.execute(query).mappings())


def _conditions(
    wanted: FeedFilter, after: Cursor | None, modules_allowed: Collection[str] | None
) -> list[sa.ColumnElement[bool]]:
    c = feed_entries.c
    conditions: list[sa.ColumnElement[bool]] = []
    modules = set(wanted.modules) if wanted.modules else None
    if modules_allowed is not None:
        modules = set(modules_allowed) & modules if modules else set(modules_allowed)
    if modules is not None:
        conditions.append(c.module.in_(sorted(modules)))
    if wanted.actor_ids:
        conditions.append(c.actor_id.in_(wanted.actor_ids))
    if wanted.record_id:
        conditions.append(c.record_id == wanted.record_id)
    if wanted.record_ids is not None:
        conditions.append(c.record_id.in_(wanted.record_ids or ("",)))
    if wanted.actions:
        conditions.append(c.action.in_([a.value for a in wanted.actions]))
    if wanted.since is not None:
        conditions.append(c.occurred_at >= wanted.since)
    if wanted.until is not None:
        conditions.append(c.occurred_at < wanted.until)
    if after is not None:
        conditions.append(
            sa.or_(
                c.occurred_at < after.occurred_at,
                sa.and_(c.occurred_at == after.occurred_at, c.id < after.id),
            )
        )
    return conditions


def _last(batch: Sequence[RowMapping], default: Cursor | None) -> Cursor | None:
    if not batch:
        return default
    return Cursor(batch[-1]["occurred_at"], batch[-1]["id"])


def _field_changes(raw: Any, module: str, lang: str) -> list[dict[str, Any]]:
    """The field differences the sync stored as JSON, with labels in ``lang``.

    Each item: ``field``, its ``label``, the stored ``old`` / ``new`` values and
    how they read (``old_text`` / ``new_text``: a dropdown's label, a user's name).
    """
    if not raw:
        return []
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        logger.warning("an entry's field changes are not JSON; shown without them")
        return []
    if not isinstance(data, list):
        return []
    empty = translator(lang)(_EMPTY)
    changes = []
    for item in data:
        if not isinstance(item, dict) or not item.get("field"):
            continue
        name = str(item["field"])
        changes.append(
            {
                "field": name,
                "label": field_label(module, name, lang),
                "old": item.get("old"),
                "new": item.get("new"),
                "old_text": _shown(module, name, item, "old", lang) or empty,
                "new_text": _shown(module, name, item, "new", lang) or empty,
            }
        )
    return changes


def _shown(module: str, name: str, item: dict[str, Any], side: str, lang: str) -> str:
    text = item.get(f"{side}_text")
    if text:
        return str(text)
    value = item.get(side)
    if value is None or value == "":
        return ""
    return value_label(module, name, str(value), lang)
