"""Change sources: which SuiteCRM tables the sync reads, and what each row means.

A *record source* is a module's table (``accounts``, ``notes`` ...); each changed
row becomes create / update / delete entries, plus relate entries for the
records it points at (a Note's or Meeting's parent, a Note's contact, a Case's
account).  A *link source* is a relationship table (``accounts_contacts`` ...,
``securitygroups_records``, ``securitygroups_users``); each changed row becomes
a relate or, once soft-deleted, an unrelate entry (Q33: unlinking sets
``deleted=1``).

How a row is read:

- created: the record was never mirrored (no snapshot) and (``date_entered``,
  ``id``) sorts after the source's floor (the row it started after, or
  ``since``); otherwise it was updated.
- updated: the row's fields worth showing (``mappings/feed_fields.yaml``) are
  compared with the record's snapshot; an update that changed only noise gives
  no entry.  Without a snapshot (a record last changed before the sync started)
  the update is told without its fields.
- deleted (``deleted=1``): a delete entry, after the create when both fall in
  the window.  A link row made and removed between two polls is read only
  once, already soft-deleted: when its relate was never told and a linked
  record was created after the source's floor (so the link cannot predate the
  sync), it gives the relate and then the unrelate, as a record created and
  deleted between polls gives both entries.
- actor: ``created_by`` for a create, ``modified_user_id`` for anything else.
  Link tables mostly record no user: the actor is the last modifier of whichever
  linked record changed closest to the link's ``date_modified``.

Each change carries a key naming the change itself, so that reading a row
again (the overlap window re-reads rows on purpose) never appends it twice:
``<module>:<id>:create``, ``...:update:<when>:<digest of the new fields>``,
``...:delete``, ``<module>:<id>:relate:<module>:<id>`` for a pointer,
``<link table>:<row id>:relate|unrelate`` for a link row.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from dscrm_bridge.config import DEFAULTS
from dscrm_bridge.feed import FeedAction, FeedChange
from dscrm_bridge.suitecrm import tables
from dscrm_bridge.suitecrm.gateway import (
    MODULE_TABLES,
    NAMED_ONLY,
    Keyset,
    RecordInfo,
    record_name,
)
from dscrm_bridge.sync.snapshots import Snapshot, differences, digest

Row = Mapping[Any, Any]

# The configuration's default set of synced modules (sync.modules).
DEFAULT_MODULES: tuple[str, ...] = tuple(DEFAULTS["sync"]["modules"])

# Q37: rows SuiteCRM adds to securitygroups_records for a new record carry a
# date_modified cut to the day (... 00:00:00), behind any cursor of that day:
# that table is re-read a whole day back.
_DAY_S = 24 * 3600

# Record modules whose rows point at a related record by column: (module column,
# id column, fixed module); a None module column means the module is fixed.
_POINTERS: dict[str, tuple[tuple[str | None, str, str | None], ...]] = {
    "Notes": (("parent_type", "parent_id", None), (None, "contact_id", "Contacts")),
    "Meetings": (("parent_type", "parent_id", None),),
    "Calls": (("parent_type", "parent_id", None),),
    "Tasks": (("parent_type", "parent_id", None), (None, "contact_id", "Contacts")),
    "Cases": ((None, "account_id", "Accounts"),),
}


@dataclass(frozen=True)
class RecordSource:
    """A module's own table."""

    module: str

    @property
    def table(self) -> sa.Table:
        return MODULE_TABLES[self.module]

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def extra_overlap_s(self) -> int:
        return 0


@dataclass(frozen=True)
class LinkSource:
    """A relationship table: a row links ``module``'s record to ``related_module``'s.

    ``module_column`` names the column holding the record's module when one
    table links records of many modules (``securitygroups_records``).
    ``actor_columns`` are the columns that name the acting user, when the table
    keeps one.  ``groups`` marks security-group membership, mirrored only when
    asked for.
    """

    table: sa.Table
    module: str
    id_column: str
    related_module: str
    related_column: str
    module_column: str | None = None
    actor_columns: tuple[str, ...] = ()
    groups: bool = False
    extra_overlap_s: int = 0

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def requires(self) -> frozenset[str]:
        """Synced modules this link needs; users and groups are always known."""
        if self.module_column:
            return frozenset()
        return frozenset({self.module, self.related_module} - NAMED_ONLY)

    def module_of(self, row: Row) -> str:
        return str(row[self.module_column]) if self.module_column else self.module


LINK_SOURCES: tuple[LinkSource, ...] = (
    LinkSource(
        tables.accounts_contacts, "Contacts", "contact_id", "Accounts", "account_id"
    ),
    LinkSource(
        tables.accounts_opportunities,
        "Opportunities",
        "opportunity_id",
        "Accounts",
        "account_id",
    ),
    LinkSource(
        tables.documents_opportunities,
        "Documents",
        "document_id",
        "Opportunities",
        "opportunity_id",
    ),
    LinkSource(
        tables.opportunities_contacts,
        "Contacts",
        "contact_id",
        "Opportunities",
        "opportunity_id",
    ),
    LinkSource(
        tables.meetings_contacts, "Contacts", "contact_id", "Meetings", "meeting_id"
    ),
    LinkSource(tables.meetings_users, "Users", "user_id", "Meetings", "meeting_id"),
    LinkSource(tables.calls_contacts, "Contacts", "contact_id", "Calls", "call_id"),
    LinkSource(tables.calls_users, "Users", "user_id", "Calls", "call_id"),
    LinkSource(
        tables.securitygroups_records,
        "",
        "record_id",
        "SecurityGroups",
        "securitygroup_id",
        module_column="module",
        actor_columns=("modified_user_id", "created_by"),
        groups=True,
        extra_overlap_s=_DAY_S,
    ),
    LinkSource(
        tables.securitygroups_users,
        "Users",
        "user_id",
        "SecurityGroups",
        "securitygroup_id",
        groups=True,
    ),
)

Source = RecordSource | LinkSource


def sources_for(
    modules: Iterable[str], *, security_groups: bool = False
) -> list[Source]:
    """The record sources of ``modules``, then the link sources among them."""
    wanted = list(dict.fromkeys(modules))
    found: list[Source] = [RecordSource(module) for module in wanted]
    found.extend(
        link
        for link in LINK_SOURCES
        if link.requires <= set(wanted) and (security_groups or not link.groups)
    )
    return found


def syncable_modules() -> tuple[str, ...]:
    """Modules whose tables the sync can read."""
    return tuple(module for module in MODULE_TABLES if module not in NAMED_ONLY)


def rows_in_scope(
    source: Source, rows: Sequence[Row], modules: Collection[str]
) -> list[Row]:
    """The rows of ``source`` about records of ``modules`` (group links span all)."""
    if not isinstance(source, LinkSource) or not source.module_column:
        return list(rows)
    return [row for row in rows if source.module_of(row) in modules]


def related_wanted(source: Source, rows: Sequence[Row]) -> dict[str, set[str]]:
    """Ids of the records ``rows`` point at, by module."""
    wanted: dict[str, set[str]] = {}
    if isinstance(source, LinkSource):
        for row in rows:
            wanted.setdefault(source.module_of(row), set()).add(row[source.id_column])
            wanted.setdefault(source.related_module, set()).add(
                row[source.related_column]
            )
        return wanted
    for row in rows:
        for module, record_id in _pointers(source.module, row):
            wanted.setdefault(module, set()).add(record_id)
    return wanted


def actors_wanted(source: Source, rows: Sequence[Row]) -> set[str]:
    """User ids named by ``rows`` (links: most are found through their records)."""
    columns: tuple[str, ...]
    if isinstance(source, LinkSource):
        columns = source.actor_columns
    else:
        columns = ("created_by", "modified_user_id")
    return {row[column] for row in rows for column in columns if row[column]}


def record_changes(
    source: RecordSource,
    row: Row,
    *,
    floor: Keyset | None,
    seen: bool,
    user_names: Mapping[str, str],
    related: Mapping[str, Mapping[str, RecordInfo]],
    previous: Snapshot | None,
    snapshot: Snapshot,
) -> list[FeedChange]:
    """The changes one row of a module's table stands for.

    ``seen`` tells whether the record was mirrored before; ``previous`` is its
    snapshot then (None: unknown, or a module without compared fields);
    ``snapshot`` is the row's own.
    """
    module, record_id = source.module, row["id"]
    entered, modified = row["date_entered"], row["date_modified"]
    created = not seen and _created_after(floor, entered, record_id)
    template = FeedChange(
        change_key=f"{module}:{record_id}",
        module=module,
        record_id=record_id,
        record_name=record_name(module, row),
        action=FeedAction.UPDATE,
        actor_id=None,
        actor_name="",
        occurred_at=modified,
    )

    def change(
        key: str, action: FeedAction, actor: str | None, **rest: Any
    ) -> FeedChange:
        return replace(
            template,
            change_key=f"{template.change_key}:{key}",
            action=action,
            actor_id=actor,
            actor_name=_actor_name(user_names, actor),
            **rest,
        )

    changes: list[FeedChange] = []
    if created:
        creator = row["created_by"] or row["modified_user_id"]
        when = entered or modified
        changes.append(change("create", FeedAction.CREATE, creator, occurred_at=when))
    if row["deleted"]:
        changes.append(change("delete", FeedAction.DELETE, row["modified_user_id"]))
        return changes
    update_key = f"update:{modified.isoformat()}:{digest(snapshot)}"
    if previous is not None:
        fields = differences(module, previous, snapshot, user_names=user_names)
        if fields:
            changes.append(
                change(
                    update_key,
                    FeedAction.UPDATE,
                    row["modified_user_id"],
                    field_changes=fields,
                )
            )
    elif not created or (entered is not None and modified > entered):
        changes.append(change(update_key, FeedAction.UPDATE, row["modified_user_id"]))
    if not changes:
        return changes
    actor = changes[0].actor_id
    for rel_module, rel_id in _pointers(module, row):
        info = related.get(rel_module, {}).get(rel_id)
        changes.append(
            change(
                f"relate:{rel_module}:{rel_id}",
                FeedAction.RELATE,
                actor,
                related_module=rel_module,
                related_id=rel_id,
                related_name=info.name if info else "",
            )
        )
    return changes


def link_changes(
    source: LinkSource,
    row: Row,
    *,
    user_names: Mapping[str, str],
    related: Mapping[str, Mapping[str, RecordInfo]],
    floor: Keyset | None = None,
    told: Collection[str] = (),
) -> list[FeedChange]:
    """The relate or unrelate one row of a relationship table stands for.

    ``told`` holds the change keys already in the feed (for deleted rows:
    whether their relate was told); ``floor`` is the source's starting row.
    """
    record_id, related_id = row[source.id_column], row[source.related_column]
    module = source.module_of(row)
    if not record_id or not related_id or not module:
        return []
    record = related.get(module, {}).get(record_id)
    other = related.get(source.related_module, {}).get(related_id)
    actor = next((row[c] for c in source.actor_columns if row[c]), None)
    if actor is None:
        actor = _closest_modifier(
            row["date_modified"],
            [(module, record), (source.related_module, other)],
        )
    actions = [FeedAction.RELATE]
    if row["deleted"]:
        relate_key = link_change_key(source, row, FeedAction.RELATE)
        made_since = relate_key not in told and _entered_after(floor, record, other)
        actions = [FeedAction.RELATE, FeedAction.UNRELATE][0 if made_since else 1 :]
    return [
        FeedChange(
            change_key=link_change_key(source, row, action),
            module=module,
            record_id=record_id,
            record_name=record.name if record else "",
            action=action,
            actor_id=actor,
            actor_name=_actor_name(user_names, actor),
            occurred_at=row["date_modified"],
            related_module=source.related_module,
            related_id=related_id,
            related_name=other.name if other else "",
        )
        for action in actions
    ]


def link_change_key(source: LinkSource, row: Row, action: FeedAction) -> str:
    """The change key of a link row's relate or unrelate."""
    return f"{source.name}:{row['id']}:{action.value}"


def _entered_after(floor: Keyset | None, *infos: RecordInfo | None) -> bool:
    # A link is no older than the newer of its records.
    if floor is None:
        return True
    return any(
        info is not None
        and info.date_entered is not None
        and info.date_entered > floor.date_modified
        for info in infos
    )


def link_actors(related: Mapping[str, Mapping[str, RecordInfo]]) -> set[str]:
    """User ids that may act on links between the records in ``related``."""
    return {
        info.modified_user_id
        for infos in related.values()
        for info in infos.values()
        if info.modified_user_id
    }


def _created_after(
    floor: Keyset | None, entered: datetime | None, record_id: str
) -> bool:
    # A row entered at the floor's very second is new only if it sorts after the
    # floor's row: the rows up to it were there before the sync started.
    if floor is None:
        return True
    if entered is None:
        return False
    return (entered, record_id) > (floor.date_modified, floor.id)


def after_floor(row: Row, floor: Keyset | None) -> bool:
    """Whether ``row`` changed after the source's floor."""
    if floor is None:
        return True
    return (row["date_modified"], row["id"]) > (floor.date_modified, floor.id)


def _actor_name(user_names: Mapping[str, str], actor: str | None) -> str:
    # An id no user row matches is told like a missing one: the feed text says
    # "unknown user" (render), the id stays in ``actor_id``.
    return user_names.get(actor or "", "")


def _closest_modifier(
    when: datetime, sides: Sequence[tuple[str, RecordInfo | None]]
) -> str | None:
    # NOTE: link tables keep no user; the nearest change of a linked record is a
    # guess that holds for the UI and V8 flows of the story (link and record are
    # saved in the same request).  The record side wins a tie; a user or group
    # record counts only when no mirrored record is linked.
    dated = [
        (module, info)
        for module, info in sides
        if info is not None and info.date_modified is not None
    ]
    preferred = [info for module, info in dated if module not in NAMED_ONLY]
    candidates = preferred or [info for _, info in dated]
    if not candidates:
        return None

    def distance(info: RecordInfo) -> timedelta:
        return abs(info.date_modified - when)  # type: ignore[operator]

    nearest = min(candidates, key=distance)
    return nearest.modified_user_id


def _pointers(module: str, row: Row) -> list[tuple[str, str]]:
    found = []
    for module_column, id_column, fixed_module in _POINTERS.get(module, ()):
        target_module = row[module_column] if module_column else fixed_module
        target_id = row[id_column]
        if target_module and target_id:
            found.append((target_module, target_id))
    return found
