"""What a SuiteCRM holds now: groups, roles with their matrix, users, memberships.

Read with SQL in one short transaction (the V8 API hides ``user_name``,
``is_admin`` and ``status`` of users (Q14) and cannot read role cells (Q35)).
Only live rows count: ``deleted = 0`` on every object and join row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import sqlalchemy as sa

from dscrm_bridge.errors import InputError
from dscrm_bridge.i18n import _
from dscrm_bridge.provisioning.model import NOT_IN_MATRIX, Cell
from dscrm_bridge.suitecrm import tables as t


@dataclass(frozen=True)
class LiveGroup:
    id: str
    name: str
    description: str


@dataclass(frozen=True)
class LiveRole:
    """A role and its matrix: ``cells`` as stored (NULL read as 0), ``rows`` ids."""

    id: str
    name: str
    description: str
    cells: Mapping[Cell, tuple[int, ...]]
    rows: Mapping[Cell, tuple[str, ...]]

    def level(self, cell: Cell) -> int:
        """The cell's value as SuiteCRM reads it: the highest explicit override."""
        explicit = [value for value in self.cells.get(cell, ()) if value]
        return max(explicit) if explicit else 0


@dataclass(frozen=True)
class LiveUser:
    id: str
    user_name: str
    first_name: str
    last_name: str
    status: str
    is_admin: bool
    title: str
    department: str
    user_hash: str


@dataclass
class LiveState:
    """Everything provisioning compares against, keyed by name."""

    groups: dict[str, LiveGroup] = field(default_factory=dict)
    roles: dict[str, LiveRole] = field(default_factory=dict)
    users: dict[str, LiveUser] = field(default_factory=dict)
    # (category, action) -> acl_actions.id of every module of the role matrix.
    actions: dict[Cell, str] = field(default_factory=dict)
    group_roles: set[tuple[str, str]] = field(default_factory=set)  # (group, role)
    group_users: set[tuple[str, str]] = field(default_factory=set)  # (group, user)
    user_roles: set[tuple[str, str]] = field(default_factory=set)  # (user, role)

    def matrix_modules(self) -> list[str]:
        return sorted({module for module, _action in self.actions})


def read_live(conn: sa.Connection) -> LiveState:
    """Read the live state; names SuiteCRM holds twice are refused."""
    live = LiveState()
    live.actions = _read_actions(conn)
    live.groups = _unique(
        _("security group"),
        [
            LiveGroup(str(r.id), r.name or "", r.description or "")
            for r in conn.execute(
                sa.select(
                    t.securitygroups.c.id,
                    t.securitygroups.c.name,
                    t.securitygroups.c.description,
                ).where(t.securitygroups.c.deleted == 0)
            )
        ],
    )
    live.roles = _unique(_("role"), _read_roles(conn))
    live.users = _unique(_("user"), _read_users(conn))
    _read_links(conn, live)
    return live


def _unique(kind: str, items: list[_N]) -> dict[str, _N]:
    found: dict[str, _N] = {}
    for item in items:
        name = _name_of(item)
        if name in found:
            raise InputError(
                _(
                    "SuiteCRM holds two of {kind} {name} (ids {first} and {second}); "
                    "rename or delete one in SuiteCRM first."
                ).format(kind=kind, name=name, first=found[name].id, second=item.id)
            )
        found[name] = item
    return found


_Named = LiveGroup | LiveRole | LiveUser
_N = TypeVar("_N", LiveGroup, LiveRole, LiveUser)


def _name_of(item: _Named) -> str:
    return item.user_name if isinstance(item, LiveUser) else item.name


def _read_actions(conn: sa.Connection) -> dict[Cell, str]:
    acts = t.acl_actions
    rows = conn.execute(
        sa.select(acts.c.id, acts.c.category, acts.c.name).where(
            acts.c.acltype == "module", acts.c.deleted == 0
        )
    )
    return {
        (row.category, row.name): str(row.id)
        for row in rows
        if row.category not in NOT_IN_MATRIX
    }


def _read_roles(conn: sa.Connection) -> list[LiveRole]:
    roles = t.acl_roles
    acts = t.acl_actions
    rra = t.acl_roles_actions
    cells: dict[str, dict[Cell, list[int]]] = {}
    rows: dict[str, dict[Cell, list[str]]] = {}
    for row in conn.execute(
        sa.select(
            rra.c.id, rra.c.role_id, rra.c.access_override, acts.c.category, acts.c.name
        )
        .join(acts, acts.c.id == rra.c.action_id)
        .where(rra.c.deleted == 0, acts.c.acltype == "module", acts.c.deleted == 0)
        .order_by(rra.c.id)
    ):
        cell = (row.category, row.name)
        role_id = str(row.role_id)
        cells.setdefault(role_id, {}).setdefault(cell, []).append(
            int(row.access_override or 0)
        )
        rows.setdefault(role_id, {}).setdefault(cell, []).append(str(row.id))
    return [
        LiveRole(
            id=str(r.id),
            name=r.name or "",
            description=r.description or "",
            cells={c: tuple(v) for c, v in cells.get(str(r.id), {}).items()},
            rows={c: tuple(v) for c, v in rows.get(str(r.id), {}).items()},
        )
        for r in conn.execute(
            sa.select(roles.c.id, roles.c.name, roles.c.description).where(
                sa.func.coalesce(roles.c.deleted, 0) == 0
            )
        )
    ]


def _read_users(conn: sa.Connection) -> list[LiveUser]:
    users = t.users
    query = sa.select(
        users.c.id,
        users.c.user_name,
        users.c.first_name,
        users.c.last_name,
        users.c.status,
        users.c.is_admin,
        users.c.title,
        users.c.department,
        users.c.user_hash,
    ).where(
        sa.func.coalesce(users.c.deleted, 0) == 0,
        # group and portal users are not people who sign in to the CRM
        sa.func.coalesce(users.c.is_group, 0) == 0,
        sa.func.coalesce(users.c.portal_only, 0) == 0,
    )
    return [
        LiveUser(
            id=str(r.id),
            user_name=r.user_name or "",
            first_name=r.first_name or "",
            last_name=r.last_name or "",
            status=r.status or "",
            is_admin=bool(r.is_admin),
            title=r.title or "",
            department=r.department or "",
            user_hash=r.user_hash or "",
        )
        for r in conn.execute(query)
    ]


def _read_links(conn: sa.Connection, live: LiveState) -> None:
    groups = {g.id: g.name for g in live.groups.values()}
    roles = {r.id: r.name for r in live.roles.values()}
    users = {u.id: u.user_name for u in live.users.values()}
    sar, sgu, aru = (
        t.securitygroups_acl_roles,
        t.securitygroups_users,
        t.acl_roles_users,
    )
    live.group_roles = _pairs(
        conn, sar.c.securitygroup_id, groups, sar.c.role_id, roles
    )
    live.group_users = _pairs(
        conn, sgu.c.securitygroup_id, groups, sgu.c.user_id, users
    )
    live.user_roles = _pairs(conn, aru.c.user_id, users, aru.c.role_id, roles)


def _pairs(
    conn: sa.Connection,
    first: sa.Column[str],
    first_names: Mapping[str, str],
    second: sa.Column[str],
    second_names: Mapping[str, str],
) -> set[tuple[str, str]]:
    """Live rows of a join table as (name, name), for live objects on both sides."""
    table = first.table
    rows = conn.execute(sa.select(first, second).where(table.c.deleted == 0))
    return {
        (first_names[str(a)], second_names[str(b)])
        for a, b in rows
        if str(a) in first_names and str(b) in second_names
    }
