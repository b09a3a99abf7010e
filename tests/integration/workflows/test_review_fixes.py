"""Re-imports of names with tags, --as without its password, undo messages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import cli
from dscrm_bridge.errors import InputError
from dscrm_bridge.i18n import set_language
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.workflows.definition import find_workflow
from dscrm_bridge.workflows.engine import _failure_message

from ...unit.workflows.sheets import HEADERS, write_csv
from .conftest import Crm
from .test_import_live import _import, _live

TAGGED_NAMES = ['A&B 科技 "引号" <b>公司</b>', "<script>alert(9)</script>导入丁"]


def test_a_second_import_of_names_with_tags_creates_nothing(
    crm: Crm, tmp_path: Path
) -> None:
    rows = [HEADERS] + [
        [name, f"021-5500000{n}", "", "", "", "", "备注 <i>保留</i>"]
        for n, name in enumerate(TAGGED_NAMES)
    ]
    path = write_csv(tmp_path / "客户.csv", rows, "utf-8")

    first = _import(crm, path, "Accounts")
    second = _import(crm, path, "Accounts")

    assert first.created == 2
    assert (second.created, second.updated, second.skipped) == (0, 0, 2)
    names = sorted(row["name"] for row in _live(crm.sandbox.engine, t.accounts))
    assert names == sorted(['A&B 科技 "引号" 公司', "alert(9)导入丁"])


@pytest.fixture()
def _no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in (
        "DSCRM_CONFIG",
        "DSCRM_WORKFLOWS_AS_PASSWORD",
        "DSCRM_SUITECRM_PASSWORD",
        "DSCRM_SUITECRM_CLIENT_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("_no_credentials")
@pytest.mark.parametrize("dry_run", [True, False])
def test_as_without_its_password_names_the_missing_variable(
    tmp_path: Path, dry_run: bool
) -> None:
    path = tmp_path / "wf1.yaml"
    example = dict(find_workflow("客户建档").example)
    path.write_text(yaml.safe_dump(example, allow_unicode=True), "utf-8")
    arguments = ["workflow", "run", "客户建档", "-f", str(path), "--as", "denied"]

    result = CliRunner().invoke(
        cli.root, arguments + (["--dry-run"] if dry_run else [])
    )

    assert result.exit_code == 2, result.output
    assert "DSCRM_WORKFLOWS_AS_PASSWORD" in result.output
    assert "只检查输入" not in result.output


@pytest.fixture()
def _chinese() -> Iterator[None]:
    set_language("zh_CN")
    yield
    set_language("zh_CN")


@pytest.mark.usefixtures("_chinese")
@pytest.mark.parametrize("reason", ["无权访问", "无权访问。"])
def test_a_failure_and_its_undo_read_as_two_sentences(reason: str) -> None:
    step = find_workflow("客户建档").steps[0]

    message = _failure_message(1, step, InputError(reason), 2, [])

    undone = "已撤销本次运行的 2 项更改。"
    assert message == f"第 1 步（{step.title}）失败：无权访问。{undone}"
