"""Plans: exact changes against a live state, prune rules, security findings."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dscrm_bridge.errors import InputError
from dscrm_bridge.provisioning.live import LiveGroup, LiveRole, LiveState, LiveUser
from dscrm_bridge.provisioning.loader import load_roles_file
from dscrm_bridge.provisioning.plan import Change, FindingKind, Kind, Op, make_plan
from dscrm_bridge.suitecrm.acl import MODULE_ACTIONS
from dscrm_bridge.suitecrm.passwords import hash_password

MODULES = ("Accounts", "Contacts")


def _spec(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "roles.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return load_roles_file(path)


def _user(name: str, *, admin: bool = False, user_hash: str = "") -> LiveUser:
    return LiveUser(
        id="1" if name == "admin" else f"id-{name}",
        user_name=name,
        first_name="",
        last_name=name,
        status="Active",
        is_admin=admin,
        title="",
        department="",
        user_hash=user_hash,
    )


def _role(name: str, levels: dict[tuple[str, str], int]) -> LiveRole:
    cells = {(m, a): (levels.get((m, a), 0),) for m in MODULES for a in MODULE_ACTIONS}
    rows = {cell: (f"row-{name}-{cell}",) for cell in cells}
    return LiveRole(f"id-{name}", name, "", cells, rows)


def _live(**parts) -> LiveState:  # type: ignore[no-untyped-def]
    live = LiveState(
        actions={(m, a): f"act-{m}-{a}" for m in MODULES for a in MODULE_ACTIONS}
    )
    for key, value in parts.items():
        setattr(live, key, value)
    return live


def _kinds(changes: tuple[Change, ...]) -> list[tuple[str, str, str, str]]:
    return [(str(c.op), str(c.kind), c.name, c.other) for c in changes]


def test_matching_live_state_plans_nothing(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        """
        groups: [{name: 销售, roles: [看], members: [user1]}]
        roles: [{name: 看, modules: {Accounts: {view: group}}}]
        users: [{user_name: user1, groups: [销售], roles: []}]
        """,
    )
    live = _live(
        groups={"销售": LiveGroup("g1", "销售", "")},
        roles={"看": _role("看", {("Accounts", "view"): 80})},
        users={"user1": _user("user1"), "admin": _user("admin", admin=True)},
        group_roles={("销售", "看")},
        group_users={("销售", "user1")},
    )

    plan = make_plan(spec, live)

    assert plan.changes == ()


def test_new_objects_cells_and_links_are_each_a_change(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        """
        groups: [{name: 销售, description: 销售部, roles: [看]}]
        roles: [{name: 看, modules: {Accounts: {view: group, edit: owner}}}]
        users: [{user_name: user1, full_name: 张三, groups: [销售]}]
        """,
    )

    plan = make_plan(spec, _live())

    assert _kinds(plan.changes) == [
        ("create", "group", "销售", ""),
        ("create", "role", "看", ""),
        ("create", "cell", "看", "Accounts.edit"),
        ("create", "cell", "看", "Accounts.view"),
        ("create", "user", "user1", ""),
        ("create", "password", "user1", ""),
        ("create", "group_role", "销售", "看"),
        ("create", "group_user", "销售", "user1"),
    ]
    user = plan.changes[4].after
    assert (user["last_name"], user["first_name"], user["status"]) == (
        "张",
        "三",
        "Active",
    )


def test_changed_cell_shows_before_and_after(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "roles: [{name: 看, modules: {Accounts: {view: all}}}]")
    live = _live(roles={"看": _role("看", {("Accounts", "view"): 80})})

    (change,) = make_plan(spec, live).changes

    assert (change.op, change.kind, change.other) == (
        Op.UPDATE,
        Kind.CELL,
        "Accounts.view",
    )
    assert (change.before, change.after) == (80, 90)


def test_a_list_in_the_file_is_complete_but_silence_keeps_links(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        """
        groups: [{name: 甲, roles: []}, {name: 乙}]
        roles: [{name: 看}]
        users: [{user_name: user1}]
        """,
    )
    live = _live(
        groups={"甲": LiveGroup("g1", "甲", ""), "乙": LiveGroup("g2", "乙", "")},
        roles={"看": _role("看", {})},
        users={"user1": _user("user1")},
        group_roles={("甲", "看"), ("乙", "看")},
        group_users={("乙", "user1")},
    )

    plan = make_plan(spec, live)

    assert _kinds(plan.changes) == [("remove", "group_role", "甲", "看")]


def test_prune_removes_undeclared_objects_but_never_admin_or_the_bridge_user(
    tmp_path: Path,
) -> None:
    spec = _spec(tmp_path, "prune: true\nusers: [{user_name: user1}]")
    live = _live(
        groups={"旧组": LiveGroup("g1", "旧组", "")},
        roles={"旧角色": _role("旧角色", {})},
        users={
            "admin": _user("admin", admin=True),
            "bridge": _user("bridge", admin=True),
            "user1": _user("user1"),
            "leaver": _user("leaver"),
        },
        group_users={("旧组", "leaver"), ("旧组", "user1")},
    )

    plan = make_plan(spec, live, protected_users=["bridge"])

    assert _kinds(plan.changes) == [
        ("remove", "group_user", "旧组", "leaver"),
        ("remove", "group_user", "旧组", "user1"),
        ("remove", "group", "旧组", ""),
        ("remove", "role", "旧角色", ""),
        ("remove", "user", "leaver", ""),
    ]
    assert plan.kept == ("admin", "bridge")


def test_password_from_the_environment_changes_only_when_different(
    tmp_path: Path,
) -> None:
    spec = _spec(tmp_path, "users: [{user_name: user1, password_env: PW}]")
    live = _live(users={"user1": _user("user1", user_hash=hash_password("old"))})

    same = make_plan(spec, live, env={"PW": "old"})
    other = make_plan(spec, live, env={"PW": "new"})

    assert same.changes == ()
    assert _kinds(other.changes) == [("update", "password", "user1", "")]
    assert "new" not in str(other.to_json())


def test_missing_password_variable_is_refused_before_anything(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "users: [{user_name: user1, password_env: NOPE_PW}]")

    with pytest.raises(InputError) as caught:
        make_plan(spec, _live(), env={})

    assert "NOPE_PW" in str(caught.value)


def test_findings_name_admins_ungrouped_users_and_import_grants(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        """
        groups: [{name: 销售}]
        roles:
          - name: 导入员
            modules: {Accounts: {import: all, massupdate: none}}
        users:
          - {user_name: user1, groups: [销售]}
          - {user_name: loner}
          - {user_name: boss, admin: true}
        """,
    )

    plan = make_plan(spec, _live(users={"admin": _user("admin", admin=True)}))

    found = [(f.kind, f.name, f.modules) for f in plan.findings]
    assert (FindingKind.ADMIN, "admin", ()) in found
    assert (FindingKind.ADMIN, "boss", ()) in found
    assert (FindingKind.NO_GROUP, "loner", ()) in found
    assert (FindingKind.NO_GROUP, "user1", ()) not in found
    assert (FindingKind.IMPORT, "导入员", ("Accounts",)) in found
    assert not any(f.kind is FindingKind.MASSUPDATE for f in plan.findings)


def test_the_bridge_user_cannot_be_demoted_by_the_file(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "users: [{user_name: bridge, admin: false}]")
    live = _live(users={"bridge": _user("bridge", admin=True)})

    with pytest.raises(InputError) as caught:
        make_plan(spec, live, protected_users=["bridge"])

    assert caught.value.line == 1
