"""Effective ACL access of a SuiteCRM user: the one evaluator of the bridge.

It answers, from SuiteCRM's own tables, what SuiteCRM 7.13 with SecuritySuite
answers for a user, a module (ACL category) and an action:

    effective_access(conn, user_id, module, action) -> AccessDecision
    user_access(conn, user_id, *, modules=None) -> UserAccess   (every cell at once)
    visible_clause(conn, user_id, module, table) -> WHERE clause | None
    access_clause(access, module, table, *, action="view")  (same, from a UserAccess)
    can_view(conn, user_id, module, record_id) -> bool

How SuiteCRM combines roles (acl-notes section 3; decided in
``ACLAction::getUserActions()`` of ``modules/ACLActions/ACLAction.php`` in
salesagility/SuiteCRM 7.13, and applied by ``ACLAction::userHasAccess()`` /
``ACLAction::hasAccess()`` in the same file and ``ACLController::checkAccess()``
in ``modules/ACL/ACLController.php``):

1. ``users.is_admin = 1`` bypasses every check (``checkAccess`` returns early).
2. Roles assigned to the user directly (``acl_roles_users``) and roles of the
   user's security groups (``securitygroups_users`` -> ``securitygroups_acl_roles``)
   are read in that order.  With ``securitysuite_user_role_precedence`` (on by
   default) as soon as the user has one direct role, group roles are ignored
   entirely, for every module.
3. A cell whose ``access_override`` is NULL or 0 ("Not Set") contributes the
   action's default, ``acl_actions.aclaccess``; an explicit override always beats
   such a default.  Among several explicit overrides
   ``securitysuite_additive`` (on by default) keeps the highest, else the lowest.
4. A user with no role at all gets the ``acl_actions`` defaults.
5. A module whose ``access`` ends below Enabled (89) denies every action.
6. Per record: All (90) any record, Group (80) owner or a record linked to one
   of the user's groups (``securitygroups_records``), Owner (75) owner only,
   anything else nothing.

The joins of rule 2 look only at the ``deleted`` flags of the join rows, not at
``acl_roles.deleted`` or ``securitygroups.deleted``: SuiteCRM's query does the
same, so this evaluator does too.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from dscrm_bridge.errors import InputError
from dscrm_bridge.i18n import _
from dscrm_bridge.suitecrm import tables as t

logger = logging.getLogger(__name__)

# Access-level numbers of modules/ACLActions/actiondefs.override.php (acl-notes 1).
ACL_ALLOW_ALL = 90
ACL_ALLOW_ENABLED = 89
ACL_ALLOW_GROUP = 80
ACL_ALLOW_OWNER = 75
ACL_ALLOW_DEFAULT = 0
ACL_ALLOW_DISABLED = -98
ACL_ALLOW_NONE = -99

# The eight actions of every module in acl_actions (acl-notes 2), in the order
# SuiteCRM's role editor shows them.
MODULE_ACTIONS = (
    "access",
    "view",
    "list",
    "edit",
    "delete",
    "import",
    "export",
    "massupdate",
)


class Scope(enum.Enum):
    """What a level means: for one role cell or for a user's effective right."""

    ALL = "all"
    GROUP = "group"
    OWNER = "owner"
    NONE = "none"
    ENABLED = "enabled"
    DISABLED = "disabled"
    NOT_SET = "not_set"


LEVEL_SCOPES: Mapping[int, Scope] = {
    ACL_ALLOW_ALL: Scope.ALL,
    ACL_ALLOW_ENABLED: Scope.ENABLED,
    ACL_ALLOW_GROUP: Scope.GROUP,
    ACL_ALLOW_OWNER: Scope.OWNER,
    ACL_ALLOW_DEFAULT: Scope.NOT_SET,
    ACL_ALLOW_DISABLED: Scope.DISABLED,
    ACL_ALLOW_NONE: Scope.NONE,
}
SCOPE_LEVELS: Mapping[Scope, int] = {scope: lvl for lvl, scope in LEVEL_SCOPES.items()}


class Rule(enum.StrEnum):
    """Which of SuiteCRM's rules decided an access (identifiers, not UI text)."""

    ADMIN = "admin"
    DIRECT_ROLE = "direct-role"
    GROUP_ROLE = "group-role"
    ROLES_NOT_SET = "roles-not-set"
    NO_ROLE = "no-role"
    MODULE_DISABLED = "module-disabled"
    NO_ACL_ACTIONS = "no-acl-actions"
    UNKNOWN_USER = "unknown-user"


@dataclass(frozen=True)
class AclSettings:
    """SecuritySuite switches of SuiteCRM's config.php, with the installer's values."""

    additive: bool = True
    user_role_precedence: bool = True


DEFAULT_SETTINGS = AclSettings()


@dataclass(frozen=True)
class AccessDecision:
    """A user's effective right for one module and action.

    ``level`` is SuiteCRM's number as ``getUserActions`` leaves it; ``scope`` is
    what the user may do after every rule (``DISABLED`` when the module's access
    is disabled, ``NONE`` when the level grants nothing); ``roles`` names the
    roles whose cell decided it; ``rule`` says which rule applied.
    """

    level: int
    scope: Scope
    roles: tuple[str, ...]
    rule: str

    @property
    def allowed(self) -> bool:
        """Whether the action is allowed on at least some records."""
        return self.scope in (Scope.ALL, Scope.GROUP, Scope.OWNER, Scope.ENABLED)


@dataclass(frozen=True)
class _Role:
    id: str
    name: str
    direct: bool


@dataclass
class UserAccess:
    """Everything needed to decide a user's rights, loaded in a few queries."""

    user_id: str
    exists: bool
    is_admin: bool
    roles: list[_Role]
    group_ids: list[str]
    defaults: dict[tuple[str, str], int]
    overrides: dict[tuple[str, str], dict[str, list[int]]] = field(default_factory=dict)
    settings: AclSettings = DEFAULT_SETTINGS

    def decide(self, module: str, action: str) -> AccessDecision:
        """The effective right for ``action`` on ``module`` (rules 1-5)."""
        if not self.exists:
            return AccessDecision(ACL_ALLOW_NONE, Scope.NONE, (), Rule.UNKNOWN_USER)
        if self.is_admin:
            level = ACL_ALLOW_ENABLED if action == "access" else ACL_ALLOW_ALL
            return AccessDecision(level, LEVEL_SCOPES[level], (), Rule.ADMIN)
        if (module, action) not in self.defaults:
            # No acl_actions row: userHasAccess finds no level and denies.
            return AccessDecision(ACL_ALLOW_NONE, Scope.NONE, (), Rule.NO_ACL_ACTIONS)
        level, roles, rule = self._level(module, action)
        if action == "access":
            scope = Scope.ENABLED if level >= ACL_ALLOW_ENABLED else Scope.DISABLED
            return AccessDecision(level, scope, roles, rule)
        access_level, access_roles, _rule = self._level(module, "access")
        if access_level < ACL_ALLOW_ENABLED:
            return AccessDecision(
                level, Scope.DISABLED, access_roles, Rule.MODULE_DISABLED
            )
        return AccessDecision(level, _granted_scope(level), roles, rule)

    def _level(self, module: str, action: str) -> tuple[int, tuple[str, ...], str]:
        default = self.defaults[(module, action)]
        deciding = self._deciding_roles()
        if not deciding:
            return default, (), Rule.NO_ROLE
        cell = self.overrides.get((module, action), {})
        explicit = [
            (value, role)
            for role in deciding
            for value in cell.get(role.id, [])
            if value  # NULL and 0 are "Not Set" (rule 3)
        ]
        if not explicit:
            return default, (), Rule.ROLES_NOT_SET
        pick = max if self.settings.additive else min
        level = pick(value for value, _role in explicit)
        winners = [role for value, role in explicit if value == level]
        names = tuple(dict.fromkeys(role.name for role in winners))
        rule = Rule.DIRECT_ROLE if any(r.direct for r in winners) else Rule.GROUP_ROLE
        return level, names, rule

    def _deciding_roles(self) -> list[_Role]:
        direct = [role for role in self.roles if role.direct]
        if direct and self.settings.user_role_precedence:
            return direct
        return self.roles


def _granted_scope(level: int) -> Scope:
    # hasAccess grants only All, Group (owner or group) and Owner (rule 6).
    if level in (ACL_ALLOW_ALL, ACL_ALLOW_GROUP, ACL_ALLOW_OWNER):
        return LEVEL_SCOPES[level]
    return Scope.NONE


def user_access(
    conn: sa.Connection,
    user_id: str,
    *,
    modules: Iterable[str] | None = None,
    settings: AclSettings = DEFAULT_SETTINGS,
) -> UserAccess:
    """Load what decides ``user_id``'s rights (for ``modules``, default all)."""
    users = t.users
    user = conn.execute(
        sa.select(users.c.is_admin).where(
            users.c.id == user_id, sa.func.coalesce(users.c.deleted, 0) == 0
        )
    ).first()
    if user is None:
        return UserAccess(user_id, False, False, [], [], {}, settings=settings)

    wanted = list(modules) if modules is not None else None
    roles = _load_roles(conn, user_id)
    access = UserAccess(
        user_id=user_id,
        exists=True,
        is_admin=bool(user.is_admin),
        roles=roles,
        group_ids=_load_group_ids(conn, user_id),
        defaults=_load_defaults(conn, wanted),
        settings=settings,
    )
    if roles and not access.is_admin:
        access.overrides = _load_overrides(conn, [r.id for r in roles], wanted)
    return access


def _load_roles(conn: sa.Connection, user_id: str) -> list[_Role]:
    aru = t.acl_roles_users
    sgu = t.securitygroups_users
    sar = t.securitygroups_acl_roles
    roles_t = t.acl_roles
    direct = conn.execute(
        sa.select(aru.c.role_id, roles_t.c.name)
        .select_from(aru.outerjoin(roles_t, roles_t.c.id == aru.c.role_id))
        .where(aru.c.user_id == user_id, aru.c.deleted == 0)
    ).all()
    via_groups = conn.execute(
        sa.select(sar.c.role_id, roles_t.c.name)
        .select_from(
            sgu.join(sar, sar.c.securitygroup_id == sgu.c.securitygroup_id).outerjoin(
                roles_t, roles_t.c.id == sar.c.role_id
            )
        )
        .where(sgu.c.user_id == user_id, sgu.c.deleted == 0, sar.c.deleted == 0)
    ).all()
    found: dict[tuple[str, bool], _Role] = {}
    for rows, is_direct in ((direct, True), (via_groups, False)):
        for role_id, name in rows:
            key = (str(role_id), is_direct)
            found.setdefault(key, _Role(str(role_id), str(name or role_id), is_direct))
    return list(found.values())


def _load_group_ids(conn: sa.Connection, user_id: str) -> list[str]:
    sgu = t.securitygroups_users
    groups = t.securitygroups
    rows = conn.execute(
        sa.select(sgu.c.securitygroup_id)
        .join(groups, groups.c.id == sgu.c.securitygroup_id)
        .where(sgu.c.user_id == user_id, sgu.c.deleted == 0, groups.c.deleted == 0)
    ).scalars()
    return list(dict.fromkeys(str(row) for row in rows))


def _module_actions(wanted: list[str] | None) -> sa.ColumnElement[bool]:
    acts = t.acl_actions
    clause = sa.and_(acts.c.acltype == "module", acts.c.deleted == 0)
    if wanted is not None:
        clause = sa.and_(clause, acts.c.category.in_(wanted))
    return clause


def _load_defaults(
    conn: sa.Connection, wanted: list[str] | None
) -> dict[tuple[str, str], int]:
    acts = t.acl_actions
    rows = conn.execute(
        sa.select(acts.c.category, acts.c.name, acts.c.aclaccess).where(
            _module_actions(wanted)
        )
    )
    return {(r.category, r.name): int(r.aclaccess or 0) for r in rows}


def _load_overrides(
    conn: sa.Connection, role_ids: list[str], wanted: list[str] | None
) -> dict[tuple[str, str], dict[str, list[int]]]:
    acts = t.acl_actions
    rra = t.acl_roles_actions
    rows = conn.execute(
        sa.select(acts.c.category, acts.c.name, rra.c.role_id, rra.c.access_override)
        .join(rra, rra.c.action_id == acts.c.id)
        .where(
            _module_actions(wanted),
            rra.c.role_id.in_(role_ids),
            rra.c.deleted == 0,
        )
    )
    found: dict[tuple[str, str], dict[str, list[int]]] = {}
    for row in rows:
        cell = found.setdefault((row.category, row.name), {})
        cell.setdefault(str(row.role_id), []).append(int(row.access_override or 0))
    return found


def effective_access(
    conn: sa.Connection,
    user_id: str,
    module: str,
    action: str,
    *,
    settings: AclSettings = DEFAULT_SETTINGS,
) -> AccessDecision:
    """The effective right of ``user_id`` for ``action`` on ``module``."""
    access = user_access(conn, user_id, modules=[module], settings=settings)
    return access.decide(module, action)


# Tables of the modules the bridge knows, for per-record checks.
MODULE_TABLES: Mapping[str, sa.Table] = {
    "Accounts": t.accounts,
    "Contacts": t.contacts,
    "Notes": t.notes,
    "Opportunities": t.opportunities,
    "Documents": t.documents,
    "Meetings": t.meetings,
    "Calls": t.calls,
    "Tasks": t.tasks,
    "Leads": t.leads,
    "Cases": t.cases,
    "Users": t.users,
    "SecurityGroups": t.securitygroups,
    "ACLRoles": t.acl_roles,
    "SugarFeed": t.sugarfeed,
}


def visible_clause(
    conn: sa.Connection,
    user_id: str,
    module: str,
    table: sa.Table,
    *,
    action: str = "view",
    settings: AclSettings = DEFAULT_SETTINGS,
) -> sa.ColumnElement[bool] | None:
    """A WHERE clause on ``table`` for the records of ``module`` the user may view.

    None means no restriction (admin, or All).  ``action`` may name another
    per-record action (``edit``, ``delete``, ``list``).
    """
    access = user_access(conn, user_id, modules=[module], settings=settings)
    return access_clause(access, module, table, action=action)


def access_clause(
    access: UserAccess, module: str, table: sa.Table, *, action: str = "view"
) -> sa.ColumnElement[bool] | None:
    """:func:`visible_clause` from an already loaded :class:`UserAccess`."""
    decision = access.decide(module, action)
    if decision.scope is Scope.ALL:
        return None
    if decision.scope is Scope.OWNER:
        return _owner_clause(table, access.user_id)
    if decision.scope is Scope.GROUP:
        # hasAccess: an owner passes a Group check too.
        return sa.or_(
            _owner_clause(table, access.user_id), _group_clause(table, module, access)
        )
    return sa.false()


def _owner_clause(table: sa.Table, user_id: str) -> sa.ColumnElement[bool]:
    # SugarBean::isOwner (data/SugarBean.php): the owner is the assigned user; only
    # when assigned_user_id is NULL (or the table has no such column) does the
    # creator, created_by, count.  An empty string '' assigns nobody.
    # NOTE: SuiteCRM's list queries (SugarBean::getOwnerWhere) use
    # assigned_user_id alone; this clause follows the per-record view check.
    if "assigned_user_id" not in table.c:
        return table.c.created_by == user_id
    assigned = table.c.assigned_user_id
    return sa.or_(
        assigned == user_id,
        sa.and_(assigned.is_(None), table.c.created_by == user_id),
    )


def _group_clause(
    table: sa.Table, module: str, access: UserAccess
) -> sa.ColumnElement[bool]:
    # SecurityGroup::getGroupWhere (modules/SecurityGroups/SecurityGroup.php): the
    # record is linked by securitygroups_records to a live group the user is in;
    # for the SecurityGroups module itself, the group is one of the user's.
    if not access.group_ids:
        return sa.false()
    if module == "SecurityGroups":
        return table.c.id.in_(access.group_ids)
    sgr = t.securitygroups_records
    linked = sa.select(sgr.c.record_id).where(
        sgr.c.module == module,
        sgr.c.deleted == 0,
        sgr.c.securitygroup_id.in_(access.group_ids),
    )
    return table.c.id.in_(linked)


def can_view(
    conn: sa.Connection,
    user_id: str,
    module: str,
    record_id: str,
    *,
    settings: AclSettings = DEFAULT_SETTINGS,
) -> bool:
    """Whether ``user_id`` may view record ``record_id`` of ``module``."""
    table = MODULE_TABLES.get(module)
    if table is None:
        raise InputError(
            _(
                "Module {module} is not known to the bridge; use one of: {known}."
            ).format(module=module, known=", ".join(sorted(MODULE_TABLES)))
        )
    clause = visible_clause(conn, user_id, module, table, settings=settings)
    query = sa.select(table.c.id).where(table.c.id == record_id)
    if "deleted" in table.c:
        query = query.where(sa.func.coalesce(table.c.deleted, 0) == 0)
    if clause is not None:
        query = query.where(clause)
    return conn.execute(query).first() is not None
