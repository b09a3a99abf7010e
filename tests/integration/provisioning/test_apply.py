"""Presets applied through V8 + SQL, rows as SuiteCRM's editor writes them."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from dscrm_bridge.provisioning import apply_roles, explain_roles, plan_roles
from dscrm_bridge.provisioning.loader import presets
from dscrm_bridge.sandbox import RunningSandbox
from dscrm_bridge.suitecrm import acl
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.suitecrm.passwords import verify_password

from .conftest import admin_client, counted_writes, user_client, write_file

PRESET_NAMES = ("销售总监", "销售经理", "销售代表", "售前", "客服", "财务", "只读")
ENV = {"ZHANGSAN_PW": "张三的密码🔑", "LISI_PW": "lisi-pw-2026"}

PRESETS_FILE = """
groups:
  - name: 销售
    description: 销售部 🚀
    roles: [售前, 销售代表]
  - name: 管理层
    roles: [销售总监, 销售经理, 财务]
  - name: 服务
    roles: [客服, 只读]
users:
  - user_name: zhangsan
    full_name: 张三
    title: 售前工程师
    groups: [销售]
    password_env: ZHANGSAN_PW
  - user_name: lisi
    full_name: 李四
    groups: [管理层, 服务]
    password_env: LISI_PW
  - user_name: wangwu
    full_name: 王五
    groups: [服务]
"""


def _apply(box: RunningSandbox, path: Path, **options):  # type: ignore[no-untyped-def]
    with admin_client(box) as client:
        return apply_roles(box.engine, client, path, env=ENV, **options)


def _matrix_rows(engine: sa.Engine, role: str) -> list[sa.Row]:
    rra, roles = t.acl_roles_actions, t.acl_roles
    with engine.connect() as conn:
        return conn.execute(
            sa.select(rra)
            .join(roles, roles.c.id == rra.c.role_id)
            .where(roles.c.name == role, roles.c.deleted == 0)
        ).all()


def _assert_presets_applied(box: RunningSandbox, tmp_path: Path) -> None:
    path = write_file(tmp_path, PRESETS_FILE)

    result = _apply(box, path)

    assert result is not None and result.applied > 0
    assert set(result.generated_passwords) == {"wangwu"}
    with box.engine.connect() as conn:
        actions = {
            row.id: (row.category, row.name)
            for row in conn.execute(
                sa.select(t.acl_actions).where(t.acl_actions.c.acltype == "module")
            )
            if row.category != "Users"
        }
        hashes = dict(
            conn.execute(sa.select(t.users.c.user_name, t.users.c.user_hash)).all()
        )
    for name in PRESET_NAMES:
        rows = _matrix_rows(box.engine, name)
        # B7c: one row per action of every matrix module, plus 8 header rows
        assert len(rows) == len(actions) + 8
        assert {r.action_id for r in rows} == set(actions) | set(acl.MODULE_ACTIONS)
        assert all(r.deleted == 0 and r.date_modified is not None for r in rows)
        stored = {
            actions[r.action_id]: r.access_override
            for r in rows
            if r.action_id in actions
        }
        preset = presets()[name]
        assert stored == {cell: preset.level(*cell) for cell in actions.values()}
    assert hashes["zhangsan"].startswith("$2y$10$")
    assert verify_password(ENV["ZHANGSAN_PW"], hashes["zhangsan"])
    with user_client(box, "zhangsan", ENV["ZHANGSAN_PW"]) as zhangsan:
        assert zhangsan.current_user().attributes["user_name"] == "zhangsan"
    with user_client(box, "wangwu", result.generated_passwords["wangwu"]) as wangwu:
        assert wangwu.current_user().attributes["user_name"] == "wangwu"

    with counted_writes(box.engine) as writes:
        again = _apply(box, path)

    assert again is not None and again.applied == 0
    assert writes == []


def test_presets_on_the_sandbox_then_a_second_apply_writes_nothing(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    _assert_presets_applied(sandbox, tmp_path)


@pytest.mark.mysql
def test_presets_on_an_empty_suitecrm_schema(
    empty_suitecrm: RunningSandbox, tmp_path: Path
) -> None:
    _assert_presets_applied(empty_suitecrm, tmp_path)

    # acl_actions.sql: 58 matrix modules x 8 + 8 header rows, as role 售前 in B7c
    assert len(_matrix_rows(empty_suitecrm.engine, "售前")) == 472


def test_a_changed_file_updates_only_what_differs(
    sqlite_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    sandbox = sqlite_sandbox
    first = write_file(
        tmp_path,
        """
        groups: [{name: 销售, roles: [售前]}]
        users: [{user_name: zhangsan, full_name: 张三, groups: [销售]}]
        """,
    )
    _apply(sandbox, first)
    second = write_file(
        tmp_path,
        """
        groups: [{name: 销售, description: 华东销售, roles: [售前]}]
        roles:
          - {name: 售前, extends: 售前, modules: {Accounts: {export: none}}}
        users: [{user_name: zhangsan, full_name: 张三, status: inactive, groups: []}]
        """,
        "second.yaml",
    )

    plan = plan_roles(sandbox.engine, second)
    _apply(sandbox, second)

    assert sorted((str(c.op), str(c.kind), c.other) for c in plan.changes) == [
        ("remove", "group_user", "zhangsan"),
        ("update", "cell", "Accounts.export"),
        ("update", "group", ""),
        ("update", "user", ""),
    ]
    with sandbox.engine.connect() as conn:
        export_id = conn.execute(
            sa.select(t.acl_actions.c.id).where(
                t.acl_actions.c.category == "Accounts",
                t.acl_actions.c.name == "export",
            )
        ).scalar_one()
    (row,) = [
        r for r in _matrix_rows(sandbox.engine, "售前") if r.action_id == export_id
    ]
    assert row.access_override == -99
    assert plan_roles(sandbox.engine, second).changes == ()


def test_explain_follows_suitecrms_rule_for_a_direct_and_a_group_role(
    sqlite_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    sandbox = sqlite_sandbox
    path = write_file(
        tmp_path,
        """
        groups: [{name: 销售, roles: [宽]}]
        roles:
          - {name: 宽, modules: {Accounts: {view: all, edit: all}}}
          - {name: 窄, modules: {Accounts: {view: owner}}}
        users: [{user_name: user2, full_name: 赵六, groups: [销售], roles: [窄]}]
        """,
    )
    _apply(sandbox, path)

    explanation = explain_roles(sandbox.engine, "user2", "Accounts")

    ((module, cells),) = explanation.rows
    decided = dict(cells)
    assert module == "Accounts"
    assert explanation.direct_roles == ("窄",)
    assert explanation.group_roles == (("销售", "宽"),)
    # user_role_precedence: the direct role wins, the group role is ignored
    assert (decided["view"].level, decided["view"].roles) == (75, ("窄",))
    assert decided["view"].rule == acl.Rule.DIRECT_ROLE
    assert (decided["edit"].level, decided["edit"].rule) == (90, acl.Rule.ROLES_NOT_SET)
