"""`dscrm check` against the sandbox over real HTTP, its database on MariaDB/SQLite."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pymysql
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import cli
from dscrm_bridge.sandbox import RunningSandbox, running_sandbox
from dscrm_bridge.suitecrm import tables
from dscrm_bridge.suitecrm.check import CheckReport, Status, run_checks
from dscrm_bridge.suitecrm.v8client import V8Client, forget_probed_prefixes

SCANNED = ["accounts", "contacts", "notes"]


@pytest.fixture(autouse=True)
def _fresh_prefixes() -> Iterator[None]:
    forget_probed_prefixes()
    yield
    forget_probed_prefixes()


def _client_factory(
    box: RunningSandbox, *, password: str | None = None, **options: object
) -> Callable[[], V8Client]:
    info = box.info

    def make() -> V8Client:
        return V8Client(
            box.base_url,
            client_id=info.password_client_id,
            client_secret=info.password_client_secret,
            username=info.admin_user_name,
            password=password or info.admin_password,
            max_retries=0,
            **options,  # type: ignore[arg-type]
        )

    return make


def _by_key(report: CheckReport) -> dict[str, tuple[Status, str]]:
    return {r.key: (r.status, r.message) for r in report.results}


@pytest.mark.mysql
def test_check_passes_against_the_sandbox_on_mariadb(mysql_database: str) -> None:
    with running_sandbox(mysql_database) as box:
        report = run_checks(
            _client_factory(box), database_url=mysql_database, scanned_tables=SCANNED
        )

    found = _by_key(report)
    assert [r.key for r in report.results] == [
        "api",
        "token",
        "identity",
        "version",
        "database",
        "privileges",
        "tables",
        "charset",
        "indexes",
    ]
    assert found["api"][0] is Status.OK and "/Api" in found["api"][1]
    assert found["token"][0] is Status.OK and "password" in found["token"][1]
    assert found["identity"] == (
        Status.OK,
        "令牌代表 SuiteCRM 用户 admin（管理员）",
    )
    assert found["version"][0] is Status.INFO and "7.x" in found["version"][1]
    assert found["database"][0] is Status.OK and "MariaDB" in found["database"][1]
    assert found["privileges"][0] is Status.OK  # root: ALL PRIVILEGES ON *.*
    assert found["tables"][0] is Status.OK
    assert found["charset"][0] is Status.OK and "utf8mb4" in found["charset"][1]
    # SuiteCRM's own indexes (tables.py) have none leading with date_modified.
    assert found["indexes"][0] is Status.WARN
    assert "accounts" in found["indexes"][1]
    assert report.ok is True


def _narrow_database(url: str) -> None:
    """Make the test's own database default to utf8mb3, as a stock install does."""
    name = sa.make_url(url).database
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"ALTER DATABASE `{name}` CHARACTER SET utf8mb3 "
                "COLLATE utf8mb3_general_ci"
            )
    finally:
        conn.close()


@pytest.mark.mysql
def test_utf8mb3_database_is_a_warning_about_emoji(mysql_database: str) -> None:
    _narrow_database(mysql_database)

    with running_sandbox(mysql_database) as box:
        report = run_checks(
            _client_factory(box), database_url=mysql_database, scanned_tables=SCANNED
        )

    charset = next(r for r in report.results if r.key == "charset")
    assert charset.status is Status.WARN
    assert "utf8mb3" in charset.message and "表情符号" in charset.message
    assert ".name" in charset.message  # a text column as the example, not an id
    assert charset.details["utf8mb3"] > 0 and "utf8mb4" not in charset.details
    assert report.ok is True  # Chinese still works: a warning, not a failure


@pytest.mark.mysql
def test_missing_tables_fail_the_check(mysql_database: str) -> None:
    engine = sa.create_engine(mysql_database)
    tables.accounts.create(engine)
    tables.users.create(engine)
    engine.dispose()

    report = run_checks(_unreachable, database_url=mysql_database)

    status, message = _by_key(report)["tables"]
    assert status is Status.FAIL
    assert "sugarfeed" in message and "accounts," not in message
    assert report.ok is False


def _unreachable() -> V8Client:
    # A port nothing listens on: 127.0.0.1:9 (discard) is closed here.
    return V8Client(
        "http://127.0.0.1:9",
        client_id="x",
        client_secret="y",
        username="u",
        password="p",
        max_retries=0,
    )


def test_unreachable_api_fails_and_skips_what_needs_it(tmp_path: Path) -> None:
    report = run_checks(_unreachable, database_url=None)

    found = _by_key(report)
    assert found["api"][0] is Status.FAIL and "127.0.0.1:9" in found["api"][1]
    assert [found[k][0] for k in ("token", "identity", "version")] == [Status.SKIP] * 3
    assert found["database"][0] is Status.FAIL  # no database_url configured
    assert report.ok is False


@pytest.fixture()
def sqlite_sandbox(tmp_path: Path) -> Iterator[tuple[RunningSandbox, str]]:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    with running_sandbox(url, upload_dir=tmp_path / "upload") as box:
        yield box, url


@pytest.fixture()
def configured(
    sqlite_sandbox: tuple[RunningSandbox, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> RunningSandbox:
    """The environment of a configuration pointing at the SQLite sandbox."""
    box, db_url = sqlite_sandbox
    info = box.info
    values = {
        "DSCRM_SUITECRM_URL": box.base_url,
        "DSCRM_SUITECRM_API_PREFIX": "auto",
        "DSCRM_SUITECRM_CLIENT_ID": info.password_client_id,
        "DSCRM_SUITECRM_CLIENT_SECRET": info.password_client_secret,
        "DSCRM_SUITECRM_USERNAME": info.admin_user_name,
        "DSCRM_SUITECRM_PASSWORD": info.admin_password,
        "DSCRM_SUITECRM_DATABASE_URL": db_url,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return box


def test_cli_check_prints_one_chinese_line_per_check_and_exits_0(
    configured: RunningSandbox,
) -> None:
    result = CliRunner().invoke(cli.root, ["check"])

    lines = result.output.strip().splitlines()
    assert result.exit_code == 0, result.output
    assert len(lines) == 10  # nine checks and the verdict
    assert lines[0].startswith("[通过] SuiteCRM V8 API 可以访问")
    assert lines[-1] == "桥接所需的一切均已就绪。"
    assert configured.info.admin_password not in result.output
    assert configured.info.password_client_secret not in result.output


def test_cli_check_json_reports_a_rejected_password_and_exits_1(
    configured: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSCRM_SUITECRM_PASSWORD", "Wrong=Pass&'😀")

    result = CliRunner().invoke(cli.root, ["--lang", "en", "check", "--json"])

    assert result.exit_code == 1
    report = json.loads(result.output)
    checks = {c["check"]: c for c in report["checks"]}
    assert report["ok"] is False
    assert checks["api"]["status"] == "ok"
    assert checks["api"]["details"]["prefix"] == "/Api"
    assert checks["token"]["status"] == "fail"
    assert "password" in checks["token"]["message"]
    assert checks["identity"]["status"] == "skip"
    assert checks["tables"]["status"] == "ok"
    assert "Wrong=Pass" not in result.output
