"""A small SuiteCRM world (users, roles, groups, records) on SQLite and on MariaDB."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from dscrm_bridge.suitecrm import acl
from dscrm_bridge.suitecrm import tables as t

MODULES = ("Accounts", "Contacts", "Opportunities", "SecurityGroups")
TABLES = [
    t.users,
    t.acl_actions,
    t.acl_roles,
    t.acl_roles_actions,
    t.acl_roles_users,
    t.securitygroups,
    t.securitygroups_users,
    t.securitygroups_acl_roles,
    t.securitygroups_records,
    t.accounts,
]
NOW = dt.datetime(2026, 12, 4, 15, 26, 29)


class World:
    """Writes the rows SuiteCRM keeps for users, roles, groups and records."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.action_ids: dict[tuple[str, str], str] = {}
        rows = []
        for module in MODULES:
            for action in acl.MODULE_ACTIONS:
                action_id = str(uuid.uuid4())
                self.action_ids[(module, action)] = action_id
                default = 89 if action == "access" else 90
                rows.append(
                    dict(
                        id=action_id,
                        name=action,
                        category=module,
                        acltype="module",
                        aclaccess=default,
                        deleted=0,
                    )
                )
        self._insert(t.acl_actions, rows)

    def _insert(self, table: sa.Table, rows: list[dict[str, object]]) -> None:
        with self.engine.begin() as conn:
            conn.execute(table.insert(), rows)

    def _row(self, table: sa.Table, **values: object) -> str:
        """Insert one live row with a fresh id; return the id."""
        row_id = str(uuid.uuid4())
        self._insert(table, [{"id": row_id, "deleted": 0, **values}])
        return row_id

    def user(self, name: str, *, admin: bool = False) -> str:
        return self._row(t.users, user_name=name, is_admin=int(admin))

    def role(self, name: str, cells: dict[tuple[str, str], int | None]) -> str:
        role_id = self._row(t.acl_roles, name=name)
        for key, level in cells.items():
            self._row(
                t.acl_roles_actions,
                role_id=role_id,
                action_id=self.action_ids[key],
                access_override=level,
                date_modified=NOW,
            )
        return role_id

    def group(self, name: str, *, roles: tuple[str, ...] = ()) -> str:
        group_id = self._row(t.securitygroups, name=name)
        for role_id in roles:
            self._row(
                t.securitygroups_acl_roles, securitygroup_id=group_id, role_id=role_id
            )
        return group_id

    def join(self, user_id: str, group_id: str) -> None:
        self._row(t.securitygroups_users, securitygroup_id=group_id, user_id=user_id)

    def assign(self, user_id: str, role_id: str, *, deleted: int = 0) -> None:
        self._row(t.acl_roles_users, role_id=role_id, user_id=user_id, deleted=deleted)

    def account(
        self,
        name: str,
        *,
        assigned: str | None,
        created_by: str | None = None,
        groups: tuple[str, ...] = (),
    ) -> str:
        record_id = self._row(
            t.accounts, name=name, assigned_user_id=assigned, created_by=created_by
        )
        for group_id in groups:
            self._row(
                t.securitygroups_records,
                securitygroup_id=group_id,
                record_id=record_id,
                module="Accounts",
            )
        return record_id


@pytest.fixture(
    params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mysql)],
    ids=["sqlite", "mariadb"],
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'suitecrm.db'}"
    else:
        url = request.getfixturevalue("mysql_database")
    engine = sa.create_engine(url)
    t.metadata.create_all(engine, tables=TABLES)
    yield engine
    engine.dispose()


@pytest.fixture()
def world(engine: sa.Engine) -> World:
    return World(engine)
