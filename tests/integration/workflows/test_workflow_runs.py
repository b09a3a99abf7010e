"""Shipped workflows against the sandbox over HTTP: records, links, undo, --as."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from dscrm_bridge.errors import InputError
from dscrm_bridge.sandbox import modules as sandbox_modules
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.workflows.definition import find_workflow
from dscrm_bridge.workflows.engine import StepFailedError
from dscrm_bridge.workflows.service import run_with_session, verified_session

from .conftest import SALES_PASSWORD, SALES_USER, Crm

ACCOUNT = "上海云启信息技术有限公司"
TZ = "Asia/Shanghai"


def _write_input(directory: Path, name: str, data: dict[str, Any]) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _run(crm: Crm, name: str, path: Path, **options: Any) -> Any:
    lines: list[str] = []
    with verified_session(crm.client(SALES_USER, SALES_PASSWORD), SALES_USER) as me:
        result = run_with_session(
            me,
            find_workflow(name, options.pop("user_dir", None)),
            path,
            timezone=TZ,
            dry_run=options.pop("dry_run", False),
            report=lines.append,
        )
    return result, lines


def _rows(engine: sa.Engine, table: sa.Table, **where: Any) -> list[Any]:
    query = sa.select(table).where(table.c.deleted == 0)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    with engine.connect() as conn:
        return list(conn.execute(query).mappings())


def _only(engine: sa.Engine, table: sa.Table, **where: Any) -> Any:
    rows = _rows(engine, table, **where)
    assert len(rows) == 1, (table.name, where, rows)
    return rows[0]


def _run_story(crm: Crm, tmp_path: Path) -> None:
    """客户建档, then 商机跟进 on that account, then 会议纪要 on its meeting."""
    onboarding = dict(find_workflow("客户建档").example)
    onboarding["备忘录"] = {
        "主题": "首次拜访纪要 📝",
        "内容": "客户关注数据同步与权限控制。",
    }
    onboarding["联系人"].append({"姓": "李", "名": "四", "职务": "IT 主管"})
    result, lines = _run(crm, "客户建档", _write_input(tmp_path, "a", onboarding))
    assert len(lines) == 4 and lines[0].startswith("[1/4] 新建客户")
    assert [r.name for r in result.records["contacts"]] == ["王五", "李四"]

    followup = dict(find_workflow("商机跟进").example)
    (tmp_path / "技术方案书.txt").write_text("云启 CRM 项目技术方案（初稿）\n", "utf-8")
    followup["参会联系人"] = ["王五", "李四"]
    _run(crm, "商机跟进", _write_input(tmp_path, "b", followup))

    minutes = dict(find_workflow("会议纪要").example)
    _run(crm, "会议纪要", _write_input(tmp_path, "c", minutes))


def _assert_story_records(crm: Crm) -> None:
    db = crm.sandbox.engine
    owner = crm.sales_user_id

    account = _only(db, t.accounts, name=ACCOUNT)
    assert (account["account_type"], account["industry"]) == ("Customer", "Technology")
    assert account["assigned_user_id"] == owner  # Q22: set by the run, not defaulted
    wang = _only(db, t.contacts, last_name="王", first_name="五")
    li = _only(db, t.contacts, last_name="李", first_name="四")
    linked = {row["contact_id"] for row in _rows(db, t.accounts_contacts)}
    assert linked == {wang["id"], li["id"]}
    assert all(r["account_id"] == account["id"] for r in _rows(db, t.accounts_contacts))
    note = _only(db, t.notes, name="首次拜访纪要 📝")  # 4-byte character round trip
    assert (note["parent_type"], note["parent_id"]) == ("Accounts", account["id"])
    assert note["contact_id"] == wang["id"]

    opportunity = _only(db, t.opportunities, name="云启 CRM 项目")
    assert opportunity["sales_stage"] == "Prospecting"  # 初步接洽
    assert opportunity["lead_source"] == "Trade Show"  # 展会
    assert str(opportunity["date_closed"]) == "2027-03-31"
    _only(
        db,
        t.accounts_opportunities,
        account_id=account["id"],
        opportunity_id=opportunity["id"],
    )
    document = _only(db, t.documents, document_name="技术方案书")
    _only(
        db,
        t.documents_opportunities,
        document_id=document["id"],
        opportunity_id=opportunity["id"],
    )
    meeting = _only(db, t.meetings, name="方案交流会")
    assert (meeting["parent_type"], meeting["parent_id"]) == (
        "Opportunities",
        opportunity["id"],
    )
    # 10:00 in Asia/Shanghai is written as UTC (Q17).
    assert meeting["date_start"] == dt.datetime(2026, 12, 10, 2, 0)
    attendees = {row["contact_id"] for row in _rows(db, t.meetings_contacts)}
    assert attendees == {wang["id"], li["id"]}
    invited = _only(db, t.meetings_users, meeting_id=meeting["id"])
    assert invited["user_id"] == owner

    minutes = _only(db, t.notes, name="方案交流会纪要")
    assert (minutes["parent_type"], minutes["parent_id"]) == ("Meetings", meeting["id"])
    task = _only(db, t.tasks, name="补充数据迁移计划")
    assert (task["priority"], task["status"]) == ("High", "Not Started")
    # Tasks cannot hang off a meeting: the task goes where the meeting points.
    assert (task["parent_type"], task["parent_id"]) == (
        "Opportunities",
        opportunity["id"],
    )
    assert task["date_due"] == dt.datetime(2026, 12, 17, 10, 0)


@pytest.mark.mysql
def test_shipped_workflows_leave_their_records_and_links_on_mariadb(
    mariadb_crm: Crm, tmp_path: Path
) -> None:
    assert sandbox_modules.find("Tasks") is not None, "the sandbox must serve Tasks"
    _run_story(mariadb_crm, tmp_path)
    _assert_story_records(mariadb_crm)


@pytest.mark.mysql
def test_a_failing_step_leaves_nothing_behind(mariadb_crm: Crm, tmp_path: Path) -> None:
    user_dir = tmp_path / "mine"
    user_dir.mkdir()
    shipped = yaml.safe_load(find_workflow("客户建档").path.read_text("utf-8"))
    shipped["name"] = "客户建档（坏）"
    # The last step writes a property SuiteCRM refuses (Q20: 400 "is invalid").
    shipped["steps"][-1]["set"]["no_such_field"] = "x"
    (user_dir / "broken.yaml").write_text(
        yaml.safe_dump(shipped, allow_unicode=True), encoding="utf-8"
    )
    path = _write_input(tmp_path, "in", dict(find_workflow("客户建档").example))
    db = mariadb_crm.sandbox.engine

    with pytest.raises(StepFailedError) as caught:
        _run(mariadb_crm, "客户建档（坏）", path, user_dir=user_dir)

    failure = caught.value
    assert (failure.number, failure.step) == (4, "note")
    assert "写下备忘录" in failure.message and "no_such_field" in failure.message
    assert failure.left == []
    for table in (t.accounts, t.contacts, t.accounts_contacts, t.notes):
        assert _rows(db, table) == [], table.name


def test_a_wrong_name_changes_nothing(crm: Crm, tmp_path: Path) -> None:
    followup = dict(find_workflow("商机跟进").example)
    followup["客户"] = "不存在的公司"
    path = _write_input(tmp_path, "in", followup)
    (tmp_path / "技术方案书.txt").write_text("x", "utf-8")

    with pytest.raises(StepFailedError) as caught:
        _run(crm, "商机跟进", path)

    assert caught.value.number == 1
    assert "不存在的公司" in caught.value.message
    assert _rows(crm.sandbox.engine, t.opportunities) == []


def test_dry_run_writes_nothing_and_names_each_step(crm: Crm, tmp_path: Path) -> None:
    path = _write_input(tmp_path, "in", dict(find_workflow("客户建档").example))

    result, lines = _run(crm, "客户建档", path, dry_run=True)

    assert result.dry_run
    assert [line.split("]")[0] for line in lines] == ["[1/4", "[2/4", "[3/4", "[4/4"]
    assert "将新建" in lines[0] and ACCOUNT in lines[0]
    assert _rows(crm.sandbox.engine, t.accounts) == []


def test_unknown_label_is_refused_before_anything_is_written(
    crm: Crm, tmp_path: Path
) -> None:
    onboarding = dict(find_workflow("客户建档").example)
    onboarding["客户"] = {**onboarding["客户"], "行业": "互联网"}
    path = _write_input(tmp_path, "in", onboarding)

    with pytest.raises(InputError) as caught:
        _run(crm, "客户建档", path)

    assert "互联网" in caught.value.message and "科技" in caught.value.message
    assert _rows(crm.sandbox.engine, t.accounts) == []
