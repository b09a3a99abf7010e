"""Every kind of change, exactly once: field differences, deletes, links, groups."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from dscrm_bridge.feed import FeedStore
from dscrm_bridge.suitecrm import tables
from dscrm_bridge.sync import Progress, sync_once
from tests.unit.sync.conftest import ADMIN_ID, USER1_ID, SuiteCRMRows

T0 = datetime(2026, 12, 4, 15, 26, 30)
SINCE = datetime(2026, 12, 1)
MAPPINGS = Path(__file__).resolve().parents[3] / "mappings" / "zh_CN"
BRIDGE_ID = "b0000000-0000-0000-0000-00000000b1d9"


def _sync(suitecrm: SuiteCRMRows, store: FeedStore, **options: Any) -> Any:
    return sync_once(suitecrm.engine, store, **options)


def _entries(store: FeedStore, **filters: Any) -> list[dict[str, Any]]:
    return list(reversed(store.list_entries(**filters)))


def _labels() -> tuple[dict[str, Any], dict[str, Any]]:
    fields = yaml.safe_load((MAPPINGS / "fields.yaml").read_text("utf-8"))
    dropdowns = yaml.safe_load((MAPPINGS / "dropdowns.yaml").read_text("utf-8"))
    return fields, dropdowns


def test_update_lists_changed_fields_with_zh_labels(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(
        tables.opportunities,
        "o1",
        T0,
        name="云启 CRM 项目",
        sales_stage="Prospecting",
        amount=500000,
    )
    _sync(suitecrm, feed_store, since=SINCE)
    suitecrm.update(
        tables.opportunities,
        "o1",
        sales_stage="Proposal/Price Quote",
        amount=600000,
        date_modified=T0 + timedelta(minutes=5),
    )

    result = _sync(suitecrm, feed_store)

    (update,) = _entries(feed_store, action=None, module="Opportunities")[1:]
    fields, dropdowns = _labels()
    stages = dropdowns["lists"]["sales_stage_dom"]
    stage = fields["Opportunities"]["sales_stage"]
    amount = fields["Opportunities"]["amount"]
    assert result.by_action == {"update": 1}
    assert update["text_zh"] == (
        f"张三 修改了商机「云启 CRM 项目」：{stage}：{stages['Prospecting']} -> "
        f"{stages['Proposal/Price Quote']}；{amount}：500000 -> 600000"
    )
    assert update["text_en"].endswith(
        ": sales_stage: Prospecting -> Proposal/Price Quote; amount: 500000 -> 600000"
    )
    assert [c["field"] for c in update["changes"]] == ["sales_stage", "amount"]
    assert update["changes"][0]["old"] == "Prospecting"


def test_update_of_noise_fields_only_gives_no_entry(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.accounts, "a1", T0, name="甲")
    _sync(suitecrm, feed_store, since=SINCE)
    suitecrm.update(
        tables.accounts,
        "a1",
        modified_user_id=ADMIN_ID,
        date_modified=T0 + timedelta(minutes=1),
    )

    result = _sync(suitecrm, feed_store)

    assert result.rows_read >= 1
    assert result.total == 0


def test_two_updates_in_one_second_are_both_told(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.accounts, "a1", T0, name="甲", industry="Banking")
    _sync(suitecrm, feed_store, since=SINCE)
    same_second = T0 + timedelta(minutes=1)
    suitecrm.update(tables.accounts, "a1", industry="Energy", date_modified=same_second)
    _sync(suitecrm, feed_store)
    suitecrm.update(tables.accounts, "a1", industry="Retail", date_modified=same_second)
    _sync(suitecrm, feed_store)
    _sync(suitecrm, feed_store)

    updates = [e for e in _entries(feed_store) if e["action"] == "update"]
    assert [(c["old"], c["new"]) for e in updates for c in e["changes"]] == [
        ("Banking", "Energy"),
        ("Energy", "Retail"),
    ]


def test_row_committed_late_with_an_older_stamp_is_found_once(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.accounts, "a1", T0, name="甲")
    _sync(suitecrm, feed_store, since=SINCE)
    suitecrm.record(tables.accounts, "a2", T0 + timedelta(seconds=20), name="乙")
    _sync(suitecrm, feed_store)
    # A transaction that began earlier commits now, stamped before the cursor.
    suitecrm.record(tables.accounts, "a0", T0 + timedelta(seconds=10), name="迟")

    _sync(suitecrm, feed_store, overlap_s=30)
    _sync(suitecrm, feed_store, overlap_s=30)

    assert [(e["action"], e["record_name"]) for e in _entries(feed_store)] == [
        ("create", "甲"),
        ("create", "迟"),
        ("create", "乙"),
    ]


def test_delete_is_told_once(suitecrm: SuiteCRMRows, feed_store: FeedStore) -> None:
    suitecrm.record(tables.leads, "l1", T0, first_name="六", last_name="赵")
    _sync(suitecrm, feed_store, since=SINCE)
    suitecrm.update(
        tables.leads,
        "l1",
        deleted=1,
        modified_user_id=ADMIN_ID,
        date_modified=T0 + timedelta(minutes=1),
    )

    _sync(suitecrm, feed_store)
    _sync(suitecrm, feed_store)

    assert [
        (e["action"], e["record_name"], e["actor"]) for e in _entries(feed_store)
    ] == [
        ("create", "赵六", "张三"),
        ("delete", "赵六", "Administrator"),
    ]


def test_calls_tasks_cases_relate_to_their_records(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.accounts, "a1", T0, name="甲")
    suitecrm.record(tables.contacts, "c1", T0, first_name="五", last_name="王")
    later = T0 + timedelta(seconds=1)
    suitecrm.record(
        tables.calls,
        "k1",
        later,
        name="电话回访",
        parent_type="Accounts",
        parent_id="a1",
    )
    suitecrm.record(tables.tasks, "t1", later, name="发报价", contact_id="c1")
    suitecrm.record(
        tables.cases, "s1", later, name="登录失败", account_id="a1", case_number=1
    )
    suitecrm.insert(
        tables.calls_contacts,
        id="cc1",
        call_id="k1",
        contact_id="c1",
        date_modified=later,
        deleted=0,
    )

    _sync(suitecrm, feed_store, since=SINCE)

    relates = {
        (e["module"], e["record_name"], e["related_name"])
        for e in _entries(feed_store)
        if e["action"] == "relate"
    }
    assert relates == {
        ("Calls", "电话回访", "甲"),
        ("Tasks", "发报价", "王五"),
        ("Cases", "登录失败", "甲"),
        ("Contacts", "王五", "电话回访"),
    }


def test_security_group_membership_of_records_and_users(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.accounts, "a1", T0, name="甲")
    suitecrm.record(tables.notes, "n1", T0, name="纪要")
    suitecrm.insert(
        tables.securitygroups, id="g1", name="销售", date_modified=T0, deleted=0
    )
    # Q37: SuiteCRM stamps these rows with the date only, and no creator.
    midnight = T0.replace(hour=0, minute=0, second=0)
    for row_id, module, record in (("r1", "Accounts", "a1"), ("r2", "Notes", "n1")):
        suitecrm.insert(
            tables.securitygroups_records,
            id=row_id,
            securitygroup_id="g1",
            record_id=record,
            module=module,
            date_modified=midnight,
            deleted=0,
        )
    suitecrm.insert(
        tables.securitygroups_users,
        id="su1",
        securitygroup_id="g1",
        user_id=USER1_ID,
        date_modified=T0,
        deleted=0,
    )
    _sync(suitecrm, feed_store, modules=["Accounts"], security_groups=True)
    suitecrm.insert(
        tables.securitygroups_records,
        id="r3",
        securitygroup_id="g1",
        record_id="a1",
        module="Accounts",
        date_modified=midnight,
        deleted=0,
    )
    suitecrm.update(
        tables.securitygroups_users, "su1", deleted=1, date_modified=T0 + timedelta(1)
    )

    _sync(suitecrm, feed_store, modules=["Accounts"], security_groups=True)
    _sync(suitecrm, feed_store, modules=["Accounts"], security_groups=True)

    assert sorted(
        (e["action"], e["module"], e["record_name"], e["related_name"])
        for e in _entries(feed_store)
    ) == [
        ("relate", "Accounts", "甲", "销售"),
        ("unrelate", "Users", "张三", "销售"),
    ]


def test_changes_of_the_bridge_user_are_not_echoed(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.insert(tables.users, id=BRIDGE_ID, user_name="dscrm-bridge")
    _sync(suitecrm, feed_store, since=SINCE)
    suitecrm.record(tables.accounts, "a1", T0, name="甲", by=BRIDGE_ID)
    suitecrm.record(tables.accounts, "a2", T0, name="乙")

    result = _sync(suitecrm, feed_store, ignore_user_ids=[BRIDGE_ID])
    suitecrm.update(
        tables.accounts,
        "a1",
        name="甲乙",
        date_modified=T0 + timedelta(minutes=1),
        modified_user_id=USER1_ID,
    )
    _sync(suitecrm, feed_store, ignore_user_ids=[BRIDGE_ID])

    assert result.ignored == 1
    assert [(e["action"], e["record_name"]) for e in _entries(feed_store)] == [
        ("create", "乙"),
        ("update", "甲乙"),
    ]
    assert _entries(feed_store)[1]["changes"][0]["old"] == "甲"


def test_interrupted_backfill_resumes_without_loss_or_duplicates(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    for number in range(7):
        suitecrm.record(
            tables.accounts,
            f"a{number}",
            T0 + timedelta(seconds=number),
            name=str(number),
        )
    seen: list[Progress] = []

    first = _sync(
        suitecrm,
        feed_store,
        modules=["Accounts"],
        since=SINCE,
        batch_size=3,
        progress=seen.append,
        should_stop=lambda: bool(seen),
    )
    held = feed_store.backfill("accounts")
    second = _sync(
        suitecrm, feed_store, modules=["Accounts"], since=SINCE, batch_size=3
    )

    assert first.interrupted is True
    assert (seen[0].done, seen[0].total) == (3, 7)
    assert held is not None and held.done == 3
    assert second.rows_read == 4
    assert sorted(e["record_name"] for e in _entries(feed_store)) == [
        str(n) for n in range(7)
    ]
    assert feed_store.backfill("accounts") is None


@pytest.mark.parametrize("overlap_s", [0, 30], ids=["no-overlap", "overlap"])
def test_records_there_before_the_first_run_are_never_told(
    suitecrm: SuiteCRMRows, feed_store: FeedStore, overlap_s: int
) -> None:
    suitecrm.record(tables.accounts, "old", T0, name="老")
    _sync(suitecrm, feed_store, overlap_s=overlap_s)
    suitecrm.record(tables.accounts, "new", T0 + timedelta(seconds=1), name="新")

    _sync(suitecrm, feed_store, overlap_s=overlap_s)

    assert [e["record_name"] for e in _entries(feed_store)] == ["新"]
