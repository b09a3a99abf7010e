"""Calls, Tasks, Leads and Cases in the sandbox, over real HTTP."""

from __future__ import annotations

import pytest

from dscrm_bridge.sandbox import RunningSandbox

from .conftest import V8


def _read(admin: V8, module: str, record_id: str) -> dict[str, object]:
    answer = admin.call("GET", f"module/{module}/{record_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]  # type: ignore[no-any-return]


def _exercise(admin: V8) -> None:
    account = admin.create("Accounts", name="北京大盛科技 🚀")
    contact = admin.create("Contacts", first_name="三", last_name="张")

    task = admin.create(
        "Tasks",
        name="回访客户",
        parent_type="Accounts",
        parent_id=account["id"],
        contact_id=contact["id"],
        priority="High",
    )
    task_read = _read(admin, "Tasks", task["id"])
    assert task_read["type"] == "Task"
    attributes = task_read["attributes"]
    assert attributes["parent_name"] == "北京大盛科技 🚀"  # type: ignore[index]
    assert attributes["contact_name"] == "三 张"  # type: ignore[index]

    lead = admin.create(
        "Leads",
        first_name="四",
        last_name="李",
        account_name="云启",
        email1="li@example.com",  # an import column (mappings/import/leads.yaml)
    )
    assert _read(admin, "Leads", lead["id"])["attributes"]["name"] == "四 李"  # type: ignore[index]

    first = admin.create("Cases", name="无法登录", account_id=account["id"])
    second = admin.create("Cases", name="发票有误")
    numbers = [
        _read(admin, "Cases", case["id"])["attributes"]["case_number"]  # type: ignore[index]
        for case in (first, second)
    ]
    assert numbers == ["1", "2"]
    assert _read(admin, "Cases", first["id"])["type"] == "aCase"

    call = admin.create("Calls", name="电话沟通", direction="Outbound")
    admin.relate("Calls", call["id"], "contacts", "Contacts", contact["id"])
    related = admin.call("GET", f"module/Contacts/{contact['id']}/relationships/calls")
    assert [item["id"] for item in related.json()["data"]] == [call["id"]]
    tasks = admin.call("GET", f"module/Accounts/{account['id']}/relationships/tasks")
    assert [item["id"] for item in tasks.json()["data"]] == [task["id"]]


def test_new_modules_on_sqlite(admin: V8) -> None:
    _exercise(admin)


@pytest.mark.mysql
def test_new_modules_on_mariadb(mariadb_admin: V8) -> None:
    _exercise(mariadb_admin)


def test_unknown_sandbox_module_still_refused(
    sandbox: RunningSandbox, admin: V8
) -> None:
    answer = admin.call("GET", "module/Bugs")
    assert answer.status_code == 400
