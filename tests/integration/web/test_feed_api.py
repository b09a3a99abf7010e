"""The feed API over real HTTP on MariaDB: paging, filters, replies, mentions, who
sees what (admin, 张三, a user of another group, a user whose role denies a module).

Expected sets are derived from the feed store and SuiteCRM's tables by the test's
own queries, never typed in.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import sqlalchemy as sa

from dscrm_bridge.feed.replies_schema import login_attempts
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.web.auth import create_api_token
from tests.integration.web.conftest import SCRIPT_NAME, World

pytestmark = pytest.mark.mysql


def _walk(
    session: requests.Session, world: World, **params: Any
) -> list[dict[str, Any]]:
    """Every entry the API gives, page after page."""
    entries: list[dict[str, Any]] = []
    cursor = None
    for _page in range(200):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = session.get(world.base_url + "/api/v1/entries", params=query)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        entries += body["entries"]
        cursor = body["next_cursor"]
        if cursor is None:
            return entries
    raise AssertionError("the cursor never ran out")


def _group_records(world: World, group: str) -> set[str]:
    sgr = t.securitygroups_records
    with world.crm.connect() as conn:
        rows = conn.execute(
            sa.select(sgr.c.record_id).where(
                sgr.c.securitygroup_id == world.group_ids[group], sgr.c.deleted == 0
            )
        ).scalars()
        return set(rows)


def _owned_by(world: World, user_id: str) -> set[str]:
    owned: set[str] = set()
    with world.crm.connect() as conn:
        for table in (t.accounts, t.contacts, t.opportunities, t.notes, t.documents):
            owned |= set(
                conn.execute(
                    sa.select(table.c.id).where(table.c.assigned_user_id == user_id)
                ).scalars()
            )
        owned |= set(
            conn.execute(
                sa.select(t.meetings.c.id).where(
                    t.meetings.c.assigned_user_id == user_id
                )
            ).scalars()
        )
    return owned


# --- paging -----------------------------------------------------------------------


def test_pages_walk_every_entry_once_newest_first(web_world: World) -> None:
    admin = web_world.login("admin")
    walked = _walk(admin, web_world, limit=2)
    stored = web_world.all_entries()

    assert [e["id"] for e in walked] == [e["id"] for e in stored]
    keys = [(e["occurred_at"], e["id"]) for e in walked]
    assert keys == sorted(keys, reverse=True)
    assert len(stored) > 4  # more than two pages


def test_a_bad_cursor_is_refused_with_400(web_world: World) -> None:
    admin = web_world.login("admin")
    answer = admin.get(
        web_world.base_url + "/api/v1/entries", params={"cursor": "not-a-cursor"}
    )
    assert answer.status_code == 400
    assert "not-a-cursor" in answer.json()["error"]


# --- who sees what ----------------------------------------------------------------


def test_admin_sees_every_entry(web_world: World) -> None:
    seen = _walk(web_world.login("admin"), web_world)
    assert {e["id"] for e in seen} == {e["id"] for e in web_world.all_entries()}


def test_zhangsan_sees_the_records_of_his_group_and_not_the_other_group(
    web_world: World,
) -> None:
    seen = _walk(web_world.login("zhangsan"), web_world)
    mine = _group_records(web_world, "销售") | _owned_by(
        web_world, web_world.people["zhangsan"].id
    )
    expected = {e["id"] for e in web_world.all_entries() if e["record_id"] in mine}

    assert {e["id"] for e in seen} == expected
    assert {e["actor"] for e in seen} == {"张三"}
    assert "杭州东湖科技" not in {e["record_name"] for e in seen}


def test_user_of_another_group_sees_only_that_groups_records(web_world: World) -> None:
    seen = _walk(web_world.login("lisi"), web_world)
    theirs = _group_records(web_world, "华东")

    assert theirs
    assert seen
    assert {e["record_id"] for e in seen} <= theirs
    assert {e["record_name"] for e in seen} == {"杭州东湖科技"}


def test_role_that_denies_a_module_hides_its_entries(web_world: World) -> None:
    seen = _walk(web_world.login("zhaoliu"), web_world)
    sales = _group_records(web_world, "销售")
    expected = {
        e["id"]
        for e in web_world.all_entries()
        if e["record_id"] in sales and e["module"] not in ("Accounts", "Contacts")
    }

    assert not {"Accounts", "Contacts"} & {e["module"] for e in seen}
    assert {e["id"] for e in seen} == expected
    assert expected


def test_an_entry_out_of_sight_is_not_found_and_cannot_be_replied_to(
    web_world: World,
) -> None:
    lisi = web_world.login("lisi")
    hidden = next(e for e in web_world.all_entries() if e["actor"] == "张三")
    url = f"{web_world.base_url}/api/v1/entries/{hidden['id']}"

    assert lisi.get(url).status_code == 404
    answer = lisi.post(
        url + "/replies",
        json={"body": "偷看"},
        headers={"X-CSRF-Token": web_world.csrf(lisi)},
    )
    assert answer.status_code == 404


def test_without_login_the_api_answers_401(web_world: World) -> None:
    answer = requests.get(web_world.base_url + "/api/v1/entries")
    assert answer.status_code == 401
    assert "error" in answer.json()


# --- filters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({"module": "Accounts"}, lambda e, w: e["module"] == "Accounts"),
        (
            {"module": ["Notes", "Meetings"]},
            lambda e, w: e["module"] in ("Notes", "Meetings"),
        ),
        ({"action": "relate"}, lambda e, w: e["action"] == "relate"),
        (
            {"actor": "LISI"},
            lambda e, w: e["actor_id"] == w.people["lisi"].id,
        ),
    ],
    ids=["module", "two-modules", "kind-of-change", "actor"],
)
def test_filters_keep_exactly_the_matching_entries(
    web_world: World, params: dict[str, Any], keep: Any
) -> None:
    if params.get("actor") == "LISI":
        params = {"actor": web_world.people["lisi"].id}
    seen = _walk(web_world.login("admin"), web_world, **params)
    expected = [e["id"] for e in web_world.all_entries() if keep(e, web_world)]

    assert expected
    assert [e["id"] for e in seen] == expected


def test_group_filter_keeps_the_records_of_that_group(web_world: World) -> None:
    group = web_world.group_ids["华东"]
    seen = _walk(web_world.login("admin"), web_world, group=group)
    theirs = _group_records(web_world, "华东")
    expected = [e["id"] for e in web_world.all_entries() if e["record_id"] in theirs]

    assert expected
    assert [e["id"] for e in seen] == expected


def test_record_and_time_filters(web_world: World) -> None:
    stored = web_world.all_entries()
    record = stored[-1]["record_id"]
    admin = web_world.login("admin")

    by_record = _walk(admin, web_world, record=record)
    assert [e["id"] for e in by_record] == [
        e["id"] for e in stored if e["record_id"] == record
    ]

    middle = stored[len(stored) // 2]["occurred_at"]
    since = _walk(admin, web_world, since=middle)
    until = _walk(admin, web_world, until=middle)
    assert [e["id"] for e in since] == [
        e["id"] for e in stored if e["occurred_at"] >= middle
    ]
    assert [e["id"] for e in until] == [
        e["id"] for e in stored if e["occurred_at"] < middle
    ]


def test_unknown_kind_of_change_is_a_400(web_world: World) -> None:
    answer = web_world.login("admin").get(
        web_world.base_url + "/api/v1/entries", params={"action": "explode"}
    )
    assert answer.status_code == 400
    assert "explode" in answer.json()["error"]


# --- replies and mentions ---------------------------------------------------------


def _zhangsan_entry(world: World, module: str) -> dict[str, Any]:
    return next(
        e
        for e in world.all_entries()
        if e["actor"] == "张三" and e["module"] == module and e["action"] == "create"
    )


def test_reply_appears_under_its_entry_and_filters_never_hide_it(
    web_world: World,
) -> None:
    director = web_world.login("director")
    entry = _zhangsan_entry(web_world, "Opportunities")
    body = "好项目，加油 🚀 <b>别忘了</b>报价"

    posted = director.post(
        f"{web_world.base_url}/api/v1/entries/{entry['id']}/replies",
        json={"body": body},
        headers={"X-CSRF-Token": web_world.csrf(director)},
    )
    assert posted.status_code == 201, posted.text
    reply = posted.json()
    assert reply["body"] == body
    assert reply["author"] == "李总"

    zhangsan = web_world.login("zhangsan")
    one = zhangsan.get(f"{web_world.base_url}/api/v1/entries/{entry['id']}").json()
    assert reply["id"] in [r["id"] for r in one["replies"]]

    # Filtered to 张三's own changes, the director's reply still comes along.
    filtered = _walk(
        zhangsan,
        web_world,
        actor=web_world.people["zhangsan"].id,
        module="Opportunities",
    )
    shown = next(e for e in filtered if e["id"] == entry["id"])
    assert [r["body"] for r in shown["replies"] if r["id"] == reply["id"]] == [body]


def test_mentioned_user_finds_the_reply_under_at_me(web_world: World) -> None:
    director = web_world.login("director")
    entry = _zhangsan_entry(web_world, "Notes")
    posted = director.post(
        f"{web_world.base_url}/api/v1/entries/{entry['id']}/replies",
        json={"body": "@user1 请下周跟进，@赵六看一下"},
        headers={"X-CSRF-Token": web_world.csrf(director)},
    )
    assert posted.status_code == 201, posted.text
    mentioned = {m["user_id"] for m in posted.json()["mentions"]}
    assert mentioned == {
        web_world.people["zhangsan"].id,
        web_world.people["zhaoliu"].id,
    }

    for who in ("zhangsan", "zhaoliu"):
        mine = web_world.login(who).get(web_world.base_url + "/api/v1/mentions").json()
        assert posted.json()["id"] in [m["reply"]["id"] for m in mine["mentions"]]
    lisi = web_world.login("lisi").get(web_world.base_url + "/api/v1/mentions").json()
    assert posted.json()["id"] not in [m["reply"]["id"] for m in lisi["mentions"]]


def test_cookie_writes_need_the_csrf_token_api_tokens_do_not(web_world: World) -> None:
    entry = _zhangsan_entry(web_world, "Contacts")
    url = f"{web_world.base_url}/api/v1/entries/{entry['id']}/replies"
    director = web_world.login("director")

    assert director.post(url, json={"body": "无令牌"}).status_code == 403
    assert (
        director.post(
            url, json={"body": "错令牌"}, headers={"X-CSRF-Token": "x"}
        ).status_code
        == 403
    )
    _token_id, token = create_api_token(
        web_world.feed, web_world.crm, "director", name="script"
    )
    answer = requests.post(
        url, json={"body": "脚本回复"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 201
    assert answer.json()["author_id"] == web_world.people["director"].id
    me = requests.get(
        web_world.base_url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert me["user_name"] == "director"
    wrong = requests.get(
        web_world.base_url + "/api/v1/me",
        headers={"Authorization": "Bearer dscrm_wrong"},
    )
    assert wrong.status_code == 401


# --- login ------------------------------------------------------------------------


def _login_form(world: World, user_name: str, password: str) -> requests.Response:
    session = requests.Session()
    form = session.get(world.base_url + "/login")
    token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    return session.post(
        world.base_url + "/login",
        data={"user_name": user_name, "password": password, "csrf_token": token},
        allow_redirects=False,
    )


def test_wrong_password_is_refused_and_repeated_failures_are_throttled(
    web_world: World,
) -> None:
    name = "zhaoliu"
    password = web_world.people[name].password
    limit = web_world.service.settings.login_max_failures
    with web_world.feed.begin() as conn:
        conn.execute(login_attempts.delete().where(login_attempts.c.user_name == name))

    statuses = [_login_form(web_world, name, "wrong").status_code for _ in range(limit)]
    assert statuses == [401] * limit
    blocked = _login_form(web_world, name, password)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "dscrm_session" not in blocked.cookies

    with web_world.feed.begin() as conn:
        conn.execute(login_attempts.delete().where(login_attempts.c.user_name == name))
    assert _login_form(web_world, name, password).status_code == 303


def test_login_without_the_forms_token_is_refused(web_world: World) -> None:
    answer = requests.post(
        web_world.base_url + "/login",
        data={"user_name": "user1", "password": "admin1234", "csrf_token": "x"},
        allow_redirects=False,
    )
    assert answer.status_code == 403
    assert "dscrm_session" not in answer.cookies


def test_session_cookie_is_httponly_and_samesite(web_world: World) -> None:
    answer = _login_form(web_world, "user1", "admin1234")
    cookie = answer.headers["set-cookie"]
    assert "dscrm_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


# --- escaping ---------------------------------------------------------------------


def test_script_name_is_text_in_the_api_and_on_the_page(web_world: World) -> None:
    session = web_world.login("zhangsan")
    api = session.get(
        web_world.base_url + "/api/v1/entries",
        params={"record": web_world.script_account_id},
    )
    assert api.headers["content-type"].startswith("application/json")
    assert api.headers["x-content-type-options"] == "nosniff"
    names = [e["record_name"] for e in api.json()["entries"]]
    assert names
    assert set(names) == {SCRIPT_NAME}

    page = session.get(
        web_world.base_url + "/", params={"record": web_world.script_account_id}
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>" not in page.text
    assert "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]


# --- health and metrics -----------------------------------------------------------


def test_healthz_and_metrics_count_entries_served(web_world: World) -> None:
    health = requests.get(web_world.base_url + "/healthz")
    assert health.status_code == 200
    assert health.json()["schema_current"] is True

    admin = web_world.login("admin")

    def served() -> int:
        text = admin.get(web_world.base_url + "/metrics").text
        line = next(
            x for x in text.splitlines() if x.startswith("dscrm_feed_entries_served")
        )
        return int(line.split()[-1])

    before = served()
    page = admin.get(web_world.base_url + "/api/v1/entries", params={"limit": 3})
    assert served() - before == len(page.json()["entries"]) == 3
    assert (
        "dscrm_sync_lag_seconds{source="
        in admin.get(web_world.base_url + "/metrics").text
    )


def test_openapi_document_lists_the_feed_api(web_world: World) -> None:
    document = requests.get(web_world.base_url + "/openapi.json").json()
    assert {
        "/api/v1/entries",
        "/api/v1/entries/{entry_id}",
        "/api/v1/entries/{entry_id}/replies",
        "/api/v1/mentions",
        "/healthz",
    } <= set(document["paths"])
