"""Export round trip; a failure in the middle of an apply leaves SuiteCRM as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dscrm_bridge.errors import ApiError, SuiteCRMError
from dscrm_bridge.provisioning import apply_roles, export_roles, plan_roles
from dscrm_bridge.provisioning.plan import Kind
from dscrm_bridge.sandbox import RunningSandbox
from dscrm_bridge.suitecrm.v8client import V8Client

from .conftest import admin_client, snapshot, write_file

ENV = {"USER1_PW": "admin1234"}

BEFORE = """
groups:
  - {name: 销售, description: 销售部, roles: [售前]}
  - {name: 旧组, roles: [只读]}
roles:
  - name: 临时
    modules: {Accounts: [enabled, owner, owner, owner, none, none, none, none]}
users:
  - user_name: user1
    full_name: 张三
    title: 售前工程师
    groups: [销售]
    roles: [临时]
  - {user_name: leaver, full_name: 离职者, groups: [旧组]}
"""

# Creates, updates, links added and removed, deletes (prune), and cells.
AFTER = """
prune: true
groups:
  - {name: 销售, description: 华东销售部, roles: [售前, 销售经理]}
  - {name: 新组, roles: [财务]}
roles:
  - {name: 售前, extends: 售前, modules: {Accounts: {export: none}}}
users:
  - user_name: user1
    full_name: 张三
    status: inactive
    groups: [新组]
    roles: []
    password_env: USER1_PW
  - {user_name: newbie, full_name: 新人, groups: [销售]}
"""


class FailingClient:
    """The admin client, failing its ``fail_at``-th write with SuiteCRM's answer."""

    WRITES = ("create", "update", "delete", "relate", "unrelate")

    def __init__(self, client: V8Client, fail_at: int) -> None:
        self._client = client
        self._fail_at = fail_at
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in self.WRITES:
            return attribute

        def write(*args: Any, **kwargs: Any) -> Any:
            self.writes += 1
            if self.writes == self._fail_at:
                raise ApiError(
                    "SuiteCRM answered POST /V8/module with HTTP 400: Database failure",
                    status=400,
                )
            return attribute(*args, **kwargs)

        return write


def _apply(box: RunningSandbox, path: Path, client: Any = None) -> Any:
    with admin_client(box) as admin:
        return apply_roles(box.engine, client or admin, path, env=ENV)


def test_export_then_apply_to_an_empty_sandbox_then_export_gives_the_same_file(
    sqlite_sandbox_factory: Any, tmp_path: Path
) -> None:
    source_file = write_file(tmp_path, BEFORE)
    with sqlite_sandbox_factory("first") as first:
        _apply(first, source_file)
        exported = export_roles(first.engine)
    exported_file = write_file(tmp_path, exported, "exported.yaml")

    with sqlite_sandbox_factory("second") as second:
        _apply(second, exported_file)
        again = export_roles(second.engine)
        replan = plan_roles(second.engine, exported_file)

    assert again == exported
    assert replan.changes == ()
    assert "- name: 临时" in exported and "full_name: 张三" in exported


@pytest.mark.parametrize("fail_at", [1, 4, 9], ids=["first", "early", "late"])
def test_a_failed_v8_step_undoes_everything_before_it(
    sqlite_sandbox: RunningSandbox, tmp_path: Path, fail_at: int
) -> None:
    _apply(sqlite_sandbox, write_file(tmp_path, BEFORE))
    before = snapshot(sqlite_sandbox.engine)
    after_file = write_file(tmp_path, AFTER, "after.yaml")
    assert len(plan_roles(sqlite_sandbox.engine, after_file, env=ENV).changes) > 9

    with admin_client(sqlite_sandbox) as admin:
        failing = FailingClient(admin, fail_at)
        with pytest.raises(SuiteCRMError) as caught:
            apply_roles(sqlite_sandbox.engine, failing, after_file, env=ENV)

    assert "Database failure" in str(caught.value)
    assert "SuiteCRM 保持原状" in str(caught.value)
    assert snapshot(sqlite_sandbox.engine) == before


def test_a_failed_matrix_write_undoes_the_v8_steps(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    _apply(sandbox, write_file(tmp_path, BEFORE))
    before = snapshot(sandbox.engine)
    after_file = write_file(tmp_path, AFTER, "after.yaml")
    plan = plan_roles(sandbox.engine, after_file, env=ENV)
    assert any(c.kind is Kind.CELL for c in plan.changes)

    def refuse(  # type: ignore[no-untyped-def]
        conn, cursor, statement, parameters, context, executemany
    ):
        if statement.startswith("INSERT INTO acl_roles_actions"):
            raise sa.exc.OperationalError(statement, parameters, Exception("disk full"))

    sa.event.listen(sandbox.engine, "before_cursor_execute", refuse)
    try:
        with pytest.raises(SuiteCRMError) as caught:
            _apply(sandbox, after_file)
    finally:
        sa.event.remove(sandbox.engine, "before_cursor_execute", refuse)

    assert "SuiteCRM 保持原状" in str(caught.value)
    assert snapshot(sandbox.engine) == before
