"""`dscrm demo` through click's CliRunner: the story over real HTTP, then the feed."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import cli
from dscrm_bridge import i18n

STORY_CREATES = {
    ("Accounts", "上海云启信息技术有限公司"),
    ("Contacts", "王五"),
    ("Notes", "首次拜访纪要"),
    ("Opportunities", "云启 CRM 项目"),
    ("Documents", "技术方案书"),
    ("Meetings", "方案交流会"),
}
# (module, record, related module, related record) of each link the story makes
STORY_LINKS = {
    ("Contacts", "王五", "Accounts", "上海云启信息技术有限公司"),
    ("Opportunities", "云启 CRM 项目", "Accounts", "上海云启信息技术有限公司"),
    ("Documents", "技术方案书", "Opportunities", "云启 CRM 项目"),
    ("Meetings", "方案交流会", "Opportunities", "云启 CRM 项目"),
    ("Notes", "首次拜访纪要", "Accounts", "上海云启信息技术有限公司"),
}


@pytest.fixture(autouse=True)
def _chinese() -> None:
    i18n.set_language("zh_CN")


def _run_demo(*args: str) -> list[dict]:  # type: ignore[type-arg]
    result = CliRunner().invoke(cli.root, ["demo", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _assert_story_feed(entries: list[dict]) -> None:  # type: ignore[type-arg]
    creates = {
        (e["module"], e["record_name"]) for e in entries if e["action"] == "create"
    }
    assert creates == STORY_CREATES
    links = {
        (e["module"], e["record_name"], e["related_module"], e["related_name"])
        for e in entries
        if e["action"] == "relate"
    }
    assert STORY_LINKS <= links
    assert {e["actor"] for e in entries} == {"张三"}
    account = next(e for e in entries if e["module"] == "Accounts")
    assert account["text_zh"] == "张三 新建了客户「上海云启信息技术有限公司」"
    assert account["text_en"].startswith("张三 created account")
    times = [e["occurred_at"] for e in entries]
    assert times == sorted(times, reverse=True)


def test_demo_prints_each_step_in_chinese_then_the_feed() -> None:
    result = CliRunner().invoke(cli.root, ["demo"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "已创建用户组「销售」。" in lines
    assert "已创建用户「张三」（user1），并加入用户组「销售」。" in lines
    assert "已创建客户「上海云启信息技术有限公司」。" in lines
    assert any(line.endswith("张三 新建了会议「方案交流会」") for line in lines)


def test_demo_json_on_a_sqlite_sandbox_lists_the_story() -> None:
    _assert_story_feed(_run_demo())


@pytest.mark.mysql
def test_demo_on_a_mariadb_sandbox_gives_the_same_feed(mysql_database: str) -> None:
    entries = _run_demo("--db", mysql_database)
    _assert_story_feed(entries)
    sqlite_entries = _run_demo()
    shape = sorted((e["module"], e["action"], e["record_name"]) for e in entries)
    assert shape == sorted(
        (e["module"], e["action"], e["record_name"]) for e in sqlite_entries
    )
    engine = sa.create_engine(mysql_database)
    with engine.connect() as conn:
        owner = conn.execute(
            sa.text(
                "SELECT u.user_name FROM accounts a JOIN users u "
                "ON u.id = a.assigned_user_id WHERE a.name = :n"
            ),
            {"n": "上海云启信息技术有限公司"},
        ).scalar_one()
    engine.dispose()
    assert owner == "user1"


def test_demo_in_english() -> None:
    result = CliRunner().invoke(cli.root, ["--lang", "en", "demo"])
    assert result.exit_code == 0, result.output
    assert "Created security group 「销售」." in result.output
    assert "张三 created account" in result.output
