"""One SuiteCRM (the sandbox on MariaDB) with the story and four kinds of reader.

Built once for the web tests: the quickstart story (admin, group 销售, role 售前,
张三 and his six records), then

- 李总 (``director``): in 销售, direct role 销售总监 with view = Group;
- 李四 (``lisi``): in another group 华东 (role 售前), owns one account there;
- 赵六 (``zhaoliu``): in 销售, direct role 受限 that disables Accounts and sets
  Contacts view to None;
- an account of 张三 renamed by SQL to ``<script>alert(1)</script>`` (V8
  strips tags from names, Q13, so only SQL can store one).

Role matrices are written as the legacy role editor writes them (acl-notes 2,
``write_role_matrix``).  The feed is synced into a second MariaDB database and
served by the web app on a loopback port.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from dscrm_bridge import demo
from dscrm_bridge.feed import FeedStore, upgrade
from dscrm_bridge.sandbox import running_sandbox, write_role_matrix
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.suitecrm.gateway import open_engine
from dscrm_bridge.suitecrm.v8client import V8Client
from dscrm_bridge.sync import sync_once
from dscrm_bridge.web.app import create_app
from dscrm_bridge.web.server import running_web
from dscrm_bridge.web.service import FeedService, WebSettings
from tests.conftest import _mysql_connect, _mysql_url

SCRIPT_NAME = "<script>alert(1)</script>"
PASSWORD = "admin1234"
SESSION_SECRET = "test-session-secret-" + "x" * 16
STORY = demo.STORY_MODULES
ALL_MODULES = ("access", "view", "list", "edit", "delete", "import", "export")
PRESALES = {
    "access": 89,
    "view": 80,
    "list": 80,
    "edit": 80,
    "delete": 75,
    "export": 75,
    "import": -99,
    "massupdate": -99,
}


@dataclass
class Person:
    user_name: str
    password: str
    id: str
    name: str


@dataclass
class World:
    base_url: str
    service: FeedService
    crm: sa.Engine
    feed_url: str
    feed: sa.Engine
    people: dict[str, Person]
    group_ids: dict[str, str]
    script_account_id: str
    sandbox_url: str
    client_factory: object

    def login(self, who: str) -> requests.Session:
        """A browser-like session signed in through the login form."""
        person = self.people[who]
        session = requests.Session()
        form = session.get(self.base_url + "/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        answer = session.post(
            self.base_url + "/login",
            data={
                "user_name": person.user_name,
                "password": person.password,
                "csrf_token": token.group(1),
                "next": "/",
            },
            allow_redirects=False,
        )
        assert answer.status_code == 303, answer.text[:500]
        return session

    def csrf(self, session: requests.Session) -> str:
        page = session.get(self.base_url + "/")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found is not None
        return found.group(1)

    def all_entries(self) -> list[dict[str, object]]:
        return FeedStore(self.feed).list_entries()


def _database(conn: object, names: list[str]) -> str:
    name = "dscrm_test_" + uuid.uuid4().hex[:12]
    with conn.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
        )
    names.append(name)
    return _mysql_url(name)


@pytest.fixture(scope="session")
def web_world(
    mysql_server: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    conn = _mysql_connect()
    created: list[str] = []
    try:
        crm_url = _database(conn, created)
        feed_url = _database(conn, created)
        upload = tmp_path_factory.mktemp("upload")
        with running_sandbox(crm_url, upload_dir=Path(upload)) as box:
            yield from _world(box, feed_url)
    finally:
        with conn.cursor() as cur:
            for name in created:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def _world(box: object, feed_url: str) -> Iterator[World]:
    info = box.info  # type: ignore[attr-defined]
    base = box.base_url  # type: ignore[attr-defined]
    crm: sa.Engine = box.engine  # type: ignore[attr-defined]

    def client(user_name: str, password: str) -> V8Client:
        return V8Client(
            base,
            client_id=info.password_client_id,
            client_secret=info.password_client_secret,
            username=user_name,
            password=password,
        )

    target = demo.DemoTarget(
        client, info.admin_user_name, info.admin_password, crm, feed_url
    )
    demo.run_story(target, report=lambda line: None)
    people = {
        "admin": Person(
            info.admin_user_name, info.admin_password, "1", "Administrator"
        ),
        "zhangsan": Person(
            "user1", PASSWORD, _id_of(crm, t.users.c.user_name, "user1"), "张三"
        ),
    }
    groups = {"销售": _id_of(crm, t.securitygroups.c.name, "销售")}
    presales_role = _id_of(crm, t.acl_roles.c.name, "售前")
    write_role_matrix(crm, presales_role, {m: PRESALES for m in STORY})

    with client(info.admin_user_name, info.admin_password) as admin:
        groups["华东"] = admin.create("SecurityGroups", {"name": "华东"}).id
        admin.relate(
            "SecurityGroups", groups["华东"], "aclroles", "ACLRoles", presales_role
        )
        director_role = admin.create("ACLRoles", {"name": "销售总监"}).id
        limited_role = admin.create("ACLRoles", {"name": "受限"}).id
        people["director"] = _new_user(admin, "director", "总", "李", groups["销售"])
        people["lisi"] = _new_user(admin, "lisi", "四", "李", groups["华东"])
        people["zhaoliu"] = _new_user(admin, "zhaoliu", "六", "赵", groups["销售"])
    write_role_matrix(crm, director_role, {m: PRESALES for m in STORY})
    limited = {m: PRESALES for m in STORY}
    limited["Accounts"] = {**PRESALES, "access": -98}
    limited["Contacts"] = {**PRESALES, "view": -99}
    write_role_matrix(crm, limited_role, limited)
    _give_role(crm, people["director"].id, director_role)
    _give_role(crm, people["zhaoliu"].id, limited_role)

    with client("lisi", PASSWORD) as lisi:
        lisi.create(
            "Accounts", {"name": "杭州东湖科技", "assigned_user_id": people["lisi"].id}
        )
    with client("user1", PASSWORD) as zhangsan:
        script = zhangsan.create(
            "Accounts", {"name": "临时客户", "assigned_user_id": people["zhangsan"].id}
        )
    with crm.begin() as conn:
        conn.execute(
            t.accounts.update()
            .where(t.accounts.c.id == script.id)
            .values(
                name=SCRIPT_NAME,
                date_modified=sa.func.date_add(
                    t.accounts.c.date_modified, sa.text("INTERVAL 1 SECOND")
                ),
            )
        )
    sync_once(crm, feed_url, modules=list(STORY))

    feed = open_engine(feed_url)
    upgrade(feed)
    service = FeedService(
        feed,
        crm,
        client_factory=client,
        settings=WebSettings(
            session_secret=SESSION_SECRET,
            suitecrm_url=base,
            modules=STORY,
            page_size=5,
            login_max_failures=3,
        ),
    )
    with running_web(create_app(service)) as url:
        yield World(
            base_url=url,
            service=service,
            crm=crm,
            feed_url=feed_url,
            feed=feed,
            people=people,
            group_ids=groups,
            script_account_id=script.id,
            sandbox_url=base,
            client_factory=client,
        )
    feed.dispose()


def _new_user(
    admin: V8Client, user_name: str, first: str, last: str, group_id: str
) -> Person:
    # Q23: V8 takes the password as user_hash = md5(plain text).
    user = admin.create(
        "Users",
        {
            "user_name": user_name,
            "first_name": first,
            "last_name": last,
            "status": "Active",
            "is_admin": "0",
            "email1": f"{user_name}@example.com",
            "user_hash": hashlib.md5(PASSWORD.encode()).hexdigest(),
        },
    )
    admin.relate("SecurityGroups", group_id, "users", "Users", user.id)
    return Person(user_name, PASSWORD, user.id, last + first)


def _give_role(crm: sa.Engine, user_id: str, role_id: str) -> None:
    with crm.begin() as conn:
        conn.execute(
            t.acl_roles_users.insert().values(
                id=str(uuid.uuid4()), role_id=role_id, user_id=user_id, deleted=0
            )
        )


def _id_of(crm: sa.Engine, column: sa.Column[str], value: str) -> str:
    """The id of the one row of ``column``'s table whose ``column`` is ``value``."""
    table = column.table
    with crm.connect() as conn:
        query = sa.select(table.c.id).where(column == value)
        return str(conn.execute(query).scalar_one())
