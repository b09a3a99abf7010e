"""Imports into the sandbox on MariaDB: bad rows reported, the rest written once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.workflows.importer import ImportSummary, import_sheet
from dscrm_bridge.workflows.labels import load_labels
from dscrm_bridge.workflows.service import verified_session
from dscrm_bridge.workflows.values import zone

from ...unit.workflows.sheets import customer_sheet, write_csv, write_xlsx
from .conftest import SALES_PASSWORD, SALES_USER, Crm


def _import(crm: Crm, path: Path, module: str, **options: Any) -> ImportSummary:
    with verified_session(crm.client(SALES_USER, SALES_PASSWORD), SALES_USER) as me:
        return import_sheet(
            me.client,
            path,
            module=module,
            labels=load_labels(),
            tz=zone("Asia/Shanghai"),
            owner_id=me.user_id,
            concurrency=4,
            **options,
        )


def _live(engine: sa.Engine, table: sa.Table) -> list[Any]:
    with engine.connect() as conn:
        query = sa.select(table).where(table.c.deleted == 0)
        return list(conn.execute(query).mappings())


@pytest.mark.mysql
def test_gbk_sheet_imports_good_rows_once_and_reports_bad_ones(
    mariadb_crm: Crm, tmp_path: Path
) -> None:
    sheet = customer_sheet(300, bad_every=25, emoji=False)
    path = write_csv(tmp_path / "客户.csv", sheet.rows, "gbk")
    db = mariadb_crm.sandbox.engine

    first = _import(mariadb_crm, path, "Accounts")

    assert (first.created, first.updated, first.skipped) == (sheet.good, 0, 0)
    assert {e.row: e.reason for e in first.errors}.keys() == sheet.bad.keys()
    assert all(sheet.bad[e.row] in e.reason for e in first.errors)
    accounts = _live(db, t.accounts)
    assert len(accounts) == sheet.good
    by_name = {row["name"]: row for row in accounts}
    sample = by_name["客户00005有限公司"]  # ＩＴ folds to IT, a synonym of 科技
    assert (sample["industry"], sample["account_type"]) == ("Technology", "Customer")
    assert sample["assigned_user_id"] == mariadb_crm.sales_user_id

    second = _import(mariadb_crm, path, "Accounts")

    assert (second.created, second.updated) == (0, 0)
    assert second.skipped == sheet.good
    assert len(_live(db, t.accounts)) == sheet.good


@pytest.mark.mysql
def test_changed_rows_are_updated_and_matched_by_phone(
    mariadb_crm: Crm, tmp_path: Path
) -> None:
    sheet = customer_sheet(30, bad_every=1000)
    write_xlsx(tmp_path / "v1.xlsx", sheet.rows)
    _import(mariadb_crm, tmp_path / "v1.xlsx", "Accounts")
    renamed = [list(row) for row in sheet.rows]
    renamed[5][0] = "改名后的客户有限公司"  # same phone, new name
    renamed[6][2] = "金融"
    write_xlsx(tmp_path / "v2.xlsx", renamed)

    summary = _import(mariadb_crm, tmp_path / "v2.xlsx", "Accounts", match_key="phone")

    assert (summary.created, summary.updated, summary.skipped) == (0, 2, 28)
    names = {row["name"]: row for row in _live(mariadb_crm.sandbox.engine, t.accounts)}
    assert "改名后的客户有限公司" in names and len(names) == 30
    assert names[renamed[6][0]]["industry"] == "Finance"


def test_contacts_are_linked_to_the_account_they_name(crm: Crm, tmp_path: Path) -> None:
    crm.admin.client.create("Accounts", {"name": "上海云启信息技术有限公司"})
    rows = [
        ["姓", "名", "手机", "客户名称", "称谓"],
        ["王", "五", "138 0000 0000", "上海云启信息技术有限公司", "先生"],
        ["赵", "六", "139 0000 0000", "不存在的公司", "女士"],
    ]
    path = write_csv(tmp_path / "联系人.csv", rows, "utf-8-sig")

    summary = _import(crm, path, "Contacts")

    assert summary.created == 1
    assert [(e.row, "不存在的公司" in e.reason) for e in summary.errors] == [(3, True)]
    contact = _live(crm.sandbox.engine, t.contacts)[0]
    assert (contact["last_name"], contact["salutation"]) == ("王", "Mr.")
    link = _live(crm.sandbox.engine, t.accounts_contacts)
    assert [row["contact_id"] for row in link] == [contact["id"]]


def test_leads_import_writes_keys_and_a_second_import_changes_nothing(
    crm: Crm, tmp_path: Path
) -> None:
    rows = [
        ["姓", "名", "公司", "手机", "状态", "线索来源", "称谓"],
        ["陈", "七", "杭州数澜科技", "137 0000 0001", "跟进中", "展会", "先生"],
        ["周", "八", "苏州云帆", "137 0000 0002", "新增", "官网", "女士"],
        ["吴", "九", "宁波港信", "137 0000 0003", "待定", "展会", ""],
    ]
    path = write_xlsx(tmp_path / "线索.xlsx", rows)

    first = _import(crm, path, "Leads")
    second = _import(crm, path, "Leads")

    assert (first.created, [e.row for e in first.errors]) == (2, [4])
    assert (second.created, second.updated, second.skipped) == (0, 0, 2)
    leads = {row["last_name"]: row for row in _live(crm.sandbox.engine, t.leads)}
    assert (leads["陈"]["status"], leads["陈"]["lead_source"]) == (
        "In Process",
        "Trade Show",
    )
    assert (leads["周"]["status"], leads["周"]["lead_source"]) == ("New", "Web Site")
    assert leads["周"]["account_name"] == "苏州云帆"


def test_opportunities_are_created_on_the_account_they_name(
    crm: Crm, tmp_path: Path
) -> None:
    account = crm.admin.client.create("Accounts", {"name": "上海云启信息技术有限公司"})
    rows = [
        ["商机名称", "客户名称", "金额", "预计成交日期", "销售阶段", "类型"],
        [
            "云启 CRM 项目",
            "上海云启信息技术有限公司",
            "500,000",
            "2027/3/31",
            "方案报价",
            "新业务",
        ],
        ["云启二期", "上海云启信息技术有限公司", "12万", "2027-06-30", "赢单", ""],
    ]
    path = write_csv(tmp_path / "商机.csv", rows, "utf-8")

    summary = _import(crm, path, "Opportunities")

    assert summary.created == 1
    assert [(e.row, "12万" in e.reason) for e in summary.errors] == [(3, True)]
    opportunity = _live(crm.sandbox.engine, t.opportunities)[0]
    assert (opportunity["sales_stage"], opportunity["opportunity_type"]) == (
        "Proposal/Price Quote",
        "New Business",
    )
    assert float(opportunity["amount"]) == 500000
    assert str(opportunity["date_closed"]) == "2027-03-31"
    link = _live(crm.sandbox.engine, t.accounts_opportunities)
    assert [(r["account_id"], r["opportunity_id"]) for r in link] == [
        (account.id, opportunity["id"])
    ]
