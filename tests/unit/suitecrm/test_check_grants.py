"""SHOW GRANTS as MariaDB and MySQL print it, read into what the bridge may do."""

from __future__ import annotations

import pytest

from dscrm_bridge.suitecrm import tables
from dscrm_bridge.suitecrm.check import Status, assess_privileges, parse_grants

ALL_TABLES = set(tables.metadata.tables)
USAGE = "GRANT USAGE ON *.* TO `bridge`@`%` IDENTIFIED BY PASSWORD '*2470C0C06DEE'"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"], "ok"),
        ([USAGE, "GRANT ALL PRIVILEGES ON `suitecrm`.* TO `bridge`@`%`"], "ok"),
        (
            [USAGE, "GRANT SELECT, INSERT, UPDATE, DELETE ON suitecrm.* TO bridge@'%'"],
            "ok",
        ),
        ([USAGE, "GRANT SELECT ON `suite%`.* TO `bridge`@`%`"], "warn"),
        ([USAGE, "GRANT SELECT ON `suitecrm`.* TO `bridge`@`%`"], "warn"),
        ([USAGE, "GRANT SELECT ON `suite\\_crm`.* TO `bridge`@`%`"], "fail"),
        ([USAGE, "GRANT SELECT ON `other`.* TO `bridge`@`%`"], "fail"),
        ([USAGE], "fail"),
    ],
    ids=[
        "global-all",
        "database-all",
        "database-rw-unquoted",
        "wildcard-read-only",
        "read-only",
        "escaped-underscore-is-literal",
        "other-database",
        "usage-only",
    ],
)
def test_grants_decide_read_and_write(lines: list[str], expected: str) -> None:
    result = assess_privileges(parse_grants(lines, "suitecrm"), ALL_TABLES)

    assert result.status.value == expected


def test_table_grants_count_only_for_their_table() -> None:
    lines = [
        USAGE,
        "GRANT SELECT ON `suitecrm`.* TO `bridge`@`%`",
        "GRANT INSERT, UPDATE, DELETE ON `suitecrm`.`sugarfeed` TO `bridge`@`%`",
        "GRANT SELECT (`name`), UPDATE (`name`) ON `suitecrm`.`acl_roles_actions` "
        "TO `bridge`@`%`",
    ]

    result = assess_privileges(parse_grants(lines, "suitecrm"), ALL_TABLES)

    assert result.status is Status.WARN
    assert "sugarfeed" not in result.details["unwritable"]
    assert "acl_roles_actions" in result.details["unwritable"]


def test_a_table_without_select_fails_naming_it() -> None:
    lines = [
        USAGE,
        "GRANT SELECT, INSERT, UPDATE, DELETE ON `suitecrm`.`accounts` TO `b`@`%`",
    ]

    result = assess_privileges(parse_grants(lines, "suitecrm"), {"accounts", "users"})

    assert result.status is Status.FAIL
    assert result.details["unreadable"] == ["users"]
