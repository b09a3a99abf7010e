"""sync_once over SQLite: cursors, exactly-once, the kinds of entries."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dscrm_bridge.errors import InputError
from dscrm_bridge.feed import FeedStore
from dscrm_bridge.suitecrm import tables
from dscrm_bridge.suitecrm.gateway import Keyset
from dscrm_bridge.sync import Progress, sync_once
from tests.unit.sync.conftest import ADMIN_ID, USER1_ID, SuiteCRMRows

T0 = datetime(2026, 12, 4, 15, 26, 30)
SINCE = datetime(2026, 12, 1)


def _sync(  # type: ignore[no-untyped-def]
    suitecrm: SuiteCRMRows, store: FeedStore, **options: object
):
    return sync_once(suitecrm.engine, store, **options)  # type: ignore[arg-type]


def _summary(store: FeedStore) -> list[tuple[str, str, str, str]]:
    """(action, module, record_name, actor) oldest first."""
    return [
        (e["action"], e["module"], e["record_name"], e["actor"])
        for e in reversed(store.list_entries())
    ]


def test_first_run_without_since_records_nothing_old(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.accounts, "old", T0, name="老客户")

    first = _sync(suitecrm, feed_store)
    suitecrm.record(tables.accounts, "new", T0 + timedelta(minutes=1), name="新客户")
    second = _sync(suitecrm, feed_store)

    assert first.total == 0
    assert "accounts" in first.started
    assert second.total == 1
    assert _summary(feed_store) == [("create", "Accounts", "新客户", "张三")]


def test_since_backfills_and_a_second_run_appends_nothing(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.accounts, "before", SINCE - timedelta(days=1), name="旧")
    suitecrm.record(tables.accounts, "a1", T0, name="北京大盛科技有限公司")

    first = _sync(suitecrm, feed_store, since=SINCE)
    second = _sync(suitecrm, feed_store)

    assert first.appended["Accounts"] == 1
    assert second.total == 0
    assert feed_store.count() == 1
    (entry,) = feed_store.list_entries()
    assert entry["text_zh"] == "张三 新建了客户「北京大盛科技有限公司」"
    assert entry["text_en"] == '张三 created account "北京大盛科技有限公司"'


def test_keyset_cursor_takes_a_row_sharing_the_cursor_timestamp(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.accounts, "aaa", T0, name="甲")
    _sync(suitecrm, feed_store, since=SINCE)
    # Written later, but stamped with the same second and a larger id.
    suitecrm.record(tables.accounts, "bbb", T0, name="乙")

    result = _sync(suitecrm, feed_store, overlap_s=0)

    assert result.rows_read == 1
    assert [name for _, _, name, _ in _summary(feed_store)] == ["甲", "乙"]
    assert feed_store.cursors()["accounts"] == Keyset(T0, "bbb")


def test_batches_split_rows_sharing_a_timestamp(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    for record_id in ("r1", "r2", "r3"):
        suitecrm.record(tables.accounts, record_id, T0, name=record_id)
    done: list[Progress] = []

    result = _sync(
        suitecrm, feed_store, since=SINCE, batch_size=2, progress=done.append
    )

    assert result.appended["Accounts"] == 3
    assert sorted(e["record_id"] for e in feed_store.list_entries()) == [
        "r1",
        "r2",
        "r3",
    ]
    assert [(p.done, p.total) for p in done] == [(2, 3), (3, 3)]


def test_update_of_a_record_created_before_the_window(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.accounts, "a1", T0, by=ADMIN_ID, name="客户甲")
    _sync(suitecrm, feed_store)  # starts after a1
    suitecrm.update(
        tables.accounts,
        "a1",
        date_modified=T0 + timedelta(hours=1),
        modified_user_id=USER1_ID,
    )

    _sync(suitecrm, feed_store)

    (entry,) = feed_store.list_entries()
    assert (entry["action"], entry["actor"], entry["actor_id"]) == (
        "update",
        "张三",
        USER1_ID,
    )
    assert entry["occurred_at"] == "2026-12-04T16:26:30+00:00"
    assert entry["text_zh"] == "张三 修改了客户「客户甲」"


def test_delete_entry_names_the_deleting_user(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.opportunities, "o1", T0, name="云启 CRM 项目")
    _sync(suitecrm, feed_store, since=SINCE)
    suitecrm.update(
        tables.opportunities,
        "o1",
        deleted=1,
        date_modified=T0 + timedelta(minutes=3),
        modified_user_id=ADMIN_ID,
    )

    _sync(suitecrm, feed_store)

    assert _summary(feed_store) == [
        ("create", "Opportunities", "云启 CRM 项目", "张三"),
        ("delete", "Opportunities", "云启 CRM 项目", "Administrator"),
    ]
    newest = feed_store.list_entries(limit=1)[0]
    assert newest["text_en"] == 'Administrator deleted opportunity "云启 CRM 项目"'


def test_contact_name_is_family_name_first(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.contacts, "c1", T0, first_name="五", last_name="王")
    suitecrm.record(tables.contacts, "c2", T0, first_name="Jane", last_name="Doe")

    _sync(suitecrm, feed_store, since=SINCE)

    names = sorted(e["record_name"] for e in feed_store.list_entries())
    assert names == ["Jane Doe", "王五"]


def test_link_rows_relate_then_unrelate(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.accounts, "a1", T0, name="上海云启信息技术有限公司")
    suitecrm.record(tables.contacts, "c1", T0, first_name="五", last_name="王")
    suitecrm.insert(
        tables.accounts_contacts,
        id="l1",
        contact_id="c1",
        account_id="a1",
        date_modified=T0,
        deleted=0,
    )
    _sync(suitecrm, feed_store, since=SINCE)
    suitecrm.update(
        tables.accounts_contacts, "l1", deleted=1, date_modified=T0 + timedelta(1)
    )

    _sync(suitecrm, feed_store)

    links = [e for e in feed_store.list_entries() if e["related_module"]]
    assert [e["action"] for e in links] == ["unrelate", "relate"]
    relate = links[1]
    assert (relate["module"], relate["record_id"], relate["related_id"]) == (
        "Contacts",
        "c1",
        "a1",
    )
    assert (
        relate["text_zh"]
        == "张三 将联系人「王五」关联到客户「上海云启信息技术有限公司」"
    )
    assert links[0]["text_zh"] == (
        "张三 取消了联系人「王五」与客户「上海云启信息技术有限公司」的关联"
    )


def test_note_relates_to_its_parent_and_contact(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.accounts, "a1", T0, by=ADMIN_ID, name="客户甲")
    suitecrm.record(
        tables.contacts, "c1", T0, by=ADMIN_ID, first_name="五", last_name="王"
    )
    suitecrm.record(
        tables.notes,
        "n1",
        T0,
        name="首次拜访纪要",
        parent_type="Accounts",
        parent_id="a1",
        contact_id="c1",
    )

    _sync(suitecrm, feed_store, since=SINCE, modules=["Notes"])

    assert [
        (e["action"], e["actor"], e["related_module"], e["related_name"])
        for e in reversed(feed_store.list_entries())
    ] == [
        ("create", "张三", None, None),
        ("relate", "张三", "Accounts", "客户甲"),
        ("relate", "张三", "Contacts", "王五"),
    ]


def test_meeting_invitees_relate_users_and_contacts(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.meetings, "m1", T0, name="方案交流会")
    suitecrm.record(tables.contacts, "c1", T0, first_name="五", last_name="王")
    link = {"date_modified": T0 + timedelta(seconds=1), "deleted": 0}
    suitecrm.insert(
        tables.meetings_users, id="mu", meeting_id="m1", user_id=ADMIN_ID, **link
    )
    suitecrm.insert(
        tables.meetings_contacts, id="mc", meeting_id="m1", contact_id="c1", **link
    )

    _sync(suitecrm, feed_store, since=SINCE)

    texts = {e["text_zh"] for e in feed_store.list_entries()}
    assert "张三 将用户「Administrator」关联到会议「方案交流会」" in texts
    assert "张三 将联系人「王五」关联到会议「方案交流会」" in texts


def test_since_with_a_time_zone_is_taken_as_that_moment(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.accounts, "early", T0, name="早")
    suitecrm.record(tables.accounts, "late", T0 + timedelta(hours=2), name="晚")
    # 00:00 at +08:00 on Dec 5 is 16:00 UTC on Dec 4: only "late" is after it.
    since = datetime(2026, 12, 5, 0, 0, tzinfo=timezone(timedelta(hours=8)))

    _sync(suitecrm, feed_store, since=since)

    assert [e["record_name"] for e in feed_store.list_entries()] == ["晚"]


def test_only_the_chosen_modules_are_read(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.accounts, "a1", T0, name="客户甲")
    suitecrm.record(tables.notes, "n1", T0, name="纪要")

    result = _sync(
        suitecrm, feed_store, since=SINCE, modules=["Notes"], security_groups=False
    )

    assert result.appended == {"Notes": 1}
    assert set(feed_store.cursors()) == {"notes"}


def test_security_groups_are_mirrored_by_default_as_configured(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    _sync(suitecrm, feed_store, modules=["Notes"])

    assert set(feed_store.cursors()) == {
        "notes",
        "securitygroups_records",
        "securitygroups_users",
    }


@pytest.mark.parametrize(
    "options",
    [{"modules": ["Accounts", "Bugs"]}, {"batch_size": 0}, {"overlap_s": -1}],
    ids=["unknown-module", "zero-batch", "negative-overlap"],
)
def test_bad_options_are_refused(
    suitecrm: SuiteCRMRows, feed_store: FeedStore, options: dict[str, object]
) -> None:
    with pytest.raises(InputError):
        _sync(suitecrm, feed_store, **options)

    assert feed_store.cursors() == {}
