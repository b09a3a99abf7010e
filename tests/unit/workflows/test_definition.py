"""Workflow files: the shipped ones load; broken ones are refused with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dscrm_bridge.errors import ConfigError, InputError
from dscrm_bridge.i18n import set_language
from dscrm_bridge.workflows.definition import (
    Action,
    available_workflows,
    find_workflow,
    load_workflow,
)


@pytest.fixture(autouse=True)
def _english_messages() -> Iterator[None]:
    set_language("en")
    yield
    set_language("zh_CN")


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _shipped(name: str) -> dict[str, Any]:
    return yaml.safe_load(find_workflow(name).path.read_text(encoding="utf-8"))


def test_the_three_shipped_workflows_load() -> None:
    workflows = available_workflows()
    assert set(workflows) == {"客户建档", "商机跟进", "会议纪要"}
    followup = workflows["商机跟进"]
    finds = [s.id for s in followup.steps if s.action is Action.FIND]
    first_write = next(
        i for i, s in enumerate(followup.steps) if s.action is not Action.FIND
    )
    assert finds == [s.id for s in followup.steps[:first_write]]


def test_a_workflow_is_found_by_its_file_name_too() -> None:
    assert find_workflow("meeting_minutes").name == "会议纪要"
    with pytest.raises(InputError, match="客户建档"):
        find_workflow("不存在")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["steps"][1].update(id="account"), "used twice"),
        (lambda d: d["steps"][3]["set"].update(parent_id="$later"), "$later"),
        (lambda d: d["steps"][0].update(input="客户们"), "客户们"),
        (lambda d: d["steps"][0].update(action="find"), "lookup"),
        (lambda d: d["steps"][0].pop("title"), "title"),
        (lambda d: d["steps"][2].pop("records"), "records"),
    ],
    ids=[
        "repeated-id",
        "unknown-reference",
        "undeclared-input",
        "find-on-record-input",
        "missing-title",
        "link-without-records",
    ],
)
def test_broken_workflows_are_refused(
    tmp_path: Path, change: Any, expected: str
) -> None:
    data = _shipped("客户建档")
    change(data)
    with pytest.raises(ConfigError) as caught:
        load_workflow(_write(tmp_path, data))
    assert any(expected in problem for problem in caught.value.problems)


def test_a_user_workflow_replaces_the_shipped_one_of_its_name(tmp_path: Path) -> None:
    data = _shipped("会议纪要")
    data["description"] = "我们自己的版本"
    _write(tmp_path, data)
    assert available_workflows(tmp_path)["会议纪要"].description == "我们自己的版本"
    assert not available_workflows(tmp_path)["会议纪要"].shipped


def test_a_repeated_key_in_a_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text("name: a\nname: b\ninputs: {}\nsteps: []\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_workflow(path)
    assert caught.value.line == 2
