"""Carrying a plan out: V8 where SuiteCRM allows it, SQL where it does not.

Through the one V8 client: groups, roles and users (create, change, delete),
passwords (``user_hash`` in the UI's bcrypt-of-md5 form, Q23), and every
membership (``aclroles`` and ``users`` links of SecurityGroups, ``users`` of
ACLRoles; Q34).  Through SQL, in one transaction and last: the role matrix,
which V8 cannot set (Q35), written as SuiteCRM's role editor saves it (B7c): a
row for every action of every module of the matrix plus the eight column-header
rows, fresh ids, ``deleted = 0``, ``date_modified`` now (UTC).

Every V8 step records how to undo it.  When any step fails - V8 or the SQL
transaction - the SQL is rolled back and the recorded undo steps run in reverse,
so SuiteCRM is left as it was.  A deleted record is restored with SQL, as V8
cannot undelete (Q30).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import sqlalchemy as sa

from dscrm_bridge.errors import BridgeError, SuiteCRMError
from dscrm_bridge.i18n import _
from dscrm_bridge.provisioning.live import LiveState
from dscrm_bridge.provisioning.model import RoleSpec
from dscrm_bridge.provisioning.plan import (
    Change,
    Kind,
    Op,
    Plan,
    describe_change,
    new_user_attributes,
)
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.suitecrm.acl import MODULE_ACTIONS
from dscrm_bridge.suitecrm.gateway import database_error
from dscrm_bridge.suitecrm.passwords import generate_password, hash_password
from dscrm_bridge.suitecrm.v8client import V8Client

logger = logging.getLogger(__name__)

Report = Callable[[str], None]

# link of the first module -> (module, link, related module) per kind of membership
_LINKS: Mapping[Kind, tuple[str, str, str]] = {
    Kind.GROUP_ROLE: ("SecurityGroups", "aclroles", "ACLRoles"),
    Kind.GROUP_USER: ("SecurityGroups", "users", "Users"),
    Kind.USER_ROLE: ("ACLRoles", "users", "Users"),
}
_MODULES: Mapping[Kind, tuple[str, sa.Table]] = {
    Kind.GROUP: ("SecurityGroups", t.securitygroups),
    Kind.ROLE: ("ACLRoles", t.acl_roles),
    Kind.USER: ("Users", t.users),
}


@dataclass
class ApplyResult:
    """What an apply did; holds the generated passwords, shown once."""

    plan: Plan
    applied: int
    generated_passwords: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass
class _Undo:
    what: str
    run: Callable[[], object]


def apply_plan(
    plan: Plan,
    *,
    engine: sa.Engine,
    client: V8Client,
    report: Report | None = None,
) -> ApplyResult:
    """Make SuiteCRM match ``plan.spec``; an empty plan touches nothing.

    Raises:
        SuiteCRMError: a step failed; everything done before was undone (the
            message says so, or lists what could not be undone).
    """
    if plan.is_empty:
        return ApplyResult(plan=plan, applied=0)
    run = _Run(plan, engine, client, report or (lambda line: None))
    try:
        run.v8_steps()
        run.sql_matrix()
    except BridgeError as exc:
        _fail(plan, run, exc)
    except sa.exc.SQLAlchemyError as exc:
        _fail(plan, run, database_error(engine, exc))
    except Exception:
        # Not an error of SuiteCRM's making (a bug): still leave SuiteCRM as it was.
        run.undo()
        raise
    logger.info("applied %d changes of %s", len(plan.changes), plan.spec.path)
    return ApplyResult(
        plan=plan,
        applied=len(plan.changes),
        generated_passwords=run.generated,
    )


def _fail(plan: Plan, run: _Run, exc: BridgeError) -> NoReturn:
    failed = run.undo()
    step = run.current or "-"
    if failed:
        raise SuiteCRMError(
            _(
                'Applying {path} failed at "{step}": {error}. These changes could '
                "not be undone and need a look in SuiteCRM: {failed}"
            ).format(
                path=plan.spec.path, step=step, error=exc, failed="; ".join(failed)
            )
        ) from exc
    raise SuiteCRMError(
        _(
            'Applying {path} failed at "{step}": {error}. Every change made before '
            "was undone; SuiteCRM is as it was."
        ).format(path=plan.spec.path, step=step, error=exc)
    ) from exc


class _Run:
    """One apply: ids by name, the undo log, and the steps in order."""

    def __init__(
        self, plan: Plan, engine: sa.Engine, client: V8Client, report: Report
    ) -> None:
        self.plan = plan
        self.live: LiveState = plan.live
        self.engine = engine
        self.client = client
        self.report = report
        self.undo_log: list[_Undo] = []
        self.generated: dict[str, str] = {}
        self.current = ""
        self.now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        self.ids: dict[Kind, dict[str, str]] = {
            Kind.GROUP: {n: g.id for n, g in self.live.groups.items()},
            Kind.ROLE: {n: r.id for n, r in self.live.roles.items()},
            Kind.USER: {n: u.id for n, u in self.live.users.items()},
        }

    # -- V8 ---------------------------------------------------------------

    def v8_steps(self) -> None:
        changes = self.plan.changes
        order: list[tuple[Op, tuple[Kind, ...]]] = [
            (Op.CREATE, (Kind.GROUP, Kind.ROLE, Kind.USER)),
            (Op.UPDATE, (Kind.GROUP, Kind.ROLE, Kind.USER, Kind.PASSWORD)),
            (Op.CREATE, (Kind.GROUP_ROLE, Kind.GROUP_USER, Kind.USER_ROLE)),
            (Op.REMOVE, (Kind.GROUP_ROLE, Kind.GROUP_USER, Kind.USER_ROLE)),
            (Op.REMOVE, (Kind.GROUP, Kind.ROLE, Kind.USER)),
        ]
        for op, kinds in order:
            for change in changes:
                if change.op is op and change.kind in kinds:
                    self._step(change)

    def _step(self, change: Change) -> None:
        self.current = describe_change(change)
        self.report(self.current)
        if change.kind in _LINKS:
            self._link(change)
        elif change.op is Op.CREATE:
            self._create(change)
        elif change.op is Op.UPDATE:
            self._update(change)
        else:
            self._remove(change)

    def _create(self, change: Change) -> None:
        module, _table = _MODULES[change.kind]
        record_id = str(uuid.uuid4())
        if change.kind is Kind.USER:
            attributes = self._new_user(change.name)
        else:
            attributes = {"name": change.name, **change.after}
        self.client.create(module, attributes, record_id=record_id)
        self.ids[change.kind][change.name] = record_id
        self.undo_log.append(
            _Undo(
                _("delete the new {module} {name}").format(
                    module=module, name=change.name
                ),
                lambda: self.client.delete(module, record_id),
            )
        )

    def _new_user(self, user_name: str) -> dict[str, Any]:
        spec = self.plan.spec.users[user_name]
        password = self.plan.passwords.get(user_name)
        generated = password is None
        if password is None:
            password = generate_password()
            self.generated[user_name] = password
        values = new_user_attributes(spec)
        attributes: dict[str, Any] = {
            "user_name": user_name,
            **_wire_user(values),
            # The UI's edit form defaults the employee status too (acl-notes 4).
            "employee_status": "Active",
            "user_hash": hash_password(password),
            "pwd_last_changed": self.now.strftime("%Y-%m-%d %H:%M:%S"),
            # A generated password must be changed at the first login.
            "system_generated_password": "1" if generated else "0",
        }
        return attributes

    def _update(self, change: Change) -> None:
        kind = Kind.USER if change.kind is Kind.PASSWORD else change.kind
        module, _table = _MODULES[kind]
        record_id = self.ids[kind][change.name]
        if change.kind is Kind.PASSWORD:
            password = self.plan.passwords[change.name]
            new = {
                "user_hash": hash_password(password),
                "pwd_last_changed": self.now.strftime("%Y-%m-%d %H:%M:%S"),
                "system_generated_password": "0",
            }
            old = {"user_hash": self.live.users[change.name].user_hash}
        elif kind is Kind.USER:
            new = _wire_user(change.after)
            old = _wire_user(change.before)
        else:
            new, old = dict(change.after), dict(change.before)
        self.client.update(module, record_id, new)
        self.undo_log.append(
            _Undo(
                _("restore {module} {name}").format(module=module, name=change.name),
                lambda: self.client.update(module, record_id, old),
            )
        )

    def _link(self, change: Change) -> None:
        module, link, related = _LINKS[change.kind]
        first, second = change.name, change.other
        if change.kind is Kind.USER_ROLE:
            first, second = (
                second,
                first,
            )  # stored as (user, role); linked from the role
        first_kind = Kind.ROLE if module == "ACLRoles" else Kind.GROUP
        second_kind = Kind.ROLE if related == "ACLRoles" else Kind.USER
        record_id = self.ids[first_kind][first]
        related_id = self.ids[second_kind][second]
        if change.op is Op.CREATE:
            self.client.relate(module, record_id, link, related, related_id)
            undo: Callable[[], object] = lambda: self.client.unrelate(  # noqa: E731
                module, record_id, link, related_id
            )
        else:
            self.client.unrelate(module, record_id, link, related_id)
            undo = lambda: self.client.relate(  # noqa: E731
                module, record_id, link, related, related_id
            )
        self.undo_log.append(_Undo(_("undo {step}").format(step=self.current), undo))

    def _remove(self, change: Change) -> None:
        module, table = _MODULES[change.kind]
        record_id = self.ids[change.kind][change.name]
        rows: tuple[str, ...] = ()
        if change.kind is Kind.ROLE:
            # Deleting a role soft-deletes its matrix rows too (acl-notes 2),
            # header rows included: note them all to restore them on undo.
            rra = t.acl_roles_actions
            with self.engine.connect() as conn:
                rows = tuple(
                    conn.execute(
                        sa.select(rra.c.id).where(
                            rra.c.role_id == record_id, rra.c.deleted == 0
                        )
                    ).scalars()
                )
        self.client.delete(module, record_id)
        self.undo_log.append(
            _Undo(
                _("restore the deleted {module} {name}").format(
                    module=module, name=change.name
                ),
                lambda: self._undelete(table, record_id, rows),
            )
        )

    def _undelete(self, table: sa.Table, record_id: str, rows: tuple[str, ...]) -> None:
        # V8 cannot undelete (Q30): put the deleted flags back with SQL.
        with self.engine.begin() as conn:
            conn.execute(
                table.update().where(table.c.id == record_id).values(deleted=0)
            )
            if rows:
                rra = t.acl_roles_actions
                conn.execute(rra.update().where(rra.c.id.in_(rows)).values(deleted=0))

    # -- SQL ------------------------------------------------------------------

    def sql_matrix(self) -> None:
        """Write the role matrix cells in one transaction (Q35: V8 cannot)."""
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for change in self.plan.changes:
            if change.kind is Kind.ROLE and change.op is Op.CREATE:
                inserts += self._full_matrix(self.plan.spec.roles[change.name])
            elif change.kind is Kind.CELL and change.name in self.live.roles:
                self._cell_rows(change, inserts, updates)
            elif change.kind is Kind.ROWS:
                inserts += self._missing_rows(change.name)
        if not inserts and not updates:
            return
        self.current = _("write the role matrix ({count} rows)").format(
            count=len(inserts) + len(updates)
        )
        self.report(self.current)
        rra = t.acl_roles_actions
        with self.engine.begin() as conn:
            if inserts:
                conn.execute(rra.insert(), inserts)
            for row in updates:
                conn.execute(
                    rra.update()
                    .where(rra.c.id == row["row_id"])
                    .values(access_override=row["level"], date_modified=self.now)
                )

    def _row(self, role_id: str, action_id: str, level: int) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "role_id": role_id,
            "action_id": action_id,
            "access_override": level,
            "date_modified": self.now,
            "deleted": 0,
        }

    def _full_matrix(self, role: RoleSpec) -> list[dict[str, Any]]:
        role_id = self.ids[Kind.ROLE][role.name]
        rows = [
            self._row(role_id, action_id, role.level(*cell))
            for cell, action_id in sorted(self.live.actions.items())
        ]
        # B7c: the editor's column-header selects are saved too, as rows whose
        # action_id is the action's name, Not Set.
        rows += [self._row(role_id, action, 0) for action in sorted(MODULE_ACTIONS)]
        return rows

    def _cell_rows(
        self,
        change: Change,
        inserts: list[dict[str, Any]],
        updates: list[dict[str, Any]],
    ) -> None:
        role = self.live.roles[change.name]
        module, action = change.other.split(".", 1)
        cell = (module, action)
        if change.op is Op.CREATE:
            inserts.append(self._row(role.id, self.live.actions[cell], change.after))
            return
        updates += [{"row_id": row, "level": change.after} for row in role.rows[cell]]

    def _missing_rows(self, name: str) -> list[dict[str, Any]]:
        role = self.live.roles[name]
        spec = self.plan.spec.roles[name]
        return [
            self._row(role.id, action_id, 0)
            for cell, action_id in sorted(self.live.actions.items())
            if cell not in role.rows and spec.level(*cell) == 0
        ]

    # -- failure ----------------------------------------------------------------

    def undo(self) -> list[str]:
        """Run the undo log backwards; the steps that failed, by description."""
        failed = []
        for step in reversed(self.undo_log):
            try:
                step.run()
            except (BridgeError, sa.exc.SQLAlchemyError) as exc:
                logger.error("could not undo: %s (%s)", step.what, type(exc).__name__)
                failed.append(step.what)
        return failed


def _wire_user(values: Mapping[str, Any]) -> dict[str, Any]:
    """User attributes as V8 takes them (flags as "1"/"0", email as email1)."""
    wire: dict[str, Any] = {}
    for key, value in values.items():
        if key == "is_admin":
            wire[key] = "1" if value else "0"
        elif key == "email":
            wire["email1"] = value
        else:
            wire[key] = value
    return wire
