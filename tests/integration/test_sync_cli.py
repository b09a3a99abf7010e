"""`dscrm sync --once --since` and `dscrm feed` over a real SuiteCRM's database."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import cli
from tests.conftest import load_sql_dump

pytestmark = pytest.mark.mysql

USER1 = "1c41e1c9-e7f2-746b-4a45-6b12dbb0dd69"  # 张三 in the recorded run


@pytest.fixture()
def configured(
    reference_dir: Path,
    mysql_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    dump = gzip.decompress((reference_dir / "story-db.sql.gz").read_bytes())
    load_sql_dump(mysql_database, dump.decode("utf-8"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DSCRM_SUITECRM_DATABASE_URL", mysql_database)
    monkeypatch.setenv("DSCRM_BRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'f.db'}")
    return mysql_database


def _feed() -> list[dict]:  # type: ignore[type-arg]
    result = CliRunner().invoke(cli.root, ["feed", "--json", "--limit", "1000"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_sync_once_since_backfills_the_story_and_feed_prints_it(
    configured: str,
) -> None:
    runner = CliRunner()
    first = runner.invoke(cli.root, ["sync", "--once", "--since", "2026-12-01"])
    assert first.exit_code == 0, first.output
    entries = _feed()

    engine = sa.create_engine(configured)
    with engine.connect() as conn:
        user1_accounts = set(
            conn.execute(
                sa.text("SELECT name FROM accounts WHERE created_by = :u"), {"u": USER1}
            ).scalars()
        )
        # Q19: 'client id account' was saved with a client-supplied
        # date_modified of 2020-01-01, before --since, so no sync sees it.
        admin_accounts = set(
            conn.execute(
                sa.text(
                    "SELECT name FROM accounts WHERE created_by = '1' "
                    "AND date_modified >= '2026-12-01'"
                )
            ).scalars()
        )
    engine.dispose()

    created = {
        (e["actor"], e["record_name"])
        for e in entries
        if e["module"] == "Accounts" and e["action"] == "create"
    }
    assert {("张三", name) for name in user1_accounts} <= created
    admin_names = {name for actor, name in created if actor != "张三"}
    assert admin_names == admin_accounts  # stored names, 4-byte emoji included
    assert any("😀" in name for name in admin_names)
    assert "client id account" not in admin_names
    assert "张三 新建了联系人「王五」" in {e["text_zh"] for e in entries}

    second = runner.invoke(cli.root, ["sync", "--once"])
    assert second.exit_code == 0, second.output
    assert len(_feed()) == len(entries)


def test_sync_once_without_since_starts_from_now(configured: str) -> None:
    result = CliRunner().invoke(cli.root, ["sync", "--once"])
    assert result.exit_code == 0, result.output
    assert _feed() == []


def test_sync_without_database_or_credentials_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DSCRM_SUITECRM_DATABASE_URL", raising=False)
    # Without SQL access the sync reads through the API, which needs credentials.
    result = CliRunner().invoke(cli.root, ["--lang", "en", "sync", "--once"])
    assert result.exit_code == 2
    assert "client_secret is empty" in result.output


def test_sync_status_reports_each_source_after_a_run(configured: str) -> None:
    runner = CliRunner()
    assert (
        runner.invoke(cli.root, ["sync", "--once", "--since", "2026-12-01"]).exit_code
        == 0
    )
    result = runner.invoke(cli.root, ["sync", "status", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["source"]: row for row in json.loads(result.output)}
    accounts = rows["accounts"]
    assert accounts["total_rows"] > 0
    assert accounts["last_error"] is None
    assert accounts["cursor"]
    text = runner.invoke(cli.root, ["sync", "status"])
    assert "accounts" in text.output
