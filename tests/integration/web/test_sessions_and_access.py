"""Sessions end on logout, switched-off users lose the feed at once, refused
requests are explained in the product's language, and /metrics needs an admin.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from dscrm_bridge.i18n import translator
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.web.app import ReplyIn
from dscrm_bridge.web.auth import SESSION_COOKIE, create_api_token
from tests.integration.web.conftest import World, _new_user

pytestmark = pytest.mark.mysql

zh = translator("zh_CN")


@pytest.fixture
def newcomer(web_world: World) -> Iterator[str]:
    """A fresh active user of 销售 (key in ``web_world.people``)."""
    info = web_world.people["admin"]
    key = "u" + uuid.uuid4().hex[:8]
    with web_world.client_factory(info.user_name, info.password) as admin:  # type: ignore[operator]
        web_world.people[key] = _new_user(
            admin, key, "五", "王", web_world.group_ids["销售"]
        )
    yield key
    del web_world.people[key]


def _switch_off(world: World, user_id: str, **values: object) -> None:
    with world.crm.begin() as conn:
        conn.execute(t.users.update().where(t.users.c.id == user_id).values(**values))


def test_logout_ends_the_session_even_for_a_saved_cookie(web_world: World) -> None:
    session = web_world.login("zhangsan")
    saved = session.cookies[SESSION_COOKIE]
    csrf = web_world.csrf(session)
    assert session.get(web_world.base_url + "/api/v1/me").status_code == 200

    out = session.post(
        web_world.base_url + "/logout",
        data={"csrf_token": csrf},
        allow_redirects=False,
    )
    assert out.status_code == 303

    replay = requests.get(
        web_world.base_url + "/api/v1/me", cookies={SESSION_COOKIE: saved}
    )
    assert replay.status_code == 401
    page = requests.get(
        web_world.base_url + "/",
        cookies={SESSION_COOKIE: saved},
        allow_redirects=False,
    )
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")


def test_another_login_of_the_same_user_survives_a_logout(web_world: World) -> None:
    first = web_world.login("zhangsan")
    second = web_world.login("zhangsan")
    first.post(
        web_world.base_url + "/logout", data={"csrf_token": web_world.csrf(first)}
    )

    assert second.get(web_world.base_url + "/api/v1/me").status_code == 200


@pytest.mark.parametrize("values", [{"status": "Inactive"}, {"deleted": 1}])
def test_a_switched_off_user_loses_cookie_and_token_at_once(
    web_world: World, newcomer: str, values: dict[str, object]
) -> None:
    person = web_world.people[newcomer]
    session = web_world.login(newcomer)
    _id, token = create_api_token(
        web_world.feed, web_world.crm, person.user_name, name="脚本"
    )
    bearer = {"Authorization": f"Bearer {token}"}
    me = web_world.base_url + "/api/v1/me"
    assert session.get(me).json()["id"] == person.id
    assert requests.get(me, headers=bearer).json()["id"] == person.id

    _switch_off(web_world, person.id, **values)

    assert session.get(me).status_code == 401
    assert requests.get(me, headers=bearer).status_code == 401
    page = session.get(web_world.base_url + "/", allow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")


def test_validation_errors_are_chinese_and_never_echo_the_input(
    web_world: World,
) -> None:
    admin = web_world.login("admin")
    entry_id = web_world.all_entries()[0]["id"]
    csrf = web_world.csrf(admin)
    longest = ReplyIn.model_json_schema()["properties"]["body"]["maxLength"]
    body = "很长的回复😀" * (longest // 3)

    answer = admin.post(
        f"{web_world.base_url}/api/v1/entries/{entry_id}/replies",
        json={"body": body},
        headers={"X-CSRF-Token": csrf},
    )

    assert answer.status_code == 422
    expected = zh("{field} may have at most {limit} characters.").format(
        field="body", limit=longest
    )
    assert answer.json() == {
        "error": expected,
        "fields": [{"field": "body", "reason": expected}],
    }
    assert "很长的回复" not in answer.text


def test_an_out_of_range_query_names_the_field_and_its_limit(
    web_world: World,
) -> None:
    admin = web_world.login("admin")
    answer = admin.get(web_world.base_url + "/api/v1/entries", params={"limit": 0})

    assert answer.status_code == 422
    assert answer.json()["fields"] == [
        {
            "field": "limit",
            "reason": zh("{field} must be at least {limit}.").format(
                field="limit", limit=1
            ),
        }
    ]
    assert "Input should" not in answer.text


def test_metrics_need_an_admin_session_or_token(web_world: World) -> None:
    url = web_world.base_url + "/metrics"
    assert requests.get(url).status_code == 401
    assert web_world.login("zhangsan").get(url).status_code == 403
    assert web_world.login("admin").get(url).status_code == 200
    admin_name = web_world.people["admin"].user_name
    _id, token = create_api_token(web_world.feed, web_world.crm, admin_name, name="p")
    scraped = requests.get(url, headers={"Authorization": f"Bearer {token}"})
    assert scraped.status_code == 200
    assert "dscrm_feed_entries " in scraped.text
