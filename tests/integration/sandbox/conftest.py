"""Fixtures for the sandbox's HTTP tests: a running sandbox and a small V8 caller."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from dscrm_bridge.sandbox import RunningSandbox, running_sandbox

ADMIN_PASSWORD = "admin-pw-for-tests"
# Role 售前 as the legacy role editor saved it (acl-notes.md section 2).
PRESALES_LEVELS = {
    "access": 89,
    "view": 80,
    "list": 80,
    "edit": 80,
    "delete": 75,
    "export": 75,
    "import": -99,
    "massupdate": -99,
}
STORY_MODULES = (
    "Accounts",
    "Contacts",
    "Opportunities",
    "Notes",
    "Documents",
    "Meetings",
)
TIMEOUT_S = 30


def password_grant(
    sandbox: RunningSandbox, user: str, password: str, *, client: str = "password"
) -> requests.Response:
    """``POST /Api/access_token`` with the password or the client_credentials client."""
    info = sandbox.info
    client_id, secret = (
        (info.password_client_id, info.password_client_secret)
        if client == "password"
        else (info.cc_client_id, info.cc_client_secret)
    )
    return requests.post(
        f"{sandbox.base_url}/Api/access_token",
        json={
            "grant_type": "password",
            "client_id": client_id,
            "client_secret": secret,
            "username": user,
            "password": password,
        },
        timeout=TIMEOUT_S,
    )


class V8:
    """Calls the sandbox as one user, with a password-grant token."""

    def __init__(self, sandbox: RunningSandbox, user: str, password: str) -> None:
        self.base = sandbox.base_url
        self.session = requests.Session()
        answer = password_grant(sandbox, user, password)
        assert answer.status_code == 200, answer.text
        self.session.headers["Authorization"] = (
            "Bearer " + answer.json()["access_token"]
        )
        self.session.headers["Content-Type"] = "application/vnd.api+json"

    def call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        return self.session.request(
            method,
            f"{self.base}/Api/V8/{path}",
            json=body,
            params=params or None,
            timeout=TIMEOUT_S,
        )

    def create(self, module: str, **attributes: Any) -> dict[str, Any]:
        answer = self.call(
            "POST", "module", {"data": {"type": module, "attributes": attributes}}
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["data"]  # type: ignore[no-any-return]

    def relate(
        self, module: str, record_id: str, link: str, other: str, oid: str
    ) -> None:
        answer = self.call(
            "POST",
            f"module/{module}/{record_id}/relationships/{link}",
            {"data": {"type": other, "id": oid}},
        )
        assert answer.status_code == 201, answer.text


@pytest.fixture()
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    with running_sandbox(
        f"sqlite:///{tmp_path / 'sandbox.db'}",
        upload_dir=tmp_path / "upload",
        admin_password=ADMIN_PASSWORD,
    ) as running:
        yield running


@pytest.fixture()
def admin(sandbox: RunningSandbox) -> V8:
    return V8(sandbox, "admin", ADMIN_PASSWORD)


@pytest.fixture()
def mariadb_sandbox(mysql_database: str, tmp_path: Path) -> Iterator[RunningSandbox]:
    """A running sandbox on a fresh MariaDB database (tests marked ``mysql``)."""
    with running_sandbox(
        mysql_database, upload_dir=tmp_path / "upload", admin_password=ADMIN_PASSWORD
    ) as running:
        yield running


@pytest.fixture()
def mariadb_admin(mariadb_sandbox: RunningSandbox) -> V8:
    return V8(mariadb_sandbox, "admin", ADMIN_PASSWORD)
