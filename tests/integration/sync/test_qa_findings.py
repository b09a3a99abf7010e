"""Findings of QA on real databases: a future-dated row, two `dscrm sync --once`
at once, connection failures that say what to do."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from dscrm_bridge.errors import DatabaseError
from dscrm_bridge.feed import FeedStore, upgrade
from dscrm_bridge.feed.store import utc_now
from dscrm_bridge.suitecrm import tables
from dscrm_bridge.suitecrm.gateway import SuiteCRMGateway
from dscrm_bridge.sync import sync_once
from dscrm_bridge.sync.lease import lease_holders
from tests.integration.sync.conftest import STORY_SYNC_TABLES, output_of, wait_until
from tests.unit.sync.conftest import SuiteCRMRows, with_story_users

FUTURE = datetime(2030, 1, 1)
PAST = datetime(2026, 11, 20, 9, 0, 0)


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def any_crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SuiteCRMRows]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'suitecrm.db'}"
    else:
        url = request.getfixturevalue("mysql_database_factory")()
    engine = sa.create_engine(url)
    tables.metadata.create_all(engine, tables=STORY_SYNC_TABLES)
    yield with_story_users(SuiteCRMRows(engine))
    engine.dispose()


def test_a_future_dated_row_is_told_once_and_hides_no_later_change(
    any_crm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    # Q19: V8 keeps a client-supplied date_modified, even one years ahead.
    any_crm.record(tables.accounts, "a0", PAST, name="旧客户")
    sync_once(any_crm.engine, feed_store, modules=["Accounts"])  # from now
    any_crm.record(tables.accounts, "a-future", FUTURE, name="未来客户")
    sync_once(any_crm.engine, feed_store, modules=["Accounts"])
    any_crm.record(
        tables.accounts, "a2", utc_now() - timedelta(seconds=2), name="之后的客户"
    )

    sync_once(any_crm.engine, feed_store, modules=["Accounts"])
    sync_once(any_crm.engine, feed_store, modules=["Accounts"])

    names = sorted(e["record_name"] for e in feed_store.list_entries())
    assert names == ["之后的客户", "未来客户"]
    cursor = feed_store.cursors()["accounts"]
    assert cursor is not None
    assert cursor.date_modified <= SuiteCRMGateway(any_crm.engine).now()


def _write_config(tmp_path: Path, crm_url: str, bridge_url: str) -> Path:
    data = {
        "suitecrm": {"database_url": crm_url, "username": "admin"},
        "bridge": {"database_url": bridge_url},
        "sync": {"lease_s": 30, "interval_s": 3600},
    }
    path = tmp_path / "dscrm.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.mysql
@pytest.mark.parametrize("bridge", ["sqlite", "mysql"])
def test_a_second_sync_once_is_refused_clearly_while_one_runs(
    tmp_path: Path,
    crm: SuiteCRMRows,
    mysql_database_factory: Callable[[], str],
    spawn: Callable[..., subprocess.Popen[str]],
    bridge: str,
) -> None:
    bridge_url = (
        f"sqlite:///{tmp_path / 'bridge.db'}"
        if bridge == "sqlite"
        else mysql_database_factory()
    )
    upgrade(bridge_url)
    crm_url = crm.engine.url.render_as_string(hide_password=False)
    config = _write_config(tmp_path, crm_url, bridge_url)
    engine = sa.create_engine(bridge_url)
    runner = spawn(str(config), "runner-A")
    try:
        assert wait_until(
            lambda: lease_holders(engine).get("job:all", ("",))[0] == "runner-A"
        ), output_of(tmp_path, 0)

        second = subprocess.run(
            [sys.executable, "-m", "cli", "--config", str(config), "sync", "--once"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(__file__).resolve().parents[3],
        )
    finally:
        runner.terminate()
        runner.wait(30)
        engine.dispose()

    told = second.stdout + second.stderr
    assert second.returncode != 0
    assert "Traceback" not in told
    assert "runner-A" in told
    assert "all" in told


@pytest.mark.mysql
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql+pymysql://root:Wr0ng-Secret@127.0.0.1:3306/x", "拒绝登录"),
        ("mysql+pymysql://root@127.0.0.1:1/x", "无法连接"),
        ("mysql+pymysql://root@127.0.0.1:3306/dscrm_test_no_such_db", "不存在"),
    ],
    ids=["access-denied", "cannot-connect", "unknown-database"],
)
def test_connection_failures_say_which_and_what_to_do(
    mysql_database: str, feed_store: FeedStore, url: str, says: str
) -> None:
    with pytest.raises(DatabaseError) as raised:
        sync_once(url, feed_store, modules=["Accounts"])

    message = str(raised.value)
    assert says in message
    assert "Wr0ng-Secret" not in message
    assert "语句执行失败" not in message
