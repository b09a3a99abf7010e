"""Every relationship link a record lists answers, and the one ACL evaluator decides."""

from __future__ import annotations

from typing import Any

from dscrm_bridge.sandbox import RunningSandbox, write_role_matrix
from dscrm_bridge.sandbox.modules import registry
from dscrm_bridge.suitecrm import acl
from dscrm_bridge.suitecrm.passwords import hash_password

from .conftest import V8


def _story(admin: V8) -> dict[str, dict[str, Any]]:
    """One record of every module, linked as the quickstart story links them."""
    group = admin.create("SecurityGroups", name="销售")
    role = admin.create("ACLRoles", name="售前")
    parent = admin.create("Accounts", name="云启集团")
    account = admin.create("Accounts", name="云启科技", parent_id=parent["id"])
    contact = admin.create("Contacts", first_name="五", last_name="王")
    opportunity = admin.create(
        "Opportunities", name="云启 ERP", amount="500000", account_id=account["id"]
    )
    admin.relate(
        "Contacts", contact["id"], "opportunities", "Opportunities", opportunity["id"]
    )
    records = {
        "SecurityGroups": group,
        "ACLRoles": role,
        "Accounts": account,
        "Contacts": contact,
        "Opportunities": opportunity,
        "Notes": admin.create(
            "Notes", name="纪要", parent_type="Accounts", parent_id=account["id"]
        ),
        "Documents": admin.create("Documents", document_name="方案.pdf"),
        "Meetings": admin.create(
            "Meetings", name="需求会", date_start="2027-01-05 02:00:00"
        ),
        "Calls": admin.create("Calls", name="回访"),
        "Tasks": admin.create("Tasks", name="报价"),
        "Leads": admin.create("Leads", last_name="赵"),
        "Cases": admin.create("Cases", name="工单", account_id=account["id"]),
        "Users": admin.call("GET", "module/Users/1").json()["data"],
    }
    feed = admin.call("GET", "module/SugarFeed").json()["data"]
    records["SugarFeed"] = feed[0]
    return records


def test_every_listed_link_of_every_module_answers(admin: V8) -> None:
    records = _story(admin)
    assert set(records) >= set(registry()) - {"ACLActions"}
    failures = []
    walked = 0
    for module_name, record in records.items():
        module = registry()[module_name]
        answer = admin.call("GET", f"module/{module_name}/{record['id']}")
        assert answer.status_code == 200, answer.text
        listed = answer.json()["data"]["relationships"] or {}
        links = [
            entry["links"]["related"].rsplit("/", 1)[1] for entry in listed.values()
        ]
        user_links = [n for n in module.links if n.endswith("_link")]
        for link in dict.fromkeys(links + user_links):
            walked += 1
            got = admin.call(
                "GET", f"module/{module_name}/{record['id']}/relationships/{link}"
            )
            if got.status_code != 200:
                failures.append(
                    f"{module_name}.{link}: {got.status_code} {got.text[:120]}"
                )
    assert not failures, "\n".join(failures)
    assert walked > 40


def _related_ids(admin: V8, module: str, record_id: str, link: str) -> list[str]:
    answer = admin.call("GET", f"module/{module}/{record_id}/relationships/{link}")
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["data"]]


def test_story_links_lead_to_the_related_records(admin: V8) -> None:
    records = _story(admin)
    contact, opportunity = records["Contacts"], records["Opportunities"]
    account = records["Accounts"]
    parent_id = account["attributes"]["parent_id"]
    assert _related_ids(admin, "Contacts", contact["id"], "opportunities") == [
        opportunity["id"]
    ]
    assert _related_ids(admin, "Opportunities", opportunity["id"], "contacts") == [
        contact["id"]
    ]
    assert _related_ids(admin, "Accounts", parent_id, "members") == [account["id"]]
    # The admin created and changed the account; nobody is assigned to it.
    for link in ("created_by_link", "modified_user_link"):
        assert _related_ids(admin, "Accounts", account["id"], link) == ["1"]
    unassigned = admin.call(
        "GET", f"module/Accounts/{account['id']}/relationships/assigned_user_link"
    )
    assert unassigned.json()["data"] == []
    admin.relate("Accounts", account["id"], "assigned_user_link", "Users", "1")
    assert _related_ids(admin, "Accounts", account["id"], "assigned_user_link") == ["1"]


def test_sandbox_access_is_the_evaluators_decision(
    sandbox: RunningSandbox, admin: V8
) -> None:
    """A user with Owner rights: the sandbox agrees with suitecrm.acl.can_view."""
    role = admin.create("ACLRoles", name="只看自己")
    user = admin.create(
        "Users",
        user_name="owner1",
        status="Active",
        user_hash=hash_password("owner-pw"),
    )
    admin.relate("Users", user["id"], "aclroles", "ACLRoles", role["id"])
    write_role_matrix(
        sandbox.engine, role["id"], {"Accounts": {"access": 89, "view": 75, "list": 75}}
    )
    mine = admin.create("Accounts", name="mine", assigned_user_id=user["id"])
    unassigned = admin.create(
        "Accounts", name="blank", assigned_user_id="", created_by=user["id"]
    )
    others = admin.create("Accounts", name="theirs", assigned_user_id="1")
    owner = V8(sandbox, "owner1", "owner-pw")
    decisions = {}
    with sandbox.engine.connect() as conn:
        for account in (mine, unassigned, others):
            expected = acl.can_view(conn, user["id"], "Accounts", account["id"])
            got = (
                owner.call("GET", f"module/Accounts/{account['id']}").status_code == 200
            )
            decisions[account["attributes"]["name"]] = (expected, got)
    assert all(expected == got for expected, got in decisions.values()), decisions
    assert decisions["mine"] == (True, True)
    assert decisions["theirs"] == (False, False)
