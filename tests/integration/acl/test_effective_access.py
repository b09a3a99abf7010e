"""The ACL evaluator decides as SuiteCRM 7.13 + SecuritySuite does (acl-notes 3)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dscrm_bridge.suitecrm import acl
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.suitecrm.acl import AclSettings, Rule, Scope

from .conftest import World

VIEW = ("Accounts", "view")
ACCESS = ("Accounts", "access")


def _decide(
    world: World, user_id: str, action: str = "view", **settings: bool
) -> acl.AccessDecision:
    with world.engine.connect() as conn:
        return acl.effective_access(
            conn, user_id, "Accounts", action, settings=AclSettings(**settings)
        )


def _visible_names(world: World, user_id: str) -> set[str]:
    with world.engine.connect() as conn:
        clause = acl.visible_clause(conn, user_id, "Accounts", t.accounts)
        query = sa.select(t.accounts.c.name)
        if clause is not None:
            query = query.where(clause)
        return set(conn.execute(query).scalars())


def test_admin_has_every_right_whatever_its_roles(world: World) -> None:
    admin = world.user("boss", admin=True)
    world.assign(admin, world.role("nothing", {VIEW: -99, ACCESS: -98}))
    world.account("x", assigned=None)

    decision = _decide(world, admin)

    assert decision == acl.AccessDecision(90, Scope.ALL, (), Rule.ADMIN)
    with world.engine.connect() as conn:
        assert acl.visible_clause(conn, admin, "Accounts", t.accounts) is None


def test_user_without_role_gets_the_action_defaults(world: World) -> None:
    user = world.user("plain")

    assert _decide(world, user) == acl.AccessDecision(90, Scope.ALL, (), Rule.NO_ROLE)
    assert _decide(world, user, "access").scope is Scope.ENABLED


def test_group_role_cells_decide_with_the_role_named(world: World) -> None:
    presales = world.role(
        "售前",
        {ACCESS: 89, VIEW: 80, ("Accounts", "delete"): 75, ("Accounts", "import"): -99},
    )
    sales = world.group("销售", roles=(presales,))
    user = world.user("user1")
    world.join(user, sales)

    view = _decide(world, user)
    delete = _decide(world, user, "delete")
    imports = _decide(world, user, "import")
    edit = _decide(world, user, "edit")

    assert (view.level, view.scope, view.roles, view.rule) == (
        80,
        Scope.GROUP,
        ("售前",),
        Rule.GROUP_ROLE,
    )
    assert (delete.level, delete.scope) == (75, Scope.OWNER)
    assert (imports.level, imports.scope) == (-99, Scope.NONE)
    assert (edit.level, edit.scope, edit.rule) == (90, Scope.ALL, Rule.ROLES_NOT_SET)


def _conflict(world: World) -> str:
    """A user with role 宽 (view All) through a group and 窄 (view Owner) directly."""
    wide = world.role("宽", {VIEW: 90})
    narrow = world.role("窄", {VIEW: 75})
    group = world.group("销售", roles=(wide,))
    user = world.user("user2")
    world.join(user, group)
    world.assign(user, narrow)
    return user


def test_direct_role_beats_a_group_role_with_user_role_precedence(
    world: World,
) -> None:
    user = _conflict(world)

    decision = _decide(world, user)

    assert decision == acl.AccessDecision(75, Scope.OWNER, ("窄",), Rule.DIRECT_ROLE)


def test_without_precedence_the_highest_of_both_roles_wins(world: World) -> None:
    user = _conflict(world)

    decision = _decide(world, user, user_role_precedence=False)

    assert decision == acl.AccessDecision(90, Scope.ALL, ("宽",), Rule.GROUP_ROLE)


@pytest.mark.parametrize(
    ("additive", "expected"),
    [(True, (80, "组长")), (False, (75, "个人"))],
    ids=["additive-keeps-highest", "restrictive-keeps-lowest"],
)
def test_two_group_roles_combine_by_the_additive_switch(
    world: World, additive: bool, expected: tuple[int, str]
) -> None:
    owner_role = world.role("个人", {VIEW: 75})
    group_role = world.role("组长", {VIEW: 80})
    user = world.user("user3")
    world.join(user, world.group("甲", roles=(owner_role,)))
    world.join(user, world.group("乙", roles=(group_role,)))

    decision = _decide(world, user, additive=additive)

    assert (decision.level, decision.roles) == (expected[0], (expected[1],))


def test_an_explicit_none_beats_another_role_left_not_set(world: World) -> None:
    unset = world.role("未设置", {VIEW: 0})
    none = world.role("禁看", {VIEW: -99})
    user = world.user("user4")
    world.join(user, world.group("丙", roles=(unset, none)))

    decision = _decide(world, user)

    assert decision == acl.AccessDecision(-99, Scope.NONE, ("禁看",), Rule.GROUP_ROLE)


def test_disabled_module_denies_every_action(world: World) -> None:
    role = world.role("关", {ACCESS: -98, VIEW: 90})
    user = world.user("user5")
    world.assign(user, role)
    world.account("visible to nobody", assigned=user)

    decision = _decide(world, user)

    assert decision == acl.AccessDecision(
        90, Scope.DISABLED, ("关",), Rule.MODULE_DISABLED
    )
    assert _visible_names(world, user) == set()


def test_deleted_direct_assignment_no_longer_counts(world: World) -> None:
    user = world.user("user6")
    world.assign(user, world.role("旧", {VIEW: -99}), deleted=1)

    assert _decide(world, user).rule == Rule.NO_ROLE


def test_unknown_user_is_denied(world: World) -> None:
    decision = _decide(world, "no-such-user")

    assert (decision.scope, decision.rule) == (Scope.NONE, Rule.UNKNOWN_USER)


def test_owner_scope_sees_assigned_records_and_unassigned_ones_it_created(
    world: World,
) -> None:
    user = world.user("owner")
    other = world.user("other")
    world.assign(user, world.role("自己", {VIEW: 75}))
    world.account("mine", assigned=user, created_by=other)
    world.account("created, unassigned", assigned=None, created_by=user)
    world.account("created, assigned to nobody", assigned="", created_by=user)
    world.account("created, assigned away", assigned=other, created_by=user)

    assert _visible_names(world, user) == {"mine", "created, unassigned"}


def test_group_scope_adds_records_of_the_users_groups(world: World) -> None:
    role = world.role("组", {VIEW: 80})
    mine = world.group("我的组", roles=(role,))
    theirs = world.group("别人的组")
    user = world.user("grouped")
    other = world.user("colleague")
    world.join(user, mine)
    world.account("own", assigned=user)
    world.account("in my group", assigned=other, groups=(mine,))
    world.account("in another group", assigned=other, groups=(theirs,))
    foreign = world.account("unlinked", assigned=other)

    assert _visible_names(world, user) == {"own", "in my group"}
    with world.engine.connect() as conn:
        assert acl.can_view(conn, user, "Accounts", foreign) is False


def test_can_view_matches_the_clause_per_record(world: World) -> None:
    user = world.user("viewer")
    world.assign(user, world.role("自己", {VIEW: 75}))
    own = world.account("own", assigned=user)
    other = world.account("other", assigned=world.user("x"))

    with world.engine.connect() as conn:
        assert acl.can_view(conn, user, "Accounts", own) is True
        assert acl.can_view(conn, user, "Accounts", other) is False


def test_user_access_decides_every_cell_from_one_load(world: World) -> None:
    user = _conflict(world)

    with world.engine.connect() as conn:
        access = acl.user_access(conn, user)

    assert access.decide("Accounts", "view").roles == ("窄",)
    assert access.decide("Contacts", "view").rule == Rule.ROLES_NOT_SET
    assert access.decide("NoSuchModule", "view").rule == Rule.NO_ACL_ACTIONS
