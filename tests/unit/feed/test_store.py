"""The feed store: migrations, exactly-once append, cursors, listing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from dscrm_bridge.errors import DatabaseError
from dscrm_bridge.feed import (
    FeedAction,
    FeedChange,
    FeedStore,
    current_revision,
    head_revision,
    pending,
    upgrade,
)
from dscrm_bridge.suitecrm.gateway import Keyset

T0 = datetime(2026, 12, 4, 15, 26, 30)


def _change(key: str, *, minutes: int = 0, **extra: object) -> FeedChange:
    values: dict[str, object] = {
        "change_key": key,
        "module": "Accounts",
        "record_id": "acc-" + key,
        "record_name": "客户 " + key,
        "action": FeedAction.CREATE,
        "actor_id": "u1",
        "actor_name": "张三",
        "occurred_at": T0 + timedelta(minutes=minutes),
    }
    values.update(extra)
    return FeedChange(**values)  # type: ignore[arg-type]


def test_upgrade_creates_the_tables_and_reaches_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'feed.db'}"
    assert pending(url) is True
    assert current_revision(url) is None

    reached = upgrade(url)

    tables = set(sa.inspect(sa.create_engine(url)).get_table_names())
    assert {"feed_entries", "sync_cursors"} <= tables
    assert reached == head_revision() == current_revision(url)
    assert pending(url) is False


def test_upgrade_twice_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'feed.db'}"
    upgrade(url)
    FeedStore(url).append([_change("a")])

    upgrade(url)

    assert FeedStore(url).count() == 1


def test_store_on_a_database_never_upgraded_asks_for_upgrade(tmp_path: Path) -> None:
    store = FeedStore(f"sqlite:///{tmp_path / 'empty.db'}")

    with pytest.raises(DatabaseError) as caught:
        store.list_entries()

    assert "dscrm db upgrade" in str(caught.value)


def test_append_holds_each_change_key_once(feed_store: FeedStore) -> None:
    first = feed_store.append([_change("a"), _change("b"), _change("a")])
    second = feed_store.append([_change("b"), _change("c")])

    assert [c.change_key for c in first] == ["a", "b"]
    assert [c.change_key for c in second] == ["c"]
    assert feed_store.count() == 3


def test_list_entries_is_newest_first_and_limited(feed_store: FeedStore) -> None:
    feed_store.append([_change("old", minutes=0), _change("new", minutes=5)])
    feed_store.append([_change("middle", minutes=2)])

    names = [e["record_name"] for e in feed_store.list_entries()]
    limited = [e["record_name"] for e in feed_store.list_entries(limit=1)]

    assert names == ["客户 new", "客户 middle", "客户 old"]
    assert limited == ["客户 new"]


def test_entries_are_json_friendly_with_utc_times(feed_store: FeedStore) -> None:
    feed_store.append(
        [
            _change(
                "r",
                module="Contacts",
                record_name="王五",
                action=FeedAction.RELATE,
                related_module="Accounts",
                related_id="acc-1",
                related_name="北京大盛科技有限公司",
            )
        ]
    )

    (entry,) = json.loads(json.dumps(feed_store.list_entries(), ensure_ascii=False))

    assert entry["occurred_at"] == "2026-12-04T15:26:30+00:00"
    assert entry["action"] == "relate"
    assert entry["actor"] == "张三"
    assert entry["actor_id"] == "u1"
    assert (entry["module"], entry["record_id"], entry["record_name"]) == (
        "Contacts",
        "acc-r",
        "王五",
    )
    assert (entry["related_module"], entry["related_name"]) == (
        "Accounts",
        "北京大盛科技有限公司",
    )
    assert entry["text_zh"] == "张三 将联系人「王五」关联到客户「北京大盛科技有限公司」"
    assert (
        entry["text_en"]
        == '张三 linked contact "王五" to account "北京大盛科技有限公司"'
    )


def test_list_entries_filters_by_module(feed_store: FeedStore) -> None:
    feed_store.append([_change("a"), _change("n", module="Notes")])

    assert [e["module"] for e in feed_store.list_entries(module="Notes")] == ["Notes"]


def test_cursor_moves_with_the_entries(feed_store: FeedStore) -> None:
    feed_store.append([_change("a")], cursors={"accounts": Keyset(T0, "acc-a")})
    feed_store.append([], cursors={"accounts": Keyset(T0, "acc-b"), "notes": None})

    assert feed_store.cursors() == {"accounts": Keyset(T0, "acc-b"), "notes": None}


def test_cursor_stays_when_the_entries_cannot_be_written(
    feed_store: FeedStore,
) -> None:
    feed_store.append([], cursors={"accounts": Keyset(T0, "acc-a")})
    broken = _change("x", record_id=None)  # NOT NULL column: the insert fails

    with pytest.raises(DatabaseError):
        feed_store.append([broken], cursors={"accounts": Keyset(T0, "acc-z")})

    assert feed_store.cursors() == {"accounts": Keyset(T0, "acc-a")}
    assert feed_store.count() == 0
