"""Change sources: which SuiteCRM tables the sync reads, and what each row means.

A *record source* is a module's table (``accounts``, ``notes`` ...); each changed
row becomes create / update / delete entries, plus relate entries for the
record's parent (Notes, Meetings) and a Note's contact.  A *link source* is a
relationship table (``accounts_contacts`` ...); each changed row becomes a relate
or, once soft-deleted, an unrelate entry (Q33: unlinking sets ``deleted=1``).

How a row is read (first cut, decided here):

- created: (``date_entered``, ``id``) sorts after the start of the window being
  read (the stored cursor, or ``since``); otherwise the row was updated.  A row
  created and changed again inside one window gives a create and an update.
- deleted (``deleted=1``): a delete entry, after the create when both fall in
  the window.
- actor: ``created_by`` for a create, ``modified_user_id`` for anything else.
  Link tables record no user: the actor is the last modifier of whichever
  linked record (users aside) changed closest to the link's ``date_modified``.

Each change carries a key naming the change itself, so that reading a row
again never appends it twice: ``<module>:<id>:create``, ``...:update:<when>``,
``...:delete``, ``<module>:<id>:relate:<module>:<id>`` for a parent or contact,
``<link table>:<row id>:relate|unrelate`` for a link row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dscrm_bridge.feed import FeedAction, FeedChange
from dscrm_bridge.suitecrm import tables
from dscrm_bridge.suitecrm.gateway import (
    MODULE_TABLES,
    Keyset,
    RecordInfo,
    record_name,
)

DEFAULT_MODULES: tuple[str, ...] = (
    "Accounts",
    "Contacts",
    "Opportunities",
    "Notes",
    "Documents",
    "Meetings",
)

# Record modules whose rows point at a related record by column: (module column,
# id column); a None module column means the module is fixed (the second item
# then names it).
_POINTERS: dict[str, tuple[tuple[str | None, str, str | None], ...]] = {
    "Notes": (("parent_type", "parent_id", None), (None, "contact_id", "Contacts")),
    "Meetings": (("parent_type", "parent_id", None),),
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


@dataclass(frozen=True)
class LinkSource:
    """A relationship table: a row links ``module``'s record to ``related_module``'s."""

    table: sa.Table
    module: str
    id_column: str
    related_module: str
    related_column: str

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def requires(self) -> frozenset[str]:
        """Synced modules this link needs; users are always known."""
        return frozenset({self.module, self.related_module} - {"Users"})


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
        tables.meetings_contacts, "Contacts", "contact_id", "Meetings", "meeting_id"
    ),
    LinkSource(tables.meetings_users, "Users", "user_id", "Meetings", "meeting_id"),
)

Source = RecordSource | LinkSource


def sources_for(modules: Iterable[str]) -> list[Source]:
    """The record sources of ``modules``, then the link sources among them."""
    wanted = list(dict.fromkeys(modules))
    found: list[Source] = [RecordSource(module) for module in wanted]
    found.extend(link for link in LINK_SOURCES if link.requires <= set(wanted))
    return found


def syncable_modules() -> tuple[str, ...]:
    """Modules whose tables the sync can read."""
    return tuple(module for module in MODULE_TABLES if module != "Users")


def related_wanted(source: Source, rows: Sequence[RowMapping]) -> dict[str, set[str]]:
    """Ids of the records ``rows`` point at, by module."""
    wanted: dict[str, set[str]] = {}
    if isinstance(source, LinkSource):
        for row in rows:
            wanted.setdefault(source.module, set()).add(row[source.id_column])
            wanted.setdefault(source.related_module, set()).add(
                row[source.related_column]
            )
        return wanted
    for row in rows:
        for module, record_id in _pointers(source.module, row):
            wanted.setdefault(module, set()).add(record_id)
    return wanted


def actors_wanted(source: Source, rows: Sequence[RowMapping]) -> set[str]:
    """User ids that may act in ``rows`` (links: found through their records)."""
    if isinstance(source, LinkSource):
        return set()
    return {
        user_id
        for row in rows
        for user_id in (row["created_by"], row["modified_user_id"])
        if user_id
    }


def record_changes(
    source: RecordSource,
    row: RowMapping,
    *,
    window_start: Keyset | None,
    user_names: Mapping[str, str],
    related: Mapping[str, Mapping[str, RecordInfo]],
) -> list[FeedChange]:
    """The changes one row of a module's table stands for."""
    module, record_id = source.module, row["id"]
    entered, modified = row["date_entered"], row["date_modified"]
    created = _created_after(window_start, entered, record_id)
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
    if not created or (entered is not None and modified > entered):
        key = f"update:{modified.isoformat()}"
        changes.append(change(key, FeedAction.UPDATE, row["modified_user_id"]))
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
    row: RowMapping,
    *,
    user_names: Mapping[str, str],
    related: Mapping[str, Mapping[str, RecordInfo]],
) -> list[FeedChange]:
    """The relate or unrelate one row of a relationship table stands for."""
    action = FeedAction.UNRELATE if row["deleted"] else FeedAction.RELATE
    record_id, related_id = row[source.id_column], row[source.related_column]
    if not record_id or not related_id:
        return []
    record = related.get(source.module, {}).get(record_id)
    other = related.get(source.related_module, {}).get(related_id)
    candidates = [
        info
        for module, info in ((source.module, record), (source.related_module, other))
        if info is not None and module != "Users"
    ]
    actor = _closest_modifier(row["date_modified"], candidates)
    return [
        FeedChange(
            change_key=f"{source.name}:{row['id']}:{action.value}",
            module=source.module,
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
    ]


def link_actors(related: Mapping[str, Mapping[str, RecordInfo]]) -> set[str]:
    """User ids that may act on links between the records in ``related``."""
    return {
        info.modified_user_id
        for module, infos in related.items()
        if module != "Users"
        for info in infos.values()
        if info.modified_user_id
    }


def _created_after(
    window_start: Keyset | None, entered: datetime | None, record_id: str
) -> bool:
    # A row entered at the cursor's very second is new only if it sorts after the
    # cursor's row: the rows up to the cursor had been read already.
    if window_start is None:
        return True
    if entered is None:
        return False
    return (entered, record_id) > (window_start.date_modified, window_start.id)


def _actor_name(user_names: Mapping[str, str], actor: str | None) -> str:
    # An id no user row matches is shown as the id rather than dropped.
    return user_names.get(actor or "", actor or "")


def _closest_modifier(when: datetime, candidates: Sequence[RecordInfo]) -> str | None:
    # NOTE: link tables keep no user; the nearest change of a linked record is a
    # guess that holds for the UI and V8 flows of the story (link and record are
    # saved in the same request).  The record side wins a tie.
    dated = [info for info in candidates if info.date_modified is not None]
    if not dated:
        return None
    nearest = min(dated, key=lambda info: abs(info.date_modified - when))  # type: ignore[operator]
    return nearest.modified_user_id


def _pointers(module: str, row: RowMapping) -> list[tuple[str, str]]:
    found = []
    for module_column, id_column, fixed_module in _POINTERS.get(module, ()):
        target_module = row[module_column] if module_column else fixed_module
        target_id = row[id_column]
        if target_module and target_id:
            found.append((target_module, target_id))
    return found
