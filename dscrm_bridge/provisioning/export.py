"""A live SuiteCRM written out as a roles file.

The text depends only on what SuiteCRM holds (no ids, dates or URLs), in a fixed
order, so that export -> apply to an empty SuiteCRM -> export gives the same file.
Memberships are written on the users (``groups``, ``roles``) and the groups'
roles on the groups, each as a complete list.  Passwords and e-mail addresses
are not exported.
"""

from __future__ import annotations

from typing import Any

import yaml

from dscrm_bridge.provisioning.live import LiveRole, LiveState, LiveUser
from dscrm_bridge.provisioning.loader import ROW_WORDS
from dscrm_bridge.provisioning.model import (
    CANONICAL_WORDS,
    full_name,
    split_full_name,
)
from dscrm_bridge.suitecrm.acl import ACL_ALLOW_DEFAULT, MODULE_ACTIONS

HEADER = (
    "# dscrm roles file, exported from SuiteCRM.\n"
    "# Module rows list the levels of: access, view, list, edit, delete, import,\n"
    "# export, massupdate.  Apply it with: dscrm roles plan -f FILE\n"
)


def export_text(live: LiveState) -> str:
    """The roles file describing ``live``."""
    data: dict[str, Any] = {"prune": False}
    data["groups"] = [_group(name, live) for name in sorted(live.groups)]
    data["roles"] = [_role(live.roles[name]) for name in sorted(live.roles)]
    data["users"] = [_user(live.users[name], live) for name in sorted(live.users)]
    body = yaml.safe_dump(
        data,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=None,
        width=100,
    )
    return HEADER + body


def _group(name: str, live: LiveState) -> dict[str, Any]:
    group = live.groups[name]
    entry: dict[str, Any] = {"name": name}
    if group.description:
        entry["description"] = group.description
    entry["roles"] = sorted(role for g, role in live.group_roles if g == name)
    return entry


def _role(role: LiveRole) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": role.name}
    if role.description:
        entry["description"] = role.description
    modules: dict[str, str | list[str]] = {}
    for module in sorted({module for module, _action in role.cells}):
        levels = [role.level((module, action)) for action in MODULE_ACTIONS]
        if any(level != ACL_ALLOW_DEFAULT for level in levels):
            modules[module] = _row(levels)
    if modules:
        entry["modules"] = modules
    return entry


def _row(levels: list[int]) -> str | list[str]:
    """One word where a whole row reads as one (see the loader), else all eight."""
    cells = dict(zip(MODULE_ACTIONS, levels, strict=True))
    for level, row in ROW_WORDS.items():
        full = {action: row.get(action, ACL_ALLOW_DEFAULT) for action in MODULE_ACTIONS}
        if level != ACL_ALLOW_DEFAULT and cells == full:
            return CANONICAL_WORDS[level]
    return [CANONICAL_WORDS.get(level, str(level)) for level in levels]


def _user(user: LiveUser, live: LiveState) -> dict[str, Any]:
    entry: dict[str, Any] = {"user_name": user.user_name}
    name = full_name(user.first_name, user.last_name)
    if name and split_full_name(name) == (user.first_name, user.last_name):
        entry["full_name"] = name
    else:
        entry["first_name"] = user.first_name
        entry["last_name"] = user.last_name
    if user.status == "Inactive":
        entry["status"] = "inactive"
    if user.is_admin:
        entry["admin"] = True
    if user.title:
        entry["title"] = user.title
    if user.department:
        entry["department"] = user.department
    entry["groups"] = sorted(g for g, u in live.group_users if u == user.user_name)
    entry["roles"] = sorted(r for u, r in live.user_roles if u == user.user_name)
    return entry
