"""Import without a server: reading sheets, headers, row checks, the error file."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dscrm_bridge.errors import InputError
from dscrm_bridge.i18n import set_language
from dscrm_bridge.workflows.importer import (
    import_sheet,
    load_header_map,
    read_sheet,
    resolve_headers,
)
from dscrm_bridge.workflows.labels import load_labels
from dscrm_bridge.workflows.service import summary_lines
from dscrm_bridge.workflows.values import zone

from .sheets import HEADERS, customer_sheet, write_csv, write_xlsx

TZ = zone("Asia/Shanghai")


def _dry_run(  # type: ignore[no-untyped-def]
    path: Path, module: str = "Accounts", **options: object
):
    return import_sheet(
        None,
        path,
        module=module,
        labels=load_labels(),
        tz=TZ,
        dry_run=True,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("encoding", "reported"),
    [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 BOM"), ("gbk", "GBK")],
    ids=["utf8", "utf8-bom", "gbk"],
)
def test_csv_encodings_are_detected(
    tmp_path: Path, encoding: str, reported: str
) -> None:
    rows = [HEADERS, ["北京燕园科技有限公司", "010-62750000", "教育"]]
    sheet = read_sheet(write_csv(tmp_path / "a.csv", rows, encoding))
    assert sheet.encoding == reported
    assert sheet.headers[0] == "客户名称"
    assert sheet.rows == [
        (
            2,
            {
                "客户名称": "北京燕园科技有限公司",
                "电话": "010-62750000",
                "行业": "教育",
            },
        )
    ]


def test_a_file_in_neither_encoding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"\xff\xfe\x00\x81\x30\xff")
    with pytest.raises(InputError, match="GBK"):
        read_sheet(path)


def test_xlsx_rows_keep_their_row_numbers_and_skip_blank_rows(tmp_path: Path) -> None:
    rows = [
        HEADERS,
        ["甲公司", 13800000000, "金融"],
        [None, None],
        ["乙公司", "", "零售"],
    ]
    sheet = read_sheet(write_xlsx(tmp_path / "a.xlsx", rows))
    assert [number for number, _values in sheet.rows] == [2, 4]
    assert sheet.rows[0][1]["电话"] == 13800000000


def test_headers_map_through_the_header_map_then_the_field_labels() -> None:
    header_map = load_header_map("Accounts")
    mapped, ignored = resolve_headers(
        ["公司名称", "联系电话", "收货城市", "爱好"], header_map, load_labels()
    )
    assert mapped == {
        "公司名称": "name",
        "联系电话": "phone_office",
        "收货城市": "shipping_address_city",
    }
    assert ignored == ["爱好"]


def test_a_sheet_without_the_name_column_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [["电话"], ["021-55550000"]], "utf-8")
    with pytest.raises(InputError, match="客户名称"):
        _dry_run(path)


def test_dry_run_of_ten_thousand_rows_reports_every_bad_row(tmp_path: Path) -> None:
    sheet = customer_sheet(10_000, bad_every=97)
    path = write_xlsx(tmp_path / "客户.xlsx", sheet.rows)
    ticks: list[int] = []

    def start(total: int):  # type: ignore[no-untyped-def]
        ticks.append(total)
        return ticks.append

    summary = _dry_run(path, start_progress=start)

    assert (summary.total, summary.created) == (10_000, sheet.good)
    assert summary.updated == summary.skipped == 0
    assert {error.row for error in summary.errors} == set(sheet.bad)
    for error in summary.errors:
        assert sheet.bad[error.row] in error.reason, (error.row, error.reason)
    assert ticks[0] == 10_000 and sum(ticks[1:]) == 10_000

    with summary.error_file.open(encoding="utf-8-sig", newline="") as handle:
        written = list(csv.reader(handle))
    assert written[0][:3] == ["行号", "错误原因", "客户名称"]
    assert [int(line[0]) for line in written[1:]] == sorted(sheet.bad)


def test_gbk_csv_with_bad_rows_is_checked_like_a_workbook(tmp_path: Path) -> None:
    sheet = customer_sheet(400, bad_every=40, emoji=False)
    path = write_csv(tmp_path / "客户.csv", sheet.rows, "gbk")

    summary = _dry_run(path)

    assert summary.encoding == "GBK"
    assert summary.created == sheet.good
    assert {
        error.row: error.reason for error in summary.errors
    }.keys() == sheet.bad.keys()
    assert summary.error_file == tmp_path / "客户.errors.csv"


def test_contacts_repeat_by_composed_name_and_by_phone(tmp_path: Path) -> None:
    rows = [
        ["姓", "名", "手机", "客户名称"],
        ["王", "五", "138 0000 0000", ""],
        ["王", "五", "139 0000 0000", ""],
        ["李", "四", "+86 138-0000-0000", ""],
    ]
    path = write_csv(tmp_path / "联系人.csv", rows, "utf-8")

    by_name = _dry_run(path, module="Contacts")
    by_phone = _dry_run(path, module="Contacts", match_key="phone")

    assert [e.row for e in by_name.errors] == [3]
    assert [e.row for e in by_phone.errors] == [4]  # +86 138... is 138...


def test_opportunities_cannot_be_matched_by_phone(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [["商机名称"], ["x"]], "utf-8")
    with pytest.raises(InputError, match="name"):
        _dry_run(path, module="Opportunities", match_key="phone")


def test_in_english_row_errors_name_suitecrm_fields_and_list_with_commas(
    tmp_path: Path,
) -> None:
    rows = [
        [*HEADERS, "爱好", "生日"],
        ["甲公司", "电话待补", "区块链", "", "", "", "", "读书", "x"],
    ]
    path = write_csv(tmp_path / "customers.csv", rows, "utf-8")
    set_language("en")
    try:
        lines = summary_lines(_dry_run(path))
    finally:
        set_language("zh_CN")

    assert "Ignored columns (no field of that name): 爱好, 生日" in lines
    row = next(line for line in lines if line.startswith("Row 2: "))
    assert row.startswith("Row 2: phone_office: ")
    assert "; " in row and "is not a value of industry;" in row
    assert "办公电话" not in row and "、" not in row and "；" not in row
