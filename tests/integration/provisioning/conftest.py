"""Sandboxes on SQLite and MariaDB, an empty SuiteCRM schema, and a write counter."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from dscrm_bridge.provisioning import export_roles
from dscrm_bridge.sandbox import RunningSandbox, running_sandbox
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.suitecrm.v8client import V8Client
from tests.conftest import load_sql_dump

ADMIN_PASSWORD = "admin-pw-for-roles-tests"
WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def admin_client(box: RunningSandbox) -> V8Client:
    return user_client(box, "admin", ADMIN_PASSWORD)


def user_client(box: RunningSandbox, user_name: str, password: str) -> V8Client:
    return V8Client(
        box.base_url,
        client_id=box.info.password_client_id,
        client_secret=box.info.password_client_secret,
        username=user_name,
        password=password,
        max_retries=0,
    )


def write_file(directory: Path, text: str, name: str = "roles.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@contextmanager
def counted_writes(engine: sa.Engine) -> Iterator[list[str]]:
    """Every INSERT/UPDATE/DELETE statement sent on ``engine`` while inside."""
    statements: list[str] = []

    def count(  # type: ignore[no-untyped-def]
        conn, cursor, statement, parameters, context, executemany
    ):
        if statement.lstrip().split(" ", 1)[0].upper() in WRITE_VERBS:
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def live_counts(engine: sa.Engine) -> dict[str, int]:
    """Live (deleted = 0) rows of every table provisioning writes."""
    tables = (
        t.securitygroups,
        t.acl_roles,
        t.acl_roles_actions,
        t.users,
        t.securitygroups_users,
        t.securitygroups_acl_roles,
        t.acl_roles_users,
    )
    with engine.connect() as conn:
        return {
            table.name: conn.execute(
                sa.select(sa.func.count())
                .select_from(table)
                .where(sa.func.coalesce(table.c.deleted, 0) == 0)
            ).scalar_one()
            for table in tables
        }


def snapshot(engine: sa.Engine) -> tuple[str, dict[str, int]]:
    return export_roles(engine), live_counts(engine)


@contextmanager
def _sandbox(url: str, tmp_path: Path) -> Iterator[RunningSandbox]:
    with running_sandbox(
        url, upload_dir=tmp_path / "upload", admin_password=ADMIN_PASSWORD
    ) as box:
        yield box


@pytest.fixture(
    params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mysql)],
    ids=["sqlite", "mariadb"],
)
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningSandbox]:
    """A fresh sandbox over SQLite, then over MariaDB."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'suitecrm.db'}"
    else:
        url = request.getfixturevalue("mysql_database")
    with _sandbox(url, tmp_path) as box:
        yield box


@pytest.fixture()
def sqlite_sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    """A fresh sandbox over SQLite only, for behaviour the database does not change."""
    with _sandbox(f"sqlite:///{tmp_path / 'suitecrm.db'}", tmp_path) as box:
        yield box


@pytest.fixture()
def sqlite_sandbox_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Start more fresh SQLite sandboxes in one test: ``with factory(name) as box``."""

    @contextmanager
    def make(name: str) -> Iterator[RunningSandbox]:
        directory = tmp_path / name
        directory.mkdir()
        with _sandbox(f"sqlite:///{directory / 'suitecrm.db'}", directory) as box:
            yield box

    return make


@pytest.fixture()
def empty_suitecrm(
    reference_dir: Path, mysql_database: str, tmp_path: Path
) -> Iterator[RunningSandbox]:
    """SuiteCRM 7.13's schema and installer rows on MariaDB, served by the sandbox."""
    load_sql_dump(mysql_database, (reference_dir / "schema.sql").read_text("utf-8"))
    load_sql_dump(
        mysql_database, (reference_dir / "acl_actions.sql").read_text("utf-8")
    )
    with _sandbox(mysql_database, tmp_path) as box:
        yield box
