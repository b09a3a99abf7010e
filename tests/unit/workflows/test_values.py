"""Typed values to SuiteCRM attributes: times to UTC, checks, names, match keys."""

from __future__ import annotations

import datetime as dt

import pytest

from dscrm_bridge.errors import ConfigError
from dscrm_bridge.workflows.labels import load_labels
from dscrm_bridge.workflows.values import (
    convert_record,
    match_phone,
    person_name,
    zone,
)

SHANGHAI = zone("Asia/Shanghai")


def _convert(module: str, values: dict[str, object]):  # type: ignore[no-untyped-def]
    return convert_record(load_labels(), module, values, tz=SHANGHAI)


def test_local_times_are_written_as_utc_and_dates_as_days() -> None:
    converted = _convert(
        "Meetings",
        {"开始时间": "2026-12-10 10:00", "时长(小时)": 1, "状态": "已召开"},
    )
    assert converted.problems == []
    assert converted.attributes == {
        "date_start": "2026-12-10 02:00:00",  # Q17: UTC Y-m-d H:i:s
        "duration_hours": "1",
        "status": "Held",
    }
    sheet_cell = _convert("Opportunities", {"预计成交日期": dt.datetime(2027, 3, 31)})
    assert sheet_cell.attributes == {"date_closed": "2027-03-31"}


def test_every_problem_of_a_record_is_reported_at_once() -> None:
    converted = _convert(
        "Contacts",
        {"手机": "138-abc", "电子邮件": "wang@", "生日": "明天", "爱好": "围棋"},
    )
    assert len(converted.problems) == 4
    assert converted.attributes == {}


def test_free_text_keeps_what_was_typed() -> None:
    converted = _convert("Accounts", {"描述": "  全角（括号）与 emoji 🚀 "})
    assert converted.attributes == {"description": "全角（括号）与 emoji 🚀"}


@pytest.mark.parametrize(
    ("first", "last", "name"),
    [("五", "王", "王五"), ("John", "Smith", "John Smith"), ("", "欧阳", "欧阳")],
    ids=["chinese", "western", "family-name-only"],
)
def test_people_are_named_in_their_own_order(first: str, last: str, name: str) -> None:
    assert person_name({"first_name": first, "last_name": last}) == name


def test_phone_numbers_match_with_or_without_the_country_code() -> None:
    assert match_phone("+86 138-0000-0000") == match_phone("13800000000")
    assert match_phone("021 5555 0101") == match_phone("0086 21 5555 0101")


def test_an_unknown_time_zone_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        zone("Mars/Olympus")
