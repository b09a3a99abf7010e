"""`dscrm workflow ...` and `dscrm import` through click's CliRunner, over real HTTP."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

import cli
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.workflows.definition import find_workflow

from .conftest import ADMIN_PASSWORD, SALES_PASSWORD, SALES_USER, Crm


def _env(crm: Crm, **extra: str) -> dict[str, str]:
    info = crm.sandbox.info
    return {
        "DSCRM_SUITECRM_URL": crm.sandbox.base_url,
        "DSCRM_SUITECRM_CLIENT_ID": info.password_client_id,
        "DSCRM_SUITECRM_CLIENT_SECRET": info.password_client_secret,
        "DSCRM_SUITECRM_USERNAME": info.admin_user_name,
        "DSCRM_SUITECRM_PASSWORD": ADMIN_PASSWORD,
        **extra,
    }


@pytest.fixture(autouse=True)
def _no_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DSCRM_CONFIG", "DSCRM_WORKFLOWS_AS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def _input(tmp_path: Path) -> Path:
    path = tmp_path / "客户建档.yaml"
    example = find_workflow("客户建档").example
    path.write_text(yaml.safe_dump(dict(example), allow_unicode=True), "utf-8")
    return path


def test_workflow_list_shows_shipped_and_own_workflows(
    crm: Crm, tmp_path: Path
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    data = yaml.safe_load(find_workflow("会议纪要").path.read_text("utf-8"))
    data["name"] = "我的纪要"
    (mine / "mine.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")

    result = CliRunner().invoke(
        cli.root,
        ["workflow", "list", "--json"],
        env=_env(crm, DSCRM_WORKFLOWS_DIRECTORY=str(mine)),
    )

    assert result.exit_code == 0, result.output
    listed = {item["name"]: item["shipped"] for item in json.loads(result.output)}
    assert listed == {
        "客户建档": True,
        "商机跟进": True,
        "会议纪要": True,
        "我的纪要": False,
    }


def _run_as(crm: Crm, tmp_path: Path, password: str) -> Any:
    arguments = ["workflow", "run", "客户建档", "-f", str(_input(tmp_path))]
    return CliRunner().invoke(
        cli.root,
        [*arguments, "--as", SALES_USER],
        env=_env(crm, DSCRM_WORKFLOWS_AS_PASSWORD=password),
    )


def test_run_as_a_user_writes_as_that_user(crm: Crm, tmp_path: Path) -> None:
    result = _run_as(crm, tmp_path, SALES_PASSWORD)

    assert result.exit_code == 0, result.output
    assert f"已以 {SALES_USER} 身份登录" in result.output
    assert "[4/4] 写下备忘录" in result.output
    with crm.sandbox.engine.connect() as conn:
        account = conn.execute(sa.select(t.accounts)).mappings().one()
    assert account["assigned_user_id"] == crm.sales_user_id
    assert account["created_by"] == crm.sales_user_id


def test_run_as_a_user_with_a_wrong_password_fails_without_writing(
    crm: Crm, tmp_path: Path
) -> None:
    wrong = "not-the-password-42"
    result = _run_as(crm, tmp_path, wrong)

    assert result.exit_code != 0
    assert "错误" in result.output
    assert wrong not in result.output
    with crm.sandbox.engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(t.accounts)).scalar()
            == 0
        )


def test_import_command_prints_the_summary_and_writes_the_error_file(
    crm: Crm, tmp_path: Path
) -> None:
    sheet = tmp_path / "客户.csv"
    with sheet.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["客户名称", "电话", "行业"])
        writer.writerow(["甲公司", "021-55550001", "金融"])
        writer.writerow(["乙公司", "021-55550002", "区块链"])

    result = CliRunner().invoke(
        cli.root, ["import", str(sheet), "--module", "Accounts"], env=_env(crm)
    )

    assert result.exit_code == 0, result.output
    assert "第 3 行" in result.output and "区块链" in result.output
    assert "新建 1" in result.output and "失败 1" in result.output
    assert (tmp_path / "客户.errors.csv").is_file()
