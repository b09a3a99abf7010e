"""Workflow input problems carry the file and line of the value they are about."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dscrm_bridge.errors import InputError
from dscrm_bridge.workflows.definition import find_workflow
from dscrm_bridge.workflows.service import run_with_session

INPUT = """
客户:
  客户名称: 上海云启信息技术有限公司
  行业: 互联网
联系人:
  - 姓: 王
    手机: 待补
  - 姓: 李
备忘录:
  主题: 首次拜访纪要
多余: 1
"""


def test_each_input_problem_names_the_line_of_its_value(tmp_path: Path) -> None:
    path = tmp_path / "wf1.yaml"
    path.write_text(textwrap.dedent(INPUT).lstrip(), encoding="utf-8")

    with pytest.raises(InputError) as caught:
        run_with_session(
            None,
            find_workflow("客户建档"),
            path,
            timezone="Asia/Shanghai",
            dry_run=True,
            report=lambda line: None,
        )

    lines = caught.value.message.splitlines()[1:]
    assert [line.split(": ")[0] for line in lines] == [
        f"{path}:3",  # 行业: 互联网
        f"{path}:6",  # 手机: 待补
        f"{path}:10",  # 多余
    ]
    assert "互联网" in lines[0] and "待补" in lines[1] and "多余" in lines[2]
    assert (caught.value.path, caught.value.line) == (str(path), 3)
