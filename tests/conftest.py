"""Shared fixtures: MariaDB databases of a test's own, the reference data directory."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

MYSQL_HOST = os.environ.get("DSCRM_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("DSCRM_TEST_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("DSCRM_TEST_MYSQL_USER", "root")
MYSQL_PASSWORD = os.environ.get("DSCRM_TEST_MYSQL_PASSWORD", "")

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = Path(
    os.environ.get(
        "DSCRM_REFERENCE_DIR", REPO_ROOT.parent / "shared" / "suitecrm-reference"
    )
)
# CI sets these so that a missing reference directory or MariaDB fails, not skips.
REQUIRE_REFERENCE = os.environ.get("DSCRM_REQUIRE_REFERENCE") == "1"
REQUIRE_MYSQL = os.environ.get("DSCRM_REQUIRE_MYSQL") == "1"


def _mysql_connect(database: str | None = None):  # type: ignore[no-untyped-def]
    import pymysql

    return pymysql.connect(
        host=MYSQL_HOST,
        port=MYSQL_PORT,
        user=MYSQL_USER,
        password=MYSQL_PASSWORD,
        database=database,
        charset="utf8mb4",
        autocommit=True,
        connect_timeout=3,
    )


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Each test starts in zh_CN, the default, whatever an earlier test chose."""
    from dscrm_bridge import i18n

    i18n.set_language(i18n.DEFAULT_LANGUAGE)
    yield
    i18n.set_language(i18n.DEFAULT_LANGUAGE)


@pytest.fixture(scope="session")
def mysql_server() -> None:
    """Skip (CI turns the skip into a failure) when no MariaDB is reachable."""
    try:
        _mysql_connect().close()
    except Exception as exc:  # noqa: BLE001 - any failure means "no server"
        if REQUIRE_MYSQL:
            pytest.fail(f"MariaDB required but not reachable: {exc}")
        pytest.skip(f"no MariaDB reachable at {MYSQL_HOST}:{MYSQL_PORT}: {exc}")


def _mysql_url(database: str) -> str:
    auth = MYSQL_USER if not MYSQL_PASSWORD else f"{MYSQL_USER}:{MYSQL_PASSWORD}"
    return (
        f"mysql+pymysql://{auth}@{MYSQL_HOST}:{MYSQL_PORT}/{database}?charset=utf8mb4"
    )


@pytest.fixture()
def mysql_database(mysql_server: None) -> Iterator[str]:
    """A fresh, empty MariaDB database for one test; yields its SQLAlchemy URL."""
    name = "dscrm_test_" + uuid.uuid4().hex[:12]
    conn = _mysql_connect()
    with conn.cursor() as cur:
        cur.execute(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
        )
    try:
        yield _mysql_url(name)
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture()
def mysql_database_factory(mysql_server: None) -> Iterator[object]:
    """Call it to get more fresh MariaDB databases in one test (all dropped after)."""
    created: list[str] = []
    conn = _mysql_connect()

    def make() -> str:
        name = "dscrm_test_" + uuid.uuid4().hex[:12]
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 "
                "COLLATE utf8mb4_general_ci"
            )
        created.append(name)
        return _mysql_url(name)

    try:
        yield make
    finally:
        with conn.cursor() as cur:
            for name in created:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``shared/suitecrm-reference``; skipped when absent unless CI requires it."""
    if not REFERENCE_DIR.is_dir():
        if REQUIRE_REFERENCE:
            pytest.fail(f"reference data missing at {REFERENCE_DIR}")
        pytest.skip(f"reference data not present at {REFERENCE_DIR}")
    return REFERENCE_DIR


def load_sql_dump(url: str, sql_text: str) -> None:
    """Run a mysqldump text against the database of ``url`` (MariaDB only)."""
    import pymysql

    database = url.rsplit("/", 1)[1].split("?")[0]
    conn = pymysql.connect(
        host=MYSQL_HOST,
        port=MYSQL_PORT,
        user=MYSQL_USER,
        password=MYSQL_PASSWORD,
        database=database,
        charset="utf8mb4",
        autocommit=True,
        client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS,
    )
    try:
        with conn.cursor() as cur:
            cur.execute(sql_text)
            while cur.nextset():
                pass
    finally:
        conn.close()
