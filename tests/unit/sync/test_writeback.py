"""Write-back into SuiteCRM's sugarfeed: its format, no native duplicates, no echo."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from dscrm_bridge.feed import FeedStore
from dscrm_bridge.suitecrm import tables
from dscrm_bridge.sync import sync_once
from dscrm_bridge.sync.writeback import sugarfeed_id, write_back
from tests.unit.sync.conftest import USER1_ID, SuiteCRMRows

T0 = datetime(2026, 12, 4, 15, 26, 30)
SINCE = datetime(2026, 12, 1)


def _sugarfeed(suitecrm: SuiteCRMRows) -> list[dict[str, Any]]:
    with suitecrm.engine.connect() as conn:
        query = sa.select(tables.sugarfeed).order_by(tables.sugarfeed.c.date_entered)
        return [dict(row) for row in conn.execute(query).mappings()]


def _feed_config(suitecrm: SuiteCRMRows) -> None:
    # Q38: SuiteCRM's defaults.
    for name in ("enabled", "module_Contacts", "module_Opportunities", "module_Leads"):
        suitecrm.insert(tables.config, category="sugarfeed", name=name, value="1")


def _started(suitecrm: SuiteCRMRows, store: FeedStore) -> None:
    sync_once(suitecrm.engine, store, since=SINCE)
    write_back(suitecrm.engine, store)


def test_account_is_posted_in_suitecrm_format_and_native_contact_is_not(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    _feed_config(suitecrm)
    _started(suitecrm, feed_store)
    suitecrm.record(
        tables.accounts,
        "a1",
        T0,
        name="上海云启信息技术有限公司",
        assigned_user_id=USER1_ID,
    )
    suitecrm.record(tables.contacts, "c1", T0, first_name="五", last_name="王")
    sync_once(suitecrm.engine, feed_store)

    result = write_back(suitecrm.engine, feed_store)

    (row,) = _sugarfeed(suitecrm)
    assert result.written == 1
    assert result.skipped == 1
    assert row["name"] == (
        "<b>{this.CREATED_BY}</b> 新建了客户[Accounts:a1:上海云启信息技术有限公司]"
    )
    assert (row["related_module"], row["related_id"]) == ("Accounts", "a1")
    assert (row["created_by"], row["assigned_user_id"]) == (USER1_ID, USER1_ID)
    assert row["date_entered"] == T0
    assert row["deleted"] == 0


def test_won_opportunity_is_left_to_suitecrm_other_updates_are_posted(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    _feed_config(suitecrm)
    suitecrm.record(
        tables.opportunities, "o1", T0, name="云启", sales_stage="Prospecting"
    )
    _started(suitecrm, feed_store)
    suitecrm.update(
        tables.opportunities,
        "o1",
        sales_stage="Negotiation/Review",
        date_modified=T0 + timedelta(minutes=1),
    )
    sync_once(suitecrm.engine, feed_store)
    suitecrm.update(
        tables.opportunities,
        "o1",
        sales_stage="Closed Won",
        date_modified=T0 + timedelta(minutes=2),
    )
    sync_once(suitecrm.engine, feed_store)

    result = write_back(suitecrm.engine, feed_store)

    (row,) = _sugarfeed(suitecrm)
    assert (result.written, result.skipped) == (1, 1)
    assert "Negotiation/Review" not in row["name"]  # shown by its zh_CN label
    assert row["name"].startswith(
        "<b>{this.CREATED_BY}</b> 修改了商机[Opportunities:o1:云启]"
    )


def test_first_run_skips_history_and_reruns_write_nothing_twice(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.accounts, "old", T0, name="旧")
    sync_once(suitecrm.engine, feed_store, since=SINCE)

    first = write_back(suitecrm.engine, feed_store)
    suitecrm.record(tables.accounts, "new", T0 + timedelta(minutes=1), name="新")
    sync_once(suitecrm.engine, feed_store)
    second = write_back(suitecrm.engine, feed_store)
    third = write_back(suitecrm.engine, feed_store)

    assert (first.written, first.skipped) == (0, 1)
    assert (second.written, third.written) == (1, 0)
    assert [row["related_id"] for row in _sugarfeed(suitecrm)] == ["new"]


def test_rows_already_in_sugarfeed_are_not_written_again(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    _started(suitecrm, feed_store)
    suitecrm.record(tables.accounts, "a1", T0, name="甲")
    sync_once(suitecrm.engine, feed_store)
    (entry,) = feed_store.pending_writeback(limit=10)
    # A run that posted the row but died before marking the entry.
    suitecrm.insert(tables.sugarfeed, id=sugarfeed_id(entry[1]), name="x", deleted=0)

    result = write_back(suitecrm.engine, feed_store)

    assert result.written == 1
    assert len(_sugarfeed(suitecrm)) == 1


def test_posted_rows_do_not_come_back_into_the_feed(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    _started(suitecrm, feed_store)
    suitecrm.record(tables.accounts, "a1", T0, name="甲")
    sync_once(suitecrm.engine, feed_store)
    write_back(suitecrm.engine, feed_store)
    before = feed_store.count()

    again = sync_once(suitecrm.engine, feed_store)

    assert len(_sugarfeed(suitecrm)) == 1
    assert again.total == 0
    assert feed_store.count() == before
