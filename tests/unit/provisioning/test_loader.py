"""Roles files: what they mean, and every bad file refused with file:line and a fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dscrm_bridge import i18n
from dscrm_bridge.errors import InputError
from dscrm_bridge.provisioning.loader import load_roles_file, presets
from dscrm_bridge.suitecrm.acl import MODULE_ACTIONS


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "roles.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_levels_in_chinese_and_english_compile_to_suitecrms_numbers(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path,
        """
        roles:
          - name: 混合
            modules:
              客户: {访问: 启用, 查看: 组, list: group, 编辑: 所有者, delete: 无,
                     导入: 未设置, export: all}
              Contacts: [enabled, all, all, owner, none, none, not_set, none]
              Leads: 禁用
              Cases: 全部
              Bugs: {access: none}
        """,
    )

    role = load_roles_file(path).roles["混合"]

    assert {a: role.level("Accounts", a) for a in MODULE_ACTIONS} == {
        "access": 89,
        "view": 80,
        "list": 80,
        "edit": 75,
        "delete": -99,
        "import": 0,
        "export": 90,
        "massupdate": 0,
    }
    assert [role.level("Contacts", a) for a in MODULE_ACTIONS] == [
        89, 90, 90, 75, -99, -99, 0, -99,
    ]  # fmt: skip
    assert role.level("Leads", "access") == -98
    assert role.level("Leads", "view") == 0
    assert [role.level("Cases", a) for a in MODULE_ACTIONS] == [89] + [90] * 7
    assert role.level("Bugs", "access") == -98  # "none" on access means disabled


def test_extends_starts_from_the_preset_and_overrides_cells(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        roles:
          - name: 售前（华东）
            extends: 售前
            modules:
              Accounts: {export: none}
        """,
    )

    role = load_roles_file(path).roles["售前（华东）"]
    preset = presets()["售前"]

    assert role.level("Accounts", "export") == -99
    assert preset.level("Accounts", "export") == 75
    changed = {c for c in preset.cells if preset.cells[c] != role.cells.get(c)}
    assert changed == {("Accounts", "export")}


def test_star_row_applies_to_every_module_before_the_named_ones(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        roles:
          - name: 只看
            modules:
              Accounts: {edit: owner}
              "*": {edit: none, view: all}
        """,
    )

    role = load_roles_file(path).roles["只看"]

    assert role.level("Accounts", "edit") == 75
    assert role.level("jjwg_Maps", "edit") == -99
    assert role.level("Opportunities", "view") == 90


def test_users_names_status_and_memberships(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        groups:
          - name: 销售
            roles: [销售代表]
        users:
          - user_name: user1
            full_name: 张三
            groups: [销售]
            password_env: USER1_PASSWORD
          - user_name: ouyang
            full_name: 欧阳修
            status: 停用
            admin: false
          - user_name: jsmith
            full_name: John Smith
        """,
    )

    spec = load_roles_file(path)

    user1, ouyang, smith = (spec.users[n] for n in ("user1", "ouyang", "jsmith"))
    assert (user1.last_name, user1.first_name, user1.groups) == ("张", "三", {"销售"})
    assert user1.status is None and user1.is_admin is None  # not managed
    assert (ouyang.last_name, ouyang.first_name, ouyang.status) == (
        "欧阳",
        "修",
        "Inactive",
    )
    assert (smith.first_name, smith.last_name) == ("John", "Smith")
    assert spec.groups["销售"].members is None
    # a role named like a preset and not declared is the preset
    assert spec.roles["销售代表"].cells == presets()["销售代表"].cells


@pytest.fixture()
def english() -> None:
    i18n.set_language("en")


BAD_FILES = {
    "yaml-syntax": (
        """
        roles:
          - name: 售前
            modules: {Accounts: [enabled, all
        """,
        4,
        "not valid YAML",
    ),
    "unknown-module": (
        """
        roles:
          - name: 售前
            modules:
              Acounts: {view: all}
        """,
        4,
        "unknown module Acounts; did you mean Accounts?",
    ),
    "unknown-action": (
        """
        roles:
          - name: 售前
            modules:
              Accounts:
                veiw: all
        """,
        5,
        "unknown action veiw",
    ),
    "unknown-level": (
        """
        roles:
          - name: 售前
            modules:
              Accounts:
                view: everyone
        """,
        5,
        "unknown level 'everyone'; use all/全部",
    ),
    "level-not-offered": (
        """
        roles:
          - name: 售前
            modules:
              Accounts: {import: owner}
        """,
        4,
        "does not offer owner for import; use one of: all, not_set, none",
    ),
    "duplicate-role": (
        """
        roles:
          - name: 售前
          - name: 售前
        """,
        3,
        "售前 is declared twice (first on line 2)",
    ),
    "duplicate-user-case": (
        """
        users:
          - user_name: user1
          - user_name: USER1
        """,
        3,
        "declared twice (first on line 2)",
    ),
    "duplicate-key": (
        """
        roles:
          - name: 售前
            modules:
              Accounts: {view: all}
              Accounts: {view: none}
        """,
        5,
        "Accounts appears twice in the same mapping (first on line 4)",
    ),
    "user-in-unknown-group": (
        """
        groups:
          - name: 销售
        users:
          - user_name: user1
            groups: [销售部]
        """,
        5,
        "group 销售部 does not exist in this file; declare it under groups:",
    ),
    "unknown-preset": (
        """
        roles:
          - name: 总监
            extends: 销售总管
        """,
        3,
        "extends 销售总管, which is not a preset; use one of:",
    ),
    "password-in-file": (
        """
        users:
          - user_name: user1
            password: admin1234
        """,
        3,
        "set password_env",
    ),
    "unknown-key": (
        """
        groups:
          - name: 销售
            colour: red
        """,
        3,
        "unknown key colour",
    ),
}


@pytest.mark.parametrize(
    ("text", "line", "fix"), list(BAD_FILES.values()), ids=list(BAD_FILES)
)
def test_bad_file_is_refused_with_its_line_and_the_fix(
    tmp_path: Path, text: str, line: int, fix: str, english: None
) -> None:
    path = _write(tmp_path, text)

    with pytest.raises(InputError) as caught:
        load_roles_file(path)

    assert f"{path}:{line}:" in str(caught.value)
    assert fix in str(caught.value)
    assert caught.value.line == line


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        roles:
          - name: 售前
            modules:
              Acounts: {view: all}
              Contacts: {view: sometimes}
        users:
          - user_name: user1
            groups: [没有]
        """,
    )

    with pytest.raises(InputError) as caught:
        load_roles_file(path)

    message = str(caught.value)
    assert "有 3 个问题，未做任何更改" in message  # zh_CN is the default language
    assert [f"{path}:{n}:" in message for n in (4, 5, 8)] == [True, True, True]


def test_the_readme_example_loads() -> None:
    # The full example of the README's roles section, kept here verbatim.
    spec = load_roles_file(Path(__file__).with_name("readme_example.yaml"))

    assert set(spec.groups) == {"销售", "管理层", "财务部"}
    assert spec.roles["售前"].level("Accounts", "export") == -99
    assert spec.roles["市场专员"].level("Campaigns", "massupdate") == -99
    assert spec.users["lisi"].roles == {"市场专员"}


def test_chinese_yes_and_no_are_booleans(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        prune: 否
        users:
          - user_name: boss
            admin: 是
          - user_name: user1
            admin: 假
        """,
    )

    spec = load_roles_file(path)

    assert spec.prune is False
    assert (spec.users["boss"].is_admin, spec.users["user1"].is_admin) == (True, False)


def test_schema_problems_read_in_chinese_with_their_line(tmp_path: Path) -> None:
    i18n.set_language("zh_CN")
    path = _write(
        tmp_path,
        """
        users:
          - user_name: boss
            admin: 也许
          - title: 经理
        """,
    )

    with pytest.raises(InputError) as caught:
        load_roles_file(path)

    message = str(caught.value)
    assert f"{path}:3: users.0.admin：应为true 或 false，实际为 '也许'" in message
    assert f"{path}:4: users.1：缺少 user_name" in message
    assert "is not of type" not in message and "required property" not in message
