"""The user a sandbox request acts as, and what SuiteCRM's ACL lets them do.

Rights are decided by the bridge's one evaluator,
:mod:`dscrm_bridge.suitecrm.acl` (acl-notes.md section 3); this module only
applies it to the sandbox's modules (a module without an ACL category, such as
ACLRoles, is open to every user) and keeps what only the sandbox needs: the
groups a new record joins (Q37).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from dscrm_bridge.sandbox.modules import Module
from dscrm_bridge.suitecrm import acl as evaluator
from dscrm_bridge.suitecrm import tables as t


@dataclass
class Actor:
    """The user a request acts as: their groups and everything deciding rights."""

    id: str
    is_admin: bool
    group_ids: list[str]
    access: evaluator.UserAccess


def load_actor(conn: sa.Connection, user_id: str) -> Actor:
    """The acting user ``user_id`` with their rights on every module."""
    access = evaluator.user_access(conn, user_id)
    return Actor(
        id=user_id,
        is_admin=access.is_admin,
        group_ids=list(access.group_ids),
        access=access,
    )


def _open(actor: Actor, module: Module) -> bool:
    return actor.is_admin or module.acl_category is None


def allowed(actor: Actor, module: Module, action: str) -> bool:
    """Whether ``actor`` may ``action`` at least some records of ``module``."""
    if _open(actor, module):
        return True
    assert module.acl_category is not None
    return actor.access.decide(module.acl_category, action).allowed


def record_clause(actor: Actor, module: Module, action: str) -> sa.ColumnElement[bool]:
    """A WHERE clause selecting the rows of ``module`` that ``actor`` may ``action``."""
    if _open(actor, module):
        return sa.true()
    assert module.acl_category is not None
    clause = evaluator.access_clause(
        actor.access, module.acl_category, module.table, action=action
    )
    return sa.true() if clause is None else clause


def can(
    conn: sa.Connection, actor: Actor, module: Module, action: str, record_id: str
) -> bool:
    """Whether ``actor`` may ``action`` the record ``record_id`` of ``module``."""
    table = module.table
    found = conn.execute(
        sa.select(table.c.id).where(
            table.c.id == record_id, record_clause(actor, module, action)
        )
    ).first()
    return found is not None


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
    """The groups a record is filed under (``securitygroups_records``)."""
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
