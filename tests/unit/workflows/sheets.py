"""Customer sheets with known bad rows, as sales staff keep them in Excel."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

HEADERS = ["客户名称", "电话", "行业", "类型", "地址", "城市", "备注"]
INDUSTRIES = ["科技", "金融", "制造业", "教育", "零售", "ＩＴ", "医疗保健"]
TYPES = ["客户", "合作伙伴", "意向客户", "竞争对手", ""]


@dataclass
class Sheet:
    rows: list[list[object]]
    good: int = 0
    # row number in the file (header = 1) -> a word its reason must contain
    bad: dict[int, str] = field(default_factory=dict)


def customer_sheet(
    count: int, *, bad_every: int = 50, prefix: str = "客户", emoji: bool = True
) -> Sheet:
    """``count`` rows; every ``bad_every``-th one is bad in one of four ways.

    ``emoji`` puts a 4-byte character in some notes (GBK cannot hold one).
    """
    note = "来自旧表格 🚀" if emoji else "来自旧表格"
    sheet = Sheet(rows=[HEADERS])
    kinds = ["unknown_label", "missing_name", "bad_phone", "repeat"]
    for index in range(count):
        number = index + 2
        name = f"{prefix}{index:05d}有限公司"
        row: list[object] = [
            name,
            f"021-{55000000 + index}",
            INDUSTRIES[index % len(INDUSTRIES)],
            TYPES[index % len(TYPES)],
            f"人民路 {index} 号",
            "上海",
            note if index % 7 == 0 else "",
        ]
        if index and index % bad_every == 0:
            kind = kinds[(index // bad_every) % len(kinds)]
            if kind == "unknown_label":
                row[2] = "区块链"
                sheet.bad[number] = "区块链"
            elif kind == "missing_name":
                row[0] = ""
                sheet.bad[number] = "客户名称"
            elif kind == "bad_phone":
                row[1] = "电话待补"
                sheet.bad[number] = "电话待补"
            else:
                row[0] = f"{prefix}{index - 1:05d}有限公司"
                sheet.bad[number] = f"第 {number - 1} 行"
        else:
            sheet.good += 1
        sheet.rows.append(row)
    return sheet


def write_csv(path: Path, rows: list[list[object]], encoding: str) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("客户")
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path
