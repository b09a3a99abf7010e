"""The quickstart story, run end to end against a SuiteCRM (or the sandbox).

Admin creates the security group 销售, the role 售前 and the user 张三 (user1);
张三 records an account, a contact, a note, an opportunity with a document and a
meeting, all through the V8 API; then the sync mirrors the changes into the feed
and the feed is read back as the admin sees it.  Each step reports one line.
The records are those of the story as a real SuiteCRM recorded it
(``suitecrm-reference/api-transcript.md``, steps B1-C16).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dscrm_bridge.config import Config, Secret
from dscrm_bridge.errors import ConfigError
from dscrm_bridge.feed import FeedStore, upgrade
from dscrm_bridge.i18n import _
from dscrm_bridge.suitecrm.v8client import V8Client
from dscrm_bridge.sync import sync_once

logger = logging.getLogger(__name__)

STORY_MODULES = (
    "Accounts",
    "Contacts",
    "Opportunities",
    "Notes",
    "Documents",
    "Meetings",
)

GROUP = {"name": "销售", "description": "销售部"}
ROLE = {"name": "售前", "description": "售前角色"}
USER_NAME = "user1"
USER_PASSWORD = "admin1234"  # the story's own example password (quickstart-zh.md)
USER = {
    "user_name": USER_NAME,
    "first_name": "三",
    "last_name": "张",
    "status": "Active",
    "employee_status": "Active",
    "is_admin": "0",
    "email1": "user1@example.com",
    "title": "售前工程师",
    "department": "销售部",
}
ACCOUNT = {
    "name": "上海云启信息技术有限公司",
    "account_type": "Customer",
    "industry": "Technology",
    "phone_office": "+86 21 5555 0101",
    "billing_address_city": "上海",
    "billing_address_country": "中国",
    "description": "通过展会获取的线索",
}
CONTACT = {
    "first_name": "五",
    "last_name": "王",
    "title": "采购经理",
    "phone_mobile": "+86 138 0000 0000",
    "email1": "wangwu@example.com",
}
NOTE = {"name": "首次拜访纪要", "description": "客户关注数据同步与权限控制。"}
OPPORTUNITY = {
    "name": "云启 CRM 项目",
    "amount": "500000",
    "currency_id": "-99",
    "date_closed": "2027-03-31",
    "sales_stage": "Prospecting",
    "probability": "10",
    "lead_source": "Trade Show",
}
DOCUMENT_NAME = "技术方案书"
DOCUMENT_FILE = "技术方案书.txt"
DOCUMENT_TEXT = "云启 CRM 项目技术方案（初稿）\n"
MEETING = {
    "name": "方案交流会",
    "date_start": "2026-12-10 02:00:00",  # 10:00 Asia/Shanghai, sent as UTC (Q17)
    "duration_hours": "1",
    "duration_minutes": "30",
    "location": "客户现场（上海）",
    "status": "Planned",
}

Report = Callable[[str], None]
ClientFactory = Callable[[str, str], V8Client]


@dataclass(frozen=True)
class DemoTarget:
    """Where the story runs: a V8 API to write through and a database to sync from."""

    client_factory: ClientFactory
    admin_user: str
    admin_password: str
    suitecrm_db_url: Any  # a URL or an Engine
    feed_url: Any


def run_story(target: DemoTarget, *, report: Report) -> list[dict[str, Any]]:
    """Walk the quickstart story, sync, and return the feed newest first."""
    upgrade(target.feed_url)
    store = FeedStore(target.feed_url)
    _start_cursor(target, store)

    user_id = _admin_part(target, report)
    _sales_part(target, user_id, report)

    result = sync_once(
        target.suitecrm_db_url,
        store,
        modules=list(STORY_MODULES),
        security_groups=False,
    )
    report(_("Synced: {count} new feed entries.").format(count=result.total))
    entries = store.list_entries()
    report(_("The feed as the admin sees it:"))
    return entries


def _start_cursor(target: DemoTarget, store: FeedStore) -> None:
    """A first sync with no ``since`` starts from now: the story is what follows."""
    sync_once(
        target.suitecrm_db_url,
        store,
        modules=list(STORY_MODULES),
        security_groups=False,
    )


def _admin_part(target: DemoTarget, report: Report) -> str:
    """As admin: group 销售, role 售前 linked to it, user 张三 in the group."""
    with target.client_factory(target.admin_user, target.admin_password) as admin:
        admin.verify_identity(target.admin_user)  # Q3: whom the token acts as
        report(_("Admin {user} signed in.").format(user=target.admin_user))
        group = admin.create("SecurityGroups", GROUP)
        report(_("Created security group 「{name}」.").format(name=GROUP["name"]))
        role = admin.create("ACLRoles", ROLE)
        report(_("Created role 「{name}」.").format(name=ROLE["name"]))
        admin.relate("SecurityGroups", group.id, "aclroles", "ACLRoles", role.id)
        report(
            _("Linked role 「{role}」 to group 「{group}」.").format(
                role=ROLE["name"], group=GROUP["name"]
            )
        )
        # Q23: the V8 API takes the password as user_hash = md5(plain text).
        password_hash = hashlib.md5(USER_PASSWORD.encode("utf-8")).hexdigest()
        user = admin.create("Users", {**USER, "user_hash": password_hash})
        admin.relate("SecurityGroups", group.id, "users", "Users", user.id)
        report(
            _("Created user 「{name}」 ({user_name}) in group 「{group}」.").format(
                name=USER["last_name"] + USER["first_name"],
                user_name=USER_NAME,
                group=GROUP["name"],
            )
        )
        return user.id


def _sales_part(target: DemoTarget, user_id: str, report: Report) -> None:
    """As 张三: account, contact, note, opportunity, document, meeting, links."""
    owned = {"assigned_user_id": user_id}  # Q22: V8 does not default the owner
    with target.client_factory(USER_NAME, USER_PASSWORD) as sales:
        sales.verify_identity(USER_NAME)
        report(_("{user_name} signed in.").format(user_name=USER_NAME))
        account = sales.create("Accounts", {**ACCOUNT, **owned})
        report(_("Created account 「{name}」.").format(name=ACCOUNT["name"]))
        contact = sales.create("Contacts", {**CONTACT, **owned})
        contact_name = CONTACT["last_name"] + CONTACT["first_name"]
        report(_("Created contact 「{name}」.").format(name=contact_name))
        sales.relate("Accounts", account.id, "contacts", "Contacts", contact.id)
        report(
            _("Linked contact 「{contact}」 to account 「{account}」.").format(
                contact=contact_name, account=ACCOUNT["name"]
            )
        )
        sales.create(
            "Notes",
            {
                **NOTE,
                "parent_type": "Accounts",
                "parent_id": account.id,
                "contact_id": contact.id,
                **owned,
            },
        )
        report(
            _(
                "Created note 「{name}」 in the history of account 「{account}」."
            ).format(name=NOTE["name"], account=ACCOUNT["name"])
        )
        opportunity = sales.create(
            "Opportunities", {**OPPORTUNITY, "account_id": account.id, **owned}
        )
        report(
            _("Created opportunity 「{name}」 for account 「{account}」.").format(
                name=OPPORTUNITY["name"], account=ACCOUNT["name"]
            )
        )
        document = sales.create_document(
            DOCUMENT_FILE,
            DOCUMENT_TEXT.encode("utf-8"),
            attributes={
                "document_name": DOCUMENT_NAME,
                "status_id": "Active",
                "category_id": "Sales",
                **owned,
            },
        )
        sales.relate(
            "Opportunities", opportunity.id, "documents", "Documents", document.id
        )
        report(
            _("Created document 「{name}」 on opportunity 「{opportunity}」.").format(
                name=DOCUMENT_NAME, opportunity=OPPORTUNITY["name"]
            )
        )
        sales.create(
            "Meetings",
            {
                **MEETING,
                "parent_type": "Opportunities",
                "parent_id": opportunity.id,
                **owned,
            },
        )
        report(
            _("Created meeting 「{name}」 on opportunity 「{opportunity}」.").format(
                name=MEETING["name"], opportunity=OPPORTUNITY["name"]
            )
        )


def run_in_sandbox(db_url: str | None, *, report: Report) -> list[dict[str, Any]]:
    """The story against a fresh sandbox; its files live in a temporary directory."""
    from dscrm_bridge.sandbox import running_sandbox

    with tempfile.TemporaryDirectory(prefix="dscrm-demo-") as workdir:
        sandbox_url = db_url or f"sqlite:///{Path(workdir) / 'suitecrm.db'}"
        feed_url = f"sqlite:///{Path(workdir) / 'feed.db'}"
        with running_sandbox(sandbox_url, upload_dir=Path(workdir) / "upload") as box:
            report(_("Sandbox started at {url}.").format(url=box.base_url))
            info = box.info

            def client(user_name: str, password: str) -> V8Client:
                return V8Client(
                    box.base_url,
                    client_id=info.password_client_id,
                    client_secret=info.password_client_secret,
                    username=user_name,
                    password=password,
                )

            target = DemoTarget(
                client_factory=client,
                admin_user=info.admin_user_name,
                admin_password=info.admin_password,
                suitecrm_db_url=box.engine,
                feed_url=feed_url,
            )
            return run_story(target, report=report)


def run_against_config(config: Config, *, report: Report) -> list[dict[str, Any]]:
    """The story against the SuiteCRM of the configuration (password grant)."""
    crm = config.suitecrm
    problems = []
    if not crm.client_id or not crm.client_secret:
        problems.append(
            _(
                "suitecrm.client_id and DSCRM_SUITECRM_CLIENT_SECRET (a password-grant "
                "OAuth2 client)"
            )
        )
    if not crm.password:
        problems.append(
            _("DSCRM_SUITECRM_PASSWORD (the password of suitecrm.username)")
        )
    if not crm.database_url:
        problems.append(_("suitecrm.database_url (SQL access for the sync)"))
    if problems:
        raise ConfigError(
            _("The demo against the configured SuiteCRM needs:"), problems=problems
        )

    def client(user_name: str, password: str) -> V8Client:
        return V8Client.from_settings(
            replace(
                crm,
                grant_type="password",
                username=user_name,
                password=Secret(password),
            )
        )

    target = DemoTarget(
        client_factory=client,
        admin_user=crm.username,
        admin_password=crm.password.reveal(),
        suitecrm_db_url=crm.sql_url(),
        feed_url=config.bridge.sql_url(),
    )
    return run_story(target, report=report)
