"""The evaluator on the database a real SuiteCRM 7.13 left after the story."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import sqlalchemy as sa

from dscrm_bridge.suitecrm import acl
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.suitecrm.acl import Rule, Scope
from tests.conftest import load_sql_dump

pytestmark = pytest.mark.mysql

USER1 = "1c41e1c9-e7f2-746b-4a45-6b12dbb0dd69"  # 张三, in group 销售 with role 售前
# acl-notes 2: the matrix the role editor saved for 售前 (B7c).
PRESALES = {
    "access": (89, Scope.ENABLED),
    "view": (80, Scope.GROUP),
    "list": (80, Scope.GROUP),
    "edit": (80, Scope.GROUP),
    "delete": (75, Scope.OWNER),
    "import": (-99, Scope.NONE),
    "export": (75, Scope.OWNER),
    "massupdate": (-99, Scope.NONE),
}


def test_user1_gets_the_rights_and_sees_the_accounts_suitecrm_showed(
    reference_dir: Path, mysql_database: str
) -> None:
    text = gzip.open(reference_dir / "story-db.sql.gz", "rt", encoding="utf-8").read()
    load_sql_dump(mysql_database, text)
    engine = sa.create_engine(mysql_database)
    accounts = t.accounts

    with engine.connect() as conn:
        decided = {
            action: acl.effective_access(conn, USER1, "Accounts", action)
            for action in acl.MODULE_ACTIONS
        }
        clause = acl.visible_clause(conn, USER1, "Accounts", accounts)
        assert clause is not None
        visible = conn.execute(
            sa.select(accounts.c.name).where(clause, accounts.c.deleted == 0)
        ).scalars()
        ids = dict(conn.execute(sa.select(accounts.c.name, accounts.c.id)).all())
        own = acl.can_view(conn, USER1, "Accounts", ids["上海云启信息技术有限公司"])
        foreign = acl.can_view(conn, USER1, "Accounts", ids["管理员专属客户"])
        admin = acl.visible_clause(conn, "1", "Accounts", accounts)
    engine.dispose()

    assert {a: (d.level, d.scope) for a, d in decided.items()} == PRESALES
    assert {d.roles for d in decided.values()} == {("售前",)}
    assert {d.rule for d in decided.values()} == {Rule.GROUP_ROLE}
    # D2: user1's list of Accounts held only the account user1 created (C4/C5)
    assert list(visible) == ["上海云启信息技术有限公司"]
    assert (own, foreign) == (True, False)  # D3: the admin-only account is denied
    assert admin is None
