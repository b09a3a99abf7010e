"""The difference between a roles file and a live SuiteCRM, as a list of changes.

A plan names every change (create / update / remove of each group, role, ACL
cell, user, password and membership) and what the result means for security:
administrators, active users in no group, roles that grant import or mass
update.  Objects the file does not declare are untouched unless it says
``prune: true``; the administrator (id 1) and the user the bridge signs in as
are never removed.

For a group's roles, a group's members, a user's groups and a user's roles, a
list given in the file is the whole list: others are removed from that object.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dscrm_bridge.errors import InputError
from dscrm_bridge.i18n import _, current_language
from dscrm_bridge.provisioning.live import LiveGroup, LiveRole, LiveState, LiveUser
from dscrm_bridge.provisioning.model import (
    ACTION_LABELS_ZH,
    CANONICAL_WORDS,
    CHINESE_WORDS,
    STANDARD_MODULES,
    Cell,
    RoleSpec,
    RolesSpec,
    UserSpec,
)
from dscrm_bridge.suitecrm.acl import (
    ACL_ALLOW_ALL,
    ACL_ALLOW_DEFAULT,
    MODULE_ACTIONS,
)
from dscrm_bridge.suitecrm.passwords import verify_password

ADMIN_USER_ID = "1"  # SuiteCRM's installer creates the administrator with id 1


class Op(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REMOVE = "remove"


class Kind(enum.StrEnum):
    GROUP = "group"
    ROLE = "role"
    CELL = "cell"
    ROWS = "rows"
    USER = "user"
    PASSWORD = "password"
    GROUP_ROLE = "group_role"
    GROUP_USER = "group_user"
    USER_ROLE = "user_role"


@dataclass(frozen=True)
class Change:
    """One change. Links: ``name`` and ``other`` are the two sides; cells:
    ``name`` is the role and ``other`` ``Module.action``; updates carry the
    changed fields in ``before``/``after``."""

    op: Op
    kind: Kind
    name: str
    other: str = ""
    before: Any = None
    after: Any = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"op": str(self.op), "kind": str(self.kind)}
        data["name"] = self.name
        if self.other:
            data["other"] = self.other
        if self.before is not None:
            data["before"] = self.before
        if self.after is not None:
            data["after"] = self.after
        return data


class FindingKind(enum.StrEnum):
    ADMIN = "admin"
    NO_GROUP = "no_group"
    IMPORT = "import"
    MASSUPDATE = "massupdate"


@dataclass(frozen=True)
class Finding:
    """Something that matters for security in the state after the plan."""

    kind: FindingKind
    name: str
    modules: tuple[str, ...] = ()
    not_set: int = 0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": str(self.kind), "name": self.name}
        if self.kind in (FindingKind.IMPORT, FindingKind.MASSUPDATE):
            data["modules"] = list(self.modules)
            data["not_set"] = self.not_set
        return data


@dataclass(frozen=True)
class Plan:
    """The changes that make SuiteCRM match ``spec``, and what results."""

    spec: RolesSpec
    live: LiveState
    changes: tuple[Change, ...]
    findings: tuple[Finding, ...]
    kept: tuple[str, ...] = ()
    passwords: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def count(self, op: Op) -> int:
        return sum(1 for change in self.changes if change.op is op)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.spec.path,
            "prune": self.spec.prune,
            "summary": {str(op): self.count(op) for op in Op},
            "changes": [change.to_json() for change in self.changes],
            "kept": list(self.kept),
            "findings": [finding.to_json() for finding in self.findings],
        }


def make_plan(
    spec: RolesSpec,
    live: LiveState,
    *,
    protected_users: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
) -> Plan:
    """Compare ``spec`` with ``live``; ``env`` supplies the ``password_env`` values.

    Raises:
        InputError: a password variable is not set, or the file sets cells of
            modules this SuiteCRM does not have.
    """
    env = env or {}
    passwords = _passwords(spec, env)
    _check_modules(spec, live)
    protected = set(protected_users)

    removed_groups = _pruned(spec.prune, live.groups, spec.groups)
    removed_roles = _pruned(spec.prune, live.roles, spec.roles)
    removed_users = _pruned(spec.prune, live.users, spec.users)
    kept = sorted(
        name
        for name in removed_users
        if name in protected or live.users[name].id == ADMIN_USER_ID
    )
    removed_users -= set(kept)
    _check_lockout(spec, protected)

    changes: list[Change] = []
    changes += _group_changes(spec, live)
    changes += _role_changes(spec, live)
    changes += _user_changes(spec, live, passwords)
    links = _Links(spec, live, removed_groups, removed_roles, removed_users)
    changes += links.changes()
    changes += [Change(Op.REMOVE, Kind.GROUP, name) for name in sorted(removed_groups)]
    changes += [Change(Op.REMOVE, Kind.ROLE, name) for name in sorted(removed_roles)]
    changes += [Change(Op.REMOVE, Kind.USER, name) for name in sorted(removed_users)]

    findings = _findings(spec, live, links, removed_roles, removed_users)
    return Plan(
        spec=spec,
        live=live,
        changes=tuple(changes),
        findings=tuple(findings),
        kept=tuple(kept),
        passwords=passwords,
    )


def _passwords(spec: RolesSpec, env: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    missing: list[str] = []
    for user in spec.users.values():
        if user.password_env is None:
            continue
        value = env.get(user.password_env)
        if not value:
            missing.append(
                _(
                    "{path}:{line}: user {user}: set the environment variable {env}"
                ).format(
                    path=spec.path,
                    line=user.line,
                    user=user.user_name,
                    env=user.password_env,
                )
            )
            continue
        found[user.user_name] = value
    if missing:
        raise InputError(
            _("Passwords are missing; nothing was changed:\n{problems}").format(
                problems="\n".join(missing)
            ),
            path=spec.path,
        )
    return found


def _check_lockout(spec: RolesSpec, protected: set[str]) -> None:
    """Refuse to take admin rights or activity from the user the bridge acts as."""
    for name in sorted(protected & set(spec.users)):
        user = spec.users[name]
        if user.is_admin is False or user.status == "Inactive":
            raise InputError(
                _(
                    "{path}:{line}: user {user} is the user the bridge signs in as; "
                    "taking its admin rights or deactivating it would stop the "
                    "apply half-way. Change it in SuiteCRM or sign in as another "
                    "administrator."
                ).format(path=spec.path, line=user.line, user=name),
                path=spec.path,
                line=user.line,
            )


def _check_modules(spec: RolesSpec, live: LiveState) -> None:
    absent = sorted(
        {
            module
            for role in spec.roles.values()
            for (module, action), level in role.cells.items()
            if level != ACL_ALLOW_DEFAULT and (module, action) not in live.actions
        }
    )
    if absent:
        raise InputError(
            _(
                "{path}: this SuiteCRM's role matrix has no module {modules}; "
                "install it or remove it from the file."
            ).format(path=spec.path, modules=", ".join(absent)),
            path=spec.path,
        )


def _pruned(
    prune: bool, live: Mapping[str, Any], wanted: Mapping[str, Any]
) -> set[str]:
    return set(live) - set(wanted) if prune else set()


# -- objects ------------------------------------------------------------------


def _group_changes(spec: RolesSpec, live: LiveState) -> list[Change]:
    changes = []
    for name, group in sorted(spec.groups.items()):
        current = live.groups.get(name)
        changes += _described(Kind.GROUP, name, group.description, current)
    return changes


def _described(
    kind: Kind, name: str, wanted: str | None, current: LiveGroup | LiveRole | None
) -> list[Change]:
    """Create the object, or change its description when the file sets another."""
    if current is None:
        return [Change(Op.CREATE, kind, name, after={"description": wanted or ""})]
    if wanted is None or wanted == current.description:
        return []
    before = {"description": current.description}
    return [Change(Op.UPDATE, kind, name, before=before, after={"description": wanted})]


def _role_changes(spec: RolesSpec, live: LiveState) -> list[Change]:
    changes: list[Change] = []
    for name, role in sorted(spec.roles.items()):
        current = live.roles.get(name)
        changes += _described(Kind.ROLE, name, role.description, current)
        if current is None:
            changes += [
                Change(Op.CREATE, Kind.CELL, name, _cell_key(cell), after=level)
                for cell, level in sorted(role.cells.items())
                if level != ACL_ALLOW_DEFAULT
            ]
        else:
            changes += _cell_changes(role, current, live)
    return changes


def _cell_changes(role: RoleSpec, current: LiveRole, live: LiveState) -> list[Change]:
    changes: list[Change] = []
    missing = 0
    for cell in sorted(live.actions):
        wanted = role.level(*cell)
        if cell not in current.rows:
            if wanted != ACL_ALLOW_DEFAULT:
                changes.append(
                    Change(
                        Op.CREATE, Kind.CELL, role.name, _cell_key(cell), after=wanted
                    )
                )
            else:
                missing += 1
            continue
        stored = current.cells[cell]
        if any(value != wanted for value in stored):
            changes.append(
                Change(
                    Op.UPDATE,
                    Kind.CELL,
                    role.name,
                    _cell_key(cell),
                    before=current.level(cell),
                    after=wanted,
                )
            )
    if missing:
        # The role editor keeps a row for every cell (B7c); a role made through
        # V8 or by hand lacks them until saved once.
        changes.append(Change(Op.CREATE, Kind.ROWS, role.name, after=missing))
    return changes


def _cell_key(cell: Cell) -> str:
    return f"{cell[0]}.{cell[1]}"


def user_attributes(user: UserSpec) -> dict[str, Any]:
    """The attributes the file manages for ``user``, in SuiteCRM's terms."""
    values: dict[str, Any] = {}
    if user.first_name is not None:
        values["first_name"] = user.first_name
    if user.last_name is not None:
        values["last_name"] = user.last_name
    if user.status is not None:
        values["status"] = user.status
    if user.is_admin is not None:
        values["is_admin"] = bool(user.is_admin)
    if user.title is not None:
        values["title"] = user.title
    if user.department is not None:
        values["department"] = user.department
    return values


def new_user_attributes(user: UserSpec) -> dict[str, Any]:
    """Attributes of a user to create: the managed ones over the UI's defaults."""
    values: dict[str, Any] = {
        "first_name": "",
        "last_name": user.user_name,
        "status": "Active",
        "is_admin": False,
    }
    values.update(user_attributes(user))
    if user.email:
        values["email"] = user.email
    return values


def _live_attributes(user: LiveUser) -> dict[str, Any]:
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "status": user.status,
        "is_admin": user.is_admin,
        "title": user.title,
        "department": user.department,
    }


def _user_changes(
    spec: RolesSpec, live: LiveState, passwords: Mapping[str, str]
) -> list[Change]:
    changes: list[Change] = []
    for name, user in sorted(spec.users.items()):
        current = live.users.get(name)
        if current is None:
            changes.append(
                Change(Op.CREATE, Kind.USER, name, after=new_user_attributes(user))
            )
            generated = name not in passwords
            changes.append(
                Change(
                    Op.CREATE,
                    Kind.PASSWORD,
                    name,
                    after="generated" if generated else "env",
                )
            )
            continue
        wanted = user_attributes(user)
        have = _live_attributes(current)
        differs = sorted(key for key, value in wanted.items() if have[key] != value)
        if differs:
            changes.append(
                Change(
                    Op.UPDATE,
                    Kind.USER,
                    name,
                    before={key: have[key] for key in differs},
                    after={key: wanted[key] for key in differs},
                )
            )
        if name in passwords and not verify_password(
            passwords[name], current.user_hash
        ):
            changes.append(Change(Op.UPDATE, Kind.PASSWORD, name, after="env"))
    return changes


# -- links --------------------------------------------------------------------


class _Links:
    """Memberships now, wanted and after the plan, for the three kinds of link."""

    def __init__(
        self,
        spec: RolesSpec,
        live: LiveState,
        removed_groups: set[str],
        removed_roles: set[str],
        removed_users: set[str],
    ) -> None:
        prune = spec.prune
        groups, users = spec.groups, spec.users

        def group_owns_roles(g: str) -> bool:
            return prune or (g in groups and groups[g].roles is not None)

        def group_owns_members(g: str) -> bool:
            return prune or (g in groups and groups[g].members is not None)

        def user_owns_groups(u: str) -> bool:
            return prune or (u in users and users[u].groups is not None)

        def user_owns_roles(u: str) -> bool:
            return prune or (u in users and users[u].roles is not None)

        wanted_gr = {(g, r) for g, s in groups.items() for r in (s.roles or ())}
        wanted_gu = {(g, u) for g, s in groups.items() for u in (s.members or ())}
        wanted_gu |= {(g, u) for u, s in users.items() for g in (s.groups or ())}
        wanted_ur = {(u, r) for u, s in users.items() for r in (s.roles or ())}

        self.group_roles = _final(
            live.group_roles,
            wanted_gr,
            owned=lambda pair: group_owns_roles(pair[0]),
            gone=lambda pair: pair[0] in removed_groups or pair[1] in removed_roles,
        )
        self.group_users = _final(
            live.group_users,
            wanted_gu,
            owned=lambda pair: group_owns_members(pair[0]) or user_owns_groups(pair[1]),
            gone=lambda pair: pair[0] in removed_groups or pair[1] in removed_users,
        )
        self.user_roles = _final(
            live.user_roles,
            wanted_ur,
            owned=lambda pair: user_owns_roles(pair[0]),
            gone=lambda pair: pair[0] in removed_users or pair[1] in removed_roles,
        )
        self._live = live

    def changes(self) -> list[Change]:
        changes: list[Change] = []
        for kind, before, after in (
            (Kind.GROUP_ROLE, self._live.group_roles, self.group_roles),
            (Kind.GROUP_USER, self._live.group_users, self.group_users),
            (Kind.USER_ROLE, self._live.user_roles, self.user_roles),
        ):
            changes += [
                Change(Op.CREATE, kind, a, b) for a, b in sorted(after - before)
            ]
            changes += [
                Change(Op.REMOVE, kind, a, b) for a, b in sorted(before - after)
            ]
        return changes


def _final(
    live: set[tuple[str, str]],
    wanted: set[tuple[str, str]],
    *,
    owned: Any,
    gone: Any,
) -> set[tuple[str, str]]:
    kept = {pair for pair in live if not gone(pair) and not owned(pair)}
    return kept | wanted


# -- findings -----------------------------------------------------------------


def _findings(
    spec: RolesSpec,
    live: LiveState,
    links: _Links,
    removed_roles: set[str],
    removed_users: set[str],
) -> list[Finding]:
    findings: list[Finding] = []
    users: dict[str, dict[str, Any]] = {
        name: _live_attributes(user)
        for name, user in live.users.items()
        if name not in removed_users
    }
    for name, user in spec.users.items():
        base = users.get(name) or new_user_attributes(user)
        users[name] = {**base, **user_attributes(user)}
    grouped = {user for _group, user in links.group_users}
    for name, values in sorted(users.items()):
        if values["is_admin"]:
            findings.append(Finding(FindingKind.ADMIN, name))
    for name, values in sorted(users.items()):
        if (
            values["status"] == "Active"
            and not values["is_admin"]
            and name not in grouped
        ):
            findings.append(Finding(FindingKind.NO_GROUP, name))

    matrices: dict[str, Mapping[Cell, int]] = {
        name: {cell: role.level(cell) for cell in role.cells}
        for name, role in live.roles.items()
        if name not in removed_roles
    }
    matrices.update({name: role.cells for name, role in spec.roles.items()})
    for action, kind in (
        ("import", FindingKind.IMPORT),
        ("massupdate", FindingKind.MASSUPDATE),
    ):
        for name, cells in sorted(matrices.items()):
            granted = tuple(
                sorted(
                    m
                    for (m, a), lv in cells.items()
                    if a == action and lv == ACL_ALLOW_ALL
                )
            )
            not_set = sum(
                1
                for cell in live.actions
                if cell[1] == action
                and cells.get(cell, ACL_ALLOW_DEFAULT) == ACL_ALLOW_DEFAULT
                and cells.get((cell[0], "access"), ACL_ALLOW_DEFAULT)
                >= ACL_ALLOW_DEFAULT
            )
            if granted:
                findings.append(Finding(kind, name, granted, not_set))
    return findings


# -- text ---------------------------------------------------------------------


def level_word(level: int) -> str:
    """A level as the current language writes it (全部 / all)."""
    words = CHINESE_WORDS if current_language() == "zh_CN" else CANONICAL_WORDS
    return words.get(level, str(level))


def action_word(action: str) -> str:
    if current_language() == "zh_CN":
        return ACTION_LABELS_ZH.get(action, action)
    return action


def module_word(module: str) -> str:
    label = STANDARD_MODULES.get(module)
    if current_language() == "zh_CN" and label:
        return f"{label}({module})"
    return module


_MARKS = {Op.CREATE: "+", Op.UPDATE: "~", Op.REMOVE: "-"}


def render_plan(plan: Plan) -> list[str]:
    """The plan as lines for a person, in the current language."""
    lines: list[str] = []
    if plan.is_empty:
        lines.append(
            _("No changes: SuiteCRM already matches {path}.").format(
                path=plan.spec.path
            )
        )
    else:
        lines.append(
            _(
                "Plan for {path}: {create} to create, {update} to change, {remove} "
                "to remove."
            ).format(
                path=plan.spec.path,
                create=plan.count(Op.CREATE),
                update=plan.count(Op.UPDATE),
                remove=plan.count(Op.REMOVE),
            )
        )
        lines += _render_changes(plan.changes)
    for name in plan.kept:
        lines.append(
            _(
                "  (kept: user {user} is the administrator or the bridge's own user)"
            ).format(user=name)
        )
    lines.append(_("Security review of the result:"))
    lines += [f"  ! {_render_finding(finding)}" for finding in plan.findings]
    if not plan.findings:
        lines.append(_("  nothing to point out"))
    return lines


def _render_changes(changes: Iterable[Change]) -> list[str]:
    lines: list[str] = []
    cells: dict[tuple[Op, str, str], list[Change]] = {}
    for change in changes:
        if change.kind is Kind.CELL:
            module = change.other.split(".", 1)[0]
            cells.setdefault((change.op, change.name, module), []).append(change)
            continue
        lines.append(f"{_MARKS[change.op]} {describe_change(change)}")
    for (op, role, module), group in cells.items():
        parts = []
        for change in sorted(group, key=_action_order):
            action = change.other.split(".", 1)[1]
            if change.before is None:
                parts.append(f"{action_word(action)} {level_word(change.after)}")
            else:
                parts.append(
                    f"{action_word(action)} {level_word(change.before)} → "
                    f"{level_word(change.after)}"
                )
        lines.append(
            f"{_MARKS[op]} "
            + _("role {role}, {module}: {cells}").format(
                role=role, module=module_word(module), cells=", ".join(parts)
            )
        )
    return lines


def _action_order(change: Change) -> int:
    return MODULE_ACTIONS.index(change.other.split(".", 1)[1])


def describe_change(change: Change) -> str:
    """One change (not a cell) as a phrase in the current language."""
    name, other = change.name, change.other
    texts = {
        (Op.CREATE, Kind.GROUP): _("create security group {name}"),
        (Op.UPDATE, Kind.GROUP): _("change security group {name}: {fields}"),
        (Op.REMOVE, Kind.GROUP): _("remove security group {name}"),
        (Op.CREATE, Kind.ROLE): _("create role {name}"),
        (Op.UPDATE, Kind.ROLE): _("change role {name}: {fields}"),
        (Op.REMOVE, Kind.ROLE): _("remove role {name}"),
        (Op.CREATE, Kind.ROWS): _("role {name}: add {other} matrix rows left Not Set"),
        (Op.CREATE, Kind.USER): _("create user {name}: {fields}"),
        (Op.UPDATE, Kind.USER): _("change user {name}: {fields}"),
        (Op.REMOVE, Kind.USER): _("remove user {name}"),
        (Op.CREATE, Kind.PASSWORD): _("user {name}: set the password ({other})"),
        (Op.UPDATE, Kind.PASSWORD): _("user {name}: change the password ({other})"),
        (Op.CREATE, Kind.GROUP_ROLE): _("give security group {name} the role {other}"),
        (Op.REMOVE, Kind.GROUP_ROLE): _(
            "take the role {other} from security group {name}"
        ),
        (Op.CREATE, Kind.GROUP_USER): _("add user {other} to security group {name}"),
        (Op.REMOVE, Kind.GROUP_USER): _(
            "remove user {other} from security group {name}"
        ),
        (Op.CREATE, Kind.USER_ROLE): _("give user {name} the role {other} directly"),
        (Op.REMOVE, Kind.USER_ROLE): _("take the role {other} from user {name}"),
    }
    if change.kind is Kind.PASSWORD:
        other = (
            _("generated, shown once after apply")
            if change.after == "generated"
            else _("from the environment")
        )
    if change.kind is Kind.ROWS:
        other = str(change.after)
    return texts[(change.op, change.kind)].format(
        name=name, other=other, fields=_render_fields(change)
    )


def _render_fields(change: Change) -> str:
    if not isinstance(change.after, dict):
        return ""
    if change.op is Op.CREATE:
        values = change.after or {}
        return ", ".join(f"{key}={_show(value)}" for key, value in values.items())
    before, after = change.before or {}, change.after or {}
    return ", ".join(
        f"{key} {_show(before.get(key))} → {_show(after.get(key))}" for key in after
    )


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return repr(value) if value == "" else str(value)


def _render_finding(finding: Finding) -> str:
    if finding.kind is FindingKind.ADMIN:
        return _("{name} is an administrator: every ACL is bypassed.").format(
            name=finding.name
        )
    if finding.kind is FindingKind.NO_GROUP:
        return _(
            "{name} is active but in no security group: group-level rights show "
            "this user nothing, and records the user creates join no group."
        ).format(name=finding.name)
    text = (
        _("role {name} grants import in: {modules}")
        if finding.kind is FindingKind.IMPORT
        else _("role {name} grants mass update in: {modules}")
    )
    line = text.format(
        name=finding.name, modules=", ".join(module_word(m) for m in finding.modules)
    )
    if finding.not_set:
        line += _(
            " (and in {count} modules left Not Set, where SuiteCRM's default is All)"
        ).format(count=finding.not_set)
    return line
