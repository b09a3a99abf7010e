"""The SQL gateway's names: people composed as a Chinese SuiteCRM shows them."""

from __future__ import annotations

import pytest

from dscrm_bridge.suitecrm import tables
from dscrm_bridge.suitecrm.gateway import SuiteCRMGateway, compose_person_name
from tests.unit.sync.conftest import ADMIN_ID, USER1_ID, SuiteCRMRows


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("三", "张", "张三"),
        ("五", "王", "王五"),
        ("Jane", "Doe", "Jane Doe"),
        (None, "Administrator", "Administrator"),
        ("Jane", None, "Jane"),
        (None, None, ""),
    ],
    ids=["zhang-san", "wang-wu", "western", "last-only", "first-only", "none"],
)
def test_compose_person_name(
    first: str | None, last: str | None, expected: str
) -> None:
    assert compose_person_name(first, last) == expected


def test_user_without_names_falls_back_to_user_name(suitecrm: SuiteCRMRows) -> None:
    suitecrm.insert(tables.users, id="u9", user_name="sneaky")
    gateway = SuiteCRMGateway(suitecrm.engine)

    names = gateway.user_names([ADMIN_ID, USER1_ID, "u9", None, "no-such-user"])

    assert names == {ADMIN_ID: "Administrator", USER1_ID: "张三", "u9": "sneaky"}
