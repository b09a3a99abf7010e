"""The sandbox's SuiteCRM behaviours, each checked over real HTTP."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import sqlalchemy as sa

from dscrm_bridge.sandbox import RunningSandbox, write_role_matrix
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.suitecrm.passwords import hash_password, md5_hex

from .conftest import (
    PRESALES_LEVELS,
    STORY_MODULES,
    V8,
    password_grant,
)

DENIED = "[SuiteCRM] [AccessDeniedException] "


def _group_with_role(sandbox: RunningSandbox, admin: V8) -> str:
    group = admin.create("SecurityGroups", name="销售", description="销售部")
    role = admin.create("ACLRoles", name="售前")
    admin.relate("SecurityGroups", group["id"], "aclroles", "ACLRoles", role["id"])
    write_role_matrix(
        sandbox.engine, role["id"], {m: PRESALES_LEVELS for m in STORY_MODULES}
    )
    return str(group["id"])


def _member(
    sandbox: RunningSandbox, admin: V8, group_id: str, user_name: str, user_hash: str
) -> str:
    user = admin.create(
        "Users",
        user_name=user_name,
        first_name="三",
        last_name="张",
        status="Active",
        user_hash=user_hash,
    )
    admin.relate("SecurityGroups", group_id, "users", "Users", user["id"])
    return str(user["id"])


def _rows(sandbox: RunningSandbox, stmt: Any) -> list[Any]:
    with sandbox.engine.connect() as conn:
        return list(conn.execute(stmt).all())


def _emoji_round_trip(running: RunningSandbox, admin: V8) -> None:
    created = admin.create("Accounts", name="云启 😀 科技")
    answer = admin.call(
        "GET", f"module/Accounts/{created['id']}", **{"fields[Accounts]": "name"}
    )
    assert answer.json()["data"]["attributes"]["name"] == "云启 😀 科技"
    stored = _rows(
        running, sa.select(t.accounts.c.name).where(t.accounts.c.id == created["id"])
    )
    assert stored[0].name == "云启 😀 科技"


def test_four_byte_characters_round_trip_on_sqlite(
    sandbox: RunningSandbox, admin: V8
) -> None:
    _emoji_round_trip(sandbox, admin)


@pytest.mark.mysql
def test_four_byte_characters_round_trip_on_mariadb(
    mariadb_sandbox: RunningSandbox, mariadb_admin: V8
) -> None:
    _emoji_round_trip(mariadb_sandbox, mariadb_admin)


def test_output_strings_are_html_encoded_and_db_keeps_raw_text(
    sandbox: RunningSandbox, admin: V8
) -> None:
    created = admin.create(
        "Accounts", name='A&B "Q" <x> 丁\'s', description="<b>bold</b> & 5 > 3"
    )
    # Q13: quotes and angle brackets encoded, & left alone, varchar tags stripped.
    assert created["attributes"]["name"] == "A&B &quot;Q&quot;  丁&#039;s"
    assert created["attributes"]["description"] == "&lt;b&gt;bold&lt;/b&gt; & 5 &gt; 3"
    stored = _rows(
        sandbox,
        sa.select(t.accounts.c.name, t.accounts.c.description).where(
            t.accounts.c.id == created["id"]
        ),
    )
    assert (stored[0].name, stored[0].description) == (
        'A&B "Q"  丁\'s',
        "<b>bold</b> & 5 > 3",
    )
    raw = admin.call(
        "GET", "module/Accounts", **{"filter[name][eq]": 'A&B "Q"  丁\'s'}
    ).json()["data"]
    assert [item["id"] for item in raw] == [created["id"]]


def test_datetimes_are_output_with_seconds_zeroed(
    sandbox: RunningSandbox, admin: V8
) -> None:
    created = admin.create(
        "Opportunities",
        name="x",
        date_modified="2026-12-04 15:26:30",
        date_closed="2027-03-31",
    )
    assert created["attributes"]["date_modified"] == "2026-12-04T15:26:00+00:00"
    assert created["attributes"]["date_closed"] == "2027-03-31"
    stored = _rows(
        sandbox,
        sa.select(t.opportunities.c.date_modified).where(
            t.opportunities.c.id == created["id"]
        ),
    )
    assert stored[0].date_modified.second == 30  # Q19 honoured, Q16 only on output


def test_paging_meta_links_and_the_page_zero_oddity(admin: V8) -> None:
    for name in ("a1", "a2", "a3", "a4", "a5"):
        admin.create("Accounts", name=name)
    fields = {"fields[Accounts]": "name", "page[size]": "2"}

    first = admin.call("GET", "module/Accounts", **fields, **{"page[number]": "1"})
    assert first.json()["meta"] == {"total-pages": 3, "records-on-this-page": 2}
    links = first.json()["links"]
    assert links["first"] is None and links["prev"] is None
    assert links["next"] == (
        "V8/module/Accounts?fields[Accounts]=name&page[size]=2&page[number]=2"
    )
    assert links["last"].endswith("page[number]=3")

    zero = admin.call("GET", "module/Accounts", **fields).json()
    # Q27: without page[number] the first page, whose "next" is page 1 again.
    assert [d["id"] for d in zero["data"]] == [d["id"] for d in first.json()["data"]]
    assert zero["links"]["next"].endswith("page[number]=1")

    beyond = admin.call("GET", "module/Accounts", **fields, **{"page[number]": "9"})
    assert beyond.json()["meta"] == {
        "message": "Request was successful, but there is no result"
    }
    bad = admin.call("GET", "module/Accounts", **{"page[size]": "0"})
    assert bad.status_code == 400
    assert (
        bad.json()["errors"]["detail"] == 'The option "size" with value "0" is invalid.'
    )


def test_group_member_sees_group_records_but_not_admins(
    sandbox: RunningSandbox, admin: V8
) -> None:
    group_id = _group_with_role(sandbox, admin)
    _member(sandbox, admin, group_id, "user1", hash_password("admin1234"))
    _member(sandbox, admin, group_id, "user2", md5_hex("pw2"))  # Q23 legacy md5
    user1 = V8(sandbox, "user1", "admin1234")
    user2 = V8(sandbox, "user2", "pw2")
    own = user1.create("Accounts", name="上海云启")
    foreign = admin.create("Accounts", name="管理员专属客户", assigned_user_id="1")

    # Q37: the creator's group gets the record, dated to the day.
    records = _rows(
        sandbox,
        sa.select(t.securitygroups_records).where(
            t.securitygroups_records.c.record_id == own["id"]
        ),
    )
    assert [(r.securitygroup_id, r.module) for r in records] == [(group_id, "Accounts")]
    assert records[0].date_modified.time().isoformat() == "00:00:00"

    for user in (user1, user2):
        listed = user.call("GET", "module/Accounts", **{"fields[Accounts]": "name"})
        assert [d["id"] for d in listed.json()["data"]] == [own["id"]]
        assert user.call("GET", f"module/Accounts/{own['id']}").status_code == 200
        hidden = user.call("GET", f"module/Accounts/{foreign['id']}")
        assert hidden.json()["errors"]["detail"] == DENIED
    patch = {
        "data": {"type": "Accounts", "id": own["id"], "attributes": {"name": "改"}}
    }
    assert user2.call("PATCH", "module", patch).status_code == 201  # group edit (80)
    # delete is Owner (75): user2 is not the owner.
    assert user2.call("DELETE", f"module/Accounts/{own['id']}").status_code == 400
    seen_by_admin = admin.call("GET", "module/Accounts").json()["data"]
    assert {d["id"] for d in seen_by_admin} == {own["id"], foreign["id"]}

    # Q28: total-pages counts rows user1 cannot see; later pages are empty.
    paged = user1.call(
        "GET", "module/Accounts", **{"page[size]": "1", "page[number]": "2"}
    )
    assert paged.json()["data"] == []
    first = user1.call("GET", "module/Accounts", **{"page[size]": "1"}).json()
    assert first["meta"]["total-pages"] == 2


def test_document_upload_stores_revision_and_file(
    sandbox: RunningSandbox, admin: V8
) -> None:
    content = "云启 CRM 技术方案 v1\n".encode()
    doc = admin.create(
        "Documents",
        document_name="技术方案书",
        filename="技术方案书.txt",
        filecontents=base64.b64encode(content).decode(),
        revision="1",
    )
    revision_id = doc["attributes"]["document_revision_id"]
    assert doc["attributes"]["filename"] == "技术方案书.txt"
    revisions = _rows(
        sandbox,
        sa.select(t.document_revisions).where(
            t.document_revisions.c.document_id == doc["id"]
        ),
    )
    assert [(r.id, r.filename, r.file_mime_type) for r in revisions] == [
        (revision_id, "技术方案书.txt", None)
    ]
    assert (sandbox.upload_dir / revision_id).read_bytes() == content


def test_unlinking_soft_deletes_the_join_row(
    sandbox: RunningSandbox, admin: V8
) -> None:
    account = admin.create("Accounts", name="acc")
    contact = admin.create("Contacts", last_name="Unlink")
    admin.relate("Accounts", account["id"], "contacts", "Contacts", contact["id"])
    path = f"module/Accounts/{account['id']}/relationships/contacts"

    assert admin.call("DELETE", f"{path}/{contact['id']}").status_code == 200
    again = admin.call("DELETE", f"{path}/{contact['id']}")
    assert again.json()["errors"]["detail"] == (
        f"Module with {contact['id']} id is not related to Account"
    )
    rows = _rows(
        sandbox,
        sa.select(t.accounts_contacts.c.deleted).where(
            t.accounts_contacts.c.contact_id == contact["id"]
        ),
    )
    assert [r.deleted for r in rows] == [1]
    assert admin.call("GET", path).json()["data"] == []


def test_contact_and_opportunity_creates_write_sugarfeed_rows(
    sandbox: RunningSandbox, admin: V8
) -> None:
    account = admin.create("Accounts", name="上海云启")
    contact = admin.create("Contacts", first_name="五", last_name="王")
    opp = admin.create(
        "Opportunities", name="云启 CRM 项目", amount="500000", account_id=account["id"]
    )
    feed = _rows(
        sandbox,
        sa.select(t.sugarfeed.c.name, t.sugarfeed.c.related_module).order_by(
            t.sugarfeed.c.related_module
        ),
    )
    assert [(f.related_module, f.name) for f in feed] == [
        (
            "Contacts",
            "<b>{this.CREATED_BY}</b> {SugarFeed.CREATED_CONTACT} "
            f"[Contacts:{contact['id']}:五 王]",
        ),
        (
            "Opportunities",
            "<b>{this.CREATED_BY}</b> {SugarFeed.CREATED_OPPORTUNITY} "
            f"[Opportunities:{opp['id']}:云启 CRM 项目] {{SugarFeed.WITH}} "
            f"[Accounts:{account['id']}:] {{SugarFeed.FOR_AMOUNT}} $500,000.00",
        ),
    ]
    linked = admin.call(
        "GET", f"module/Accounts/{account['id']}/relationships/opportunities"
    )
    assert [d["id"] for d in linked.json()["data"]] == [opp["id"]]


def test_security_holes_of_the_transcript_are_refused(
    sandbox: RunningSandbox, admin: V8
) -> None:
    group_id = _group_with_role(sandbox, admin)
    user_id = _member(sandbox, admin, group_id, "user1", md5_hex("admin1234"))
    user1 = V8(sandbox, "user1", "admin1234")

    sneaky = {
        "data": {"type": "Users", "attributes": {"user_name": "s", "is_admin": "1"}}
    }
    group = {"data": {"type": "SecurityGroups", "attributes": {"name": "mine"}}}
    for body in (sneaky, group):
        refused = user1.call("POST", "module", body)
        assert refused.json()["errors"]["detail"] == DENIED
    probe = user1.call("GET", "module/Users", **{"filter[user_hash][like]": "a%"})
    assert probe.json()["errors"]["detail"] == DENIED
    names = user1.call("GET", "module/Users", **{"fields[Users]": "first_name"})
    assert names.status_code == 200

    wrong_grant = password_grant(sandbox, "user1", "admin1234", client="cc")
    assert (wrong_grant.status_code, wrong_grant.json()["error"]) == (
        400,
        "unauthorized_client",
    )
    wrong_password = password_grant(sandbox, "user1", "WrongPass!")
    assert wrong_password.status_code == 500
    assert "WrongPass!" not in wrong_password.text

    inactive = {
        "data": {"type": "Users", "id": user_id, "attributes": {"status": "Inactive"}}
    }
    assert admin.call("PATCH", "module", inactive).status_code == 201
    assert user1.call("GET", "current-user").status_code == 401
    no_token = password_grant(sandbox, "user1", "admin1234")
    assert (no_token.status_code, no_token.json()["error"]) == (400, "invalid_grant")
