"""Pure pieces of the sandbox: value encoding, dates, passwords, links, module data."""

from __future__ import annotations

import datetime as dt

import pytest

from dscrm_bridge.i18n import set_language
from dscrm_bridge.sandbox import SeedInfo, connection_lines
from dscrm_bridge.sandbox.auth import check_password
from dscrm_bridge.sandbox.modules import EMPTY, registry
from dscrm_bridge.sandbox.protocol import (
    encode_text,
    format_datetime,
    parse_filter_datetime,
    parse_input_date,
    parse_input_datetime,
    strip_tags,
    valid_id,
)
from dscrm_bridge.sandbox.query import Page, page_links
from dscrm_bridge.suitecrm.passwords import hash_password, md5_hex


def test_output_encoding_leaves_ampersand_alone() -> None:
    assert encode_text('A&B "Q" <x> 丁\'s') == "A&B &quot;Q&quot; &lt;x&gt; 丁&#039;s"
    assert strip_tags("A <x>B</x>") == "A B"


def test_datetimes_lose_their_seconds_on_output() -> None:
    value = dt.datetime(2026, 12, 4, 15, 26, 30)
    assert format_datetime(value) == "2026-12-04T15:26:00+00:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-11 02:00:00", dt.datetime(2026, 12, 11, 2, 0)),
        ("12/11/2026 10:00", dt.datetime(2026, 12, 11, 10, 0)),
        ("2026-12-11T10:00:00+08:00", None),
        ("2026-12-11T02:00:00Z", None),
    ],
    ids=["db-format", "display-format", "iso-offset", "iso-z"],
)
def test_datetime_input_formats_follow_q17(
    text: str, expected: dt.datetime | None
) -> None:
    assert parse_input_datetime(text) == expected


def test_date_input_and_filter_offsets() -> None:
    assert parse_input_date("01/31/2027") == dt.date(2027, 1, 31)
    assert parse_input_date("2027-01-31T00:00:00+08:00") is None
    # Q18: the offset of a filter value is ignored.
    assert parse_filter_datetime("2026-12-04T23:00:00+08:00") == dt.datetime(
        2026, 12, 4, 23, 0
    )


def test_passwords_accept_bcrypt_of_md5_and_legacy_md5() -> None:
    stored = hash_password("admin1234")
    assert stored.startswith("$2y$10$") and len(stored) == 60
    assert check_password("admin1234", stored)
    assert not check_password("wrong", stored)
    assert check_password("admin1234", "c93ccd78b2076528346216b3b2f701e6")
    assert md5_hex("admin1234") == "c93ccd78b2076528346216b3b2f701e6"
    assert not check_password("admin1234", None)


def test_ids_are_guids_or_short_tokens() -> None:
    assert valid_id("1")
    assert valid_id("72bc0432-e90d-fdfe-1c4e-6b12db7ef146")
    assert not valid_id("not-an-id")


def test_page_links_replace_the_page_number_in_place() -> None:
    params = [
        ("fields[Accounts]", "name"),
        ("page[size]", "2"),
        ("page[number]", "2"),
        ("sort", "name"),
    ]
    links = page_links("V8/module/Accounts", params, Page(size=2, number=2), 3)
    base = "V8/module/Accounts?fields[Accounts]=name&page[size]=2&page[number]="
    assert links == {
        "first": base + "1&sort=name",
        "prev": base + "1&sort=name",
        "next": base + "3&sort=name",
        "last": base + "3&sort=name",
    }


def test_every_link_names_a_served_module_and_a_real_table() -> None:
    modules = registry()
    for module in modules.values():
        for link in module.links.values():
            # An empty link is one to a module the sandbox does not have.
            assert (link.module in modules) != (link.kind == EMPTY), (
                module.name,
                link.name,
            )
            if link.kind in ("field", "own"):
                owner = module if link.kind == "own" else modules[link.module]
                assert str(link.field) in owner.table.c, (module.name, link.name)
            if link.kind == "join":
                table = module.table.metadata.tables[str(link.table)]
                assert {str(link.self_column), str(link.other_column)} <= set(
                    table.c.keys()
                )


def test_connection_lines_show_each_secret_once() -> None:
    info = SeedInfo("admin", "pw-secret", "cid-1", "cs-secret", "cid-2", "cc-secret")
    set_language("en")
    try:
        text = "\n".join(connection_lines("http://127.0.0.1:8080", info))
    finally:
        set_language("zh_CN")
    for secret in ("pw-secret", "cs-secret", "cc-secret"):
        assert text.count(secret) == 1
    assert "http://127.0.0.1:8080/Api/access_token" in text
    assert "pw-secret" not in repr(info)
