"""Fixtures for workflow and import tests: a sandbox, its admin and a sales user."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dscrm_bridge.sandbox import RunningSandbox, running_sandbox
from dscrm_bridge.suitecrm.v8client import V8Client
from dscrm_bridge.workflows.service import Session, verified_session

ADMIN_PASSWORD = "admin-pw-for-workflow-tests"
SALES_USER = "user1"
SALES_PASSWORD = "sales-pw-for-workflow-tests"


@dataclass(frozen=True)
class Crm:
    """A running sandbox with a signed-in admin and the id of 张三 (user1)."""

    sandbox: RunningSandbox
    admin: Session
    sales_user_id: str

    def client(self, user: str, password: str) -> V8Client:
        info = self.sandbox.info
        return V8Client(
            self.sandbox.base_url,
            client_id=info.password_client_id,
            client_secret=info.password_client_secret,
            username=user,
            password=password,
        )


def _start(db_url: str, upload_dir: Path) -> Iterator[Crm]:
    with running_sandbox(
        db_url, upload_dir=upload_dir, admin_password=ADMIN_PASSWORD
    ) as sandbox:
        info = sandbox.info
        admin_client = V8Client(
            sandbox.base_url,
            client_id=info.password_client_id,
            client_secret=info.password_client_secret,
            username=info.admin_user_name,
            password=ADMIN_PASSWORD,
        )
        with verified_session(admin_client, info.admin_user_name) as admin:
            # Q23: the V8 API takes a password as user_hash = md5(plain text).
            user = admin.client.create(
                "Users",
                {
                    "user_name": SALES_USER,
                    "first_name": "三",
                    "last_name": "张",
                    "status": "Active",
                    "is_admin": "0",
                    "email1": "user1@example.com",
                    "user_hash": hashlib.md5(SALES_PASSWORD.encode()).hexdigest(),
                },
            )
            yield Crm(sandbox=sandbox, admin=admin, sales_user_id=user.id)


@pytest.fixture()
def crm(tmp_path: Path) -> Iterator[Crm]:
    """A sandbox on SQLite: quick, for behaviour that does not depend on MariaDB."""
    yield from _start(f"sqlite:///{tmp_path / 'sandbox.db'}", tmp_path / "upload")


@pytest.fixture()
def mariadb_crm(mysql_database: str, tmp_path: Path) -> Iterator[Crm]:
    """A sandbox on a MariaDB database of this test's own."""
    yield from _start(mysql_database, tmp_path / "upload")
