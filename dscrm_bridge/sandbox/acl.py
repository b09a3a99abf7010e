"""Effective access of a user, as SuiteCRM 7.13 with SecuritySuite computes it.

See acl-notes.md section 3: roles assigned directly win over roles of the user's
groups (``securitysuite_user_role_precedence``); among roles of one kind the
highest override counts (``securitysuite_additive``); an override of NULL/0 means
the action's default (``acl_actions.aclaccess``); admins bypass everything.
Per record: All (90) any record, Group (80) owner or a record of one of the
user's groups, Owner (75) the assigned user (or the creator when unassigned),
None (-99) nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from dscrm_bridge.sandbox.modules import Module
from dscrm_bridge.suitecrm import tables as t

ACL_ALLOW_ALL = 90
ACL_ALLOW_GROUP = 80
ACL_ALLOW_OWNER = 75
ACL_ALLOW_DISABLED = -98
ACL_ALLOW_NONE = -99


@dataclass
class Actor:
    """The user a request acts as, with their groups and a cache of levels."""

    id: str
    is_admin: bool
    group_ids: list[str]
    _levels: dict[tuple[str, str], int] = field(default_factory=dict)


def load_actor(conn: sa.Connection, user_id: str) -> Actor:
    user = conn.execute(
        sa.select(t.users.c.id, t.users.c.is_admin).where(t.users.c.id == user_id)
    ).one()
    sgu = t.securitygroups_users
    groups = conn.execute(
        sa.select(sgu.c.securitygroup_id).where(
            sgu.c.user_id == user_id, sgu.c.deleted == 0
        )
    ).scalars()
    return Actor(id=str(user.id), is_admin=bool(user.is_admin), group_ids=list(groups))


def access_level(conn: sa.Connection, actor: Actor, category: str, action: str) -> int:
    """The effective level of ``action`` on module ``category`` for ``actor``."""
    key = (category, action)
    if key not in actor._levels:
        actor._levels[key] = _compute_level(conn, actor, category, action)
    return actor._levels[key]


def _compute_level(
    conn: sa.Connection, actor: Actor, category: str, action: str
) -> int:
    acts = t.acl_actions
    default_row = conn.execute(
        sa.select(acts.c.id, acts.c.aclaccess).where(
            acts.c.category == category,
            acts.c.name == action,
            acts.c.acltype == "module",
            acts.c.deleted == 0,
        )
    ).first()
    default = int(default_row.aclaccess) if default_row else ACL_ALLOW_ALL
    if default_row is None:
        return default

    direct = _role_ids_direct(conn, actor.id)
    roles = direct or _role_ids_of_groups(conn, actor.group_ids)
    if not roles:
        return default
    rra = t.acl_roles_actions
    overrides = conn.execute(
        sa.select(rra.c.access_override).where(
            rra.c.role_id.in_(roles),
            rra.c.action_id == default_row.id,
            rra.c.deleted == 0,
        )
    ).scalars()
    values = [default if not value else int(value) for value in overrides]
    return max(values) if values else default


def _role_ids_direct(conn: sa.Connection, user_id: str) -> list[str]:
    aru = t.acl_roles_users
    return list(
        conn.execute(
            sa.select(aru.c.role_id).where(aru.c.user_id == user_id, aru.c.deleted == 0)
        ).scalars()
    )


def _role_ids_of_groups(conn: sa.Connection, group_ids: list[str]) -> list[str]:
    if not group_ids:
        return []
    sar = t.securitygroups_acl_roles
    return list(
        conn.execute(
            sa.select(sar.c.role_id).where(
                sar.c.securitygroup_id.in_(group_ids), sar.c.deleted == 0
            )
        ).scalars()
    )


def module_level(conn: sa.Connection, actor: Actor, module: Module, action: str) -> int:
    """The level of ``action`` on ``module``, with ``access`` Disabled meaning None."""
    if actor.is_admin or module.acl_category is None:
        return ACL_ALLOW_ALL
    if access_level(conn, actor, module.acl_category, "access") == ACL_ALLOW_DISABLED:
        return ACL_ALLOW_NONE
    return access_level(conn, actor, module.acl_category, action)


def record_clause(
    conn: sa.Connection, actor: Actor, module: Module, action: str
) -> sa.ColumnElement[bool]:
    """A WHERE clause selecting the rows of ``module`` that ``actor`` may ``action``."""
    level = module_level(conn, actor, module, action)
    if level >= ACL_ALLOW_ALL:
        return sa.true()
    if level == ACL_ALLOW_GROUP:
        return sa.or_(_owner_clause(module, actor), _group_clause(module, actor))
    if level == ACL_ALLOW_OWNER:
        return _owner_clause(module, actor)
    return sa.false()


def can(
    conn: sa.Connection, actor: Actor, module: Module, action: str, record_id: str
) -> bool:
    """Whether ``actor`` may ``action`` the record ``record_id`` of ``module``."""
    clause = record_clause(conn, actor, module, action)
    table = module.table
    found = conn.execute(
        sa.select(table.c.id).where(table.c.id == record_id, clause)
    ).first()
    return found is not None


def _owner_clause(module: Module, actor: Actor) -> sa.ColumnElement[bool]:
    table = module.table
    if "assigned_user_id" not in table.c:
        return table.c.created_by == actor.id
    assigned = table.c.assigned_user_id
    unassigned = sa.or_(assigned.is_(None), assigned == "")
    return sa.or_(
        assigned == actor.id, sa.and_(unassigned, table.c.created_by == actor.id)
    )


def _group_clause(module: Module, actor: Actor) -> sa.ColumnElement[bool]:
    if not actor.group_ids:
        return sa.false()
    sgr = t.securitygroups_records
    member = (
        sa.select(sgr.c.record_id)
        .where(
            sgr.c.module == module.name,
            sgr.c.deleted == 0,
            sgr.c.securitygroup_id.in_(actor.group_ids),
        )
        .scalar_subquery()
    )
    return module.table.c.id.in_(member)


def inheritable_groups(conn: sa.Connection, user_id: str | None) -> list[str]:
    """Groups whose records a user's new records join (Q37; noninheritable skipped)."""
    if not user_id:
        return []
    sgu = t.securitygroups_users
    groups = t.securitygroups
    rows = conn.execute(
        sa.select(sgu.c.securitygroup_id)
        .join(groups, groups.c.id == sgu.c.securitygroup_id)
        .where(
            sgu.c.user_id == user_id,
            sgu.c.deleted == 0,
            sa.func.coalesce(sgu.c.noninheritable, 0) == 0,
            groups.c.deleted == 0,
            sa.func.coalesce(groups.c.noninheritable, 0) == 0,
        )
    ).scalars()
    return list(dict.fromkeys(rows))


def record_groups(conn: sa.Connection, module_name: str, record_id: Any) -> list[str]:
    sgr = t.securitygroups_records
    return list(
        conn.execute(
            sa.select(sgr.c.securitygroup_id).where(
                sgr.c.module == module_name,
                sgr.c.record_id == record_id,
                sgr.c.deleted == 0,
            )
        ).scalars()
    )
