"""Which feed entries a user may see: those whose record SuiteCRM lets them view.

The decision is THE evaluator's, :mod:`dscrm_bridge.suitecrm.acl` (the same one
``dscrm roles explain`` uses): per module, the user's effective ``view`` right;
per record, its :func:`~dscrm_bridge.suitecrm.acl.visible_clause` asked in one
query per module for a whole batch of entries.  Modules the user cannot view at
all are left out of the SQL on the feed before any record is looked at.

An entry about a deleted record stays visible to whoever could view the record
before it was deleted (SuiteCRM itself shows deleted records to nobody; the
feed would otherwise hide every deletion from the people who owned the record).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from dscrm_bridge.suitecrm import acl
from dscrm_bridge.suitecrm import tables as t

logger = logging.getLogger(__name__)

VIEW = "view"
_IDS_PER_QUERY = 500


@dataclass
class EntryVisibility:
    """One viewer's rights over the feed, loaded once per request."""

    user_id: str
    is_admin: bool
    everything: set[str] = field(default_factory=set)
    per_record: dict[str, sa.ColumnElement[bool]] = field(default_factory=dict)

    @property
    def sees_all(self) -> bool:
        return self.is_admin

    def modules_allowed(self) -> set[str] | None:
        """Modules with at least some visible records; None: every module."""
        if self.is_admin:
            return None
        return self.everything | set(self.per_record)

    def check(self, crm: Connection, rows: Sequence[RowMapping]) -> set[int]:
        """Ids of the entries among ``rows`` the viewer may see."""
        if self.is_admin:
            return {row["id"] for row in rows}
        visible = {row["id"] for row in rows if row["module"] in self.everything}
        by_module: dict[str, list[RowMapping]] = {}
        for row in rows:
            if row["module"] in self.per_record:
                by_module.setdefault(row["module"], []).append(row)
        for module, entries in by_module.items():
            seen = _visible_ids(
                crm,
                acl.MODULE_TABLES[module],
                self.per_record[module],
                {entry["record_id"] for entry in entries},
            )
            visible.update(e["id"] for e in entries if e["record_id"] in seen)
        return visible


def entry_visibility(
    crm: Connection, user_id: str, modules: Iterable[str]
) -> EntryVisibility:
    """What ``user_id`` may see of entries of ``modules`` (SuiteCRM's own rules)."""
    wanted = sorted(set(modules))
    access = acl.user_access(crm, user_id, modules=wanted)
    result = EntryVisibility(user_id=user_id, is_admin=access.is_admin)
    if access.is_admin:
        return result
    for module in wanted:
        decision = access.decide(module, VIEW)
        if decision.scope is acl.Scope.ALL:
            result.everything.add(module)
            continue
        table = acl.MODULE_TABLES.get(module)
        if not decision.allowed or table is None:
            continue
        clause = acl.visible_clause(crm, user_id, module, table, action=VIEW)
        if clause is None:
            result.everything.add(module)
        else:
            result.per_record[module] = clause
    logger.debug(
        "user %s sees all of %s, some of %s",
        user_id,
        sorted(result.everything),
        sorted(result.per_record),
    )
    return result


def group_record_ids(crm: Connection, group_id: str) -> tuple[str, ...]:
    """Ids of the records linked to security group ``group_id``."""
    sgr = t.securitygroups_records
    rows = crm.execute(
        sa.select(sgr.c.record_id).where(
            sgr.c.securitygroup_id == group_id, sgr.c.deleted == 0
        )
    ).scalars()
    return tuple(sorted({str(row) for row in rows}))


def _visible_ids(
    crm: Connection,
    table: sa.Table,
    clause: sa.ColumnElement[bool],
    record_ids: Collection[str],
) -> set[str]:
    wanted = sorted(record_ids)
    seen: set[str] = set()
    for start in range(0, len(wanted), _IDS_PER_QUERY):
        chunk = wanted[start : start + _IDS_PER_QUERY]
        query = sa.select(table.c.id).where(table.c.id.in_(chunk), clause)
        seen.update(str(row) for row in crm.execute(query).scalars())
    return seen
