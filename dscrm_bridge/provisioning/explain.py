"""A user's effective rights per module and action, and which role gave each.

Decided by the one ACL evaluator, :mod:`dscrm_bridge.suitecrm.acl`, from the
user's own roles and the roles of the user's groups, as SuiteCRM combines them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from dscrm_bridge.errors import InputError
from dscrm_bridge.i18n import _
from dscrm_bridge.provisioning.model import STANDARD_MODULES
from dscrm_bridge.provisioning.plan import action_word, level_word, module_word
from dscrm_bridge.suitecrm import acl
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.suitecrm.acl import AccessDecision, Scope


@dataclass(frozen=True)
class Explanation:
    """Who the user is, where the roles come from, and every decided cell."""

    user_name: str
    user_id: str
    is_admin: bool
    direct_roles: tuple[str, ...]
    group_roles: tuple[tuple[str, str], ...]  # (group, role)
    rows: tuple[tuple[str, tuple[tuple[str, AccessDecision], ...]], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "user_name": self.user_name,
            "admin": self.is_admin,
            "direct_roles": list(self.direct_roles),
            "group_roles": [{"group": g, "role": r} for g, r in self.group_roles],
            "modules": {
                module: {
                    action: {
                        "level": d.level,
                        "scope": d.scope.value,
                        "roles": list(d.roles),
                        "rule": str(d.rule),
                    }
                    for action, d in cells
                }
                for module, cells in self.rows
            },
        }


def explain_user(
    conn: sa.Connection, user_name: str, module: str | None = None
) -> Explanation:
    """The effective rights of ``user_name`` (for one ``module``, or all).

    Raises:
        InputError: no such user, or no such module in the role matrix.
    """
    users = t.users
    user = conn.execute(
        sa.select(users.c.id, users.c.is_admin).where(
            users.c.user_name == user_name, sa.func.coalesce(users.c.deleted, 0) == 0
        )
    ).first()
    if user is None:
        raise InputError(
            _(
                "SuiteCRM has no user {user}; check the user name (not the full name)."
            ).format(user=user_name)
        )
    module = _module_name(module)
    access = acl.user_access(conn, str(user.id), modules=[module] if module else None)
    modules = sorted({m for m, _a in access.defaults if m != "Users"})
    if module and module not in modules:
        raise InputError(
            _(
                "{module} is not a module of SuiteCRM's role matrix; use e.g. Accounts."
            ).format(module=module)
        )
    rows = tuple(
        (m, tuple((a, access.decide(m, a)) for a in acl.MODULE_ACTIONS))
        for m in modules
    )
    return Explanation(
        user_name=user_name,
        user_id=str(user.id),
        is_admin=bool(user.is_admin),
        direct_roles=tuple(sorted(r.name for r in access.roles if r.direct)),
        group_roles=_group_roles(conn, str(user.id)),
        rows=rows,
    )


def _module_name(module: str | None) -> str | None:
    if module is None:
        return None
    for name, label in STANDARD_MODULES.items():
        if module == label:
            return name
    return module


def _group_roles(conn: sa.Connection, user_id: str) -> tuple[tuple[str, str], ...]:
    sgu, sar = t.securitygroups_users, t.securitygroups_acl_roles
    groups, roles = t.securitygroups, t.acl_roles
    rows = conn.execute(
        sa.select(groups.c.name, roles.c.name)
        .select_from(
            sgu.join(groups, groups.c.id == sgu.c.securitygroup_id)
            .join(sar, sar.c.securitygroup_id == sgu.c.securitygroup_id)
            .join(roles, roles.c.id == sar.c.role_id)
        )
        .where(sgu.c.user_id == user_id, sgu.c.deleted == 0, sar.c.deleted == 0)
    ).all()
    return tuple(sorted((str(g), str(r)) for g, r in rows))


def render_explanation(explanation: Explanation) -> list[str]:
    """The explanation as lines for a person, in the current language."""
    lines = [
        _("User {user}").format(user=explanation.user_name)
        + (
            _(" (administrator: every ACL check is bypassed)")
            if explanation.is_admin
            else ""
        )
    ]
    direct = ", ".join(explanation.direct_roles) or "-"
    lines.append(_("Roles given directly: {roles}").format(roles=direct))
    via = ", ".join(f"{r} ({g})" for g, r in explanation.group_roles) or "-"
    lines.append(_("Roles through security groups: {roles}").format(roles=via))
    if not explanation.direct_roles and not explanation.group_roles:
        lines.append(
            _("The user has no role: every module has SuiteCRM's defaults (All).")
        )
    if explanation.direct_roles and explanation.group_roles:
        lines.append(
            _(
                "SuiteCRM's rule: roles given directly take precedence, the roles of "
                "the groups are ignored; among several roles the highest level wins."
            )
        )
    for module, cells in explanation.rows:
        parts = [f"{action_word(a)} {_cell(d)}" for a, d in cells]
        lines.append(f"{module_word(module)}: " + ", ".join(parts))
    return lines


def _cell(decision: AccessDecision) -> str:
    if decision.scope is Scope.DISABLED:
        word = level_word(acl.ACL_ALLOW_DISABLED)
    else:
        word = level_word(acl.SCOPE_LEVELS[decision.scope])
    if decision.roles:
        return f"{word}({'/'.join(decision.roles)})"
    return word
