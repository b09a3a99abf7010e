"""Changes made under a running engine on MariaDB, each found exactly once.

The engine runs as `dscrm sync run` does (the scheduler, leases, short
intervals); the test changes SuiteCRM's rows meanwhile the way SuiteCRM would:
second-precision stamps, several rows in one second, soft deletes, link rows,
security-group rows stamped with the date only (Q37), and a row committed late
with a stamp older than rows already read.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dscrm_bridge.feed import FeedStore
from dscrm_bridge.suitecrm import tables
from dscrm_bridge.suitecrm.gateway import SuiteCRMGateway
from dscrm_bridge.sync import sync_once
from dscrm_bridge.sync.runner import run_forever, run_once
from tests.integration.sync.conftest import keys, wait_until
from tests.unit.sync.conftest import ADMIN_ID, USER1_ID, SuiteCRMRows

pytestmark = pytest.mark.mysql


def _now() -> datetime:
    # SuiteCRM stores naive UTC to the second.
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@pytest.fixture()
def engine_running(
    make_config: Callable[..., Any], bridge_url: str
) -> Iterator[FeedStore]:
    _path, config = make_config(
        modules=["Accounts", "Contacts"],
        interval_s=1,
        lease_s=3,
        batch_size=3,
        overlap_s=10,
        security_groups=True,
    )
    run_once(config)
    stop = threading.Event()
    runner = threading.Thread(
        target=run_forever,
        args=(config,),
        kwargs={"stop": stop, "holder": "under-test", "handle_signals": False},
    )
    runner.start()
    yield FeedStore(bridge_url)
    stop.set()
    runner.join(60)
    assert not runner.is_alive()


def test_changes_under_a_running_engine_are_each_told_once(
    crm: SuiteCRMRows, engine_running: FeedStore
) -> None:
    store = engine_running
    told = lambda *key: lambda: key in keys(store)  # noqa: E731

    # Ten accounts saved in one second: more than one batch shares the stamp.
    second = _now()
    for number in range(10):
        crm.record(tables.accounts, f"acc-{number:02}", second, name=f"客户{number}")
    crm.record(tables.contacts, "con-1", second, first_name="五", last_name="王")
    assert wait_until(told("create", "Accounts", "acc-09", ""))

    # Two updates in one second, the engine polling in between.
    again = _now() + timedelta(seconds=1)
    crm.update(tables.accounts, "acc-01", industry="Banking", date_modified=again)
    assert wait_until(lambda: _updates(store, "acc-01") == 1)
    crm.update(tables.accounts, "acc-01", industry="Energy", date_modified=again)

    # A delete, a link made and unmade, a record put into a group.
    deleted_at = _now()
    crm.update(
        tables.accounts,
        "acc-02",
        deleted=1,
        modified_user_id=ADMIN_ID,
        date_modified=deleted_at,
    )
    crm.insert(
        tables.accounts_contacts,
        id="ac-1",
        account_id="acc-03",
        contact_id="con-1",
        date_modified=_now(),
        deleted=0,
    )
    assert wait_until(told("relate", "Contacts", "con-1", "acc-03"))
    crm.update(tables.accounts_contacts, "ac-1", deleted=1, date_modified=_now())
    crm.insert(tables.securitygroups, id="grp-1", name="销售", date_modified=_now())
    crm.insert(
        tables.securitygroups_records,
        id="sr-1",
        securitygroup_id="grp-1",
        record_id="acc-04",
        module="Accounts",
        date_modified=_now().replace(hour=0, minute=0, second=0),
        deleted=0,
    )
    crm.insert(
        tables.securitygroups_users,
        id="su-1",
        securitygroup_id="grp-1",
        user_id=USER1_ID,
        date_modified=_now(),
        deleted=0,
    )
    # Committed late: stamped before the delete the engine has read already.
    assert wait_until(told("delete", "Accounts", "acc-02", ""))
    crm.record(
        tables.accounts, "acc-late", deleted_at - timedelta(seconds=2), name="迟到"
    )

    expected = collections.Counter(
        [("create", "Accounts", f"acc-{n:02}", "") for n in range(10)]
        + [
            ("create", "Contacts", "con-1", ""),
            ("update", "Accounts", "acc-01", ""),
            ("update", "Accounts", "acc-01", ""),
            ("delete", "Accounts", "acc-02", ""),
            ("relate", "Contacts", "con-1", "acc-03"),
            ("unrelate", "Contacts", "con-1", "acc-03"),
            ("relate", "Accounts", "acc-04", "grp-1"),
            ("relate", "Users", USER1_ID, "grp-1"),
            ("create", "Accounts", "acc-late", ""),
        ]
    )
    assert wait_until(lambda: collections.Counter(keys(store)) == expected)
    # Several more polls, with the overlap re-reading: nothing is told twice.
    rows_read = _rows_read(store)
    assert wait_until(lambda: _rows_read(store) >= rows_read + 3)
    assert collections.Counter(keys(store)) == expected
    updates = [e for e in reversed(store.list_entries()) if e["record_id"] == "acc-01"]
    assert [(c["old"], c["new"]) for e in updates for c in e["changes"]] == [
        (None, "Banking"),
        ("Banking", "Energy"),
    ]


def test_rows_changed_while_a_batch_is_read_are_each_told_once(
    crm: SuiteCRMRows, bridge_url: str
) -> None:
    store = FeedStore(bridge_url)
    base = _now() - timedelta(seconds=60)
    for number in range(9):
        crm.record(
            tables.accounts,
            f"acc-{number}",
            base + timedelta(seconds=number),
            name=f"客户{number}",
            industry="Banking",
        )
    changed: list[str] = []

    class Racing(SuiteCRMGateway):
        """Another user saves rows right after each batch is read."""

        def changed_rows(self, table: Any, **options: Any) -> list[Any]:
            rows = super().changed_rows(table, **options)
            if table is tables.accounts and rows and len(changed) < 2:
                # One row already read in this batch, one still ahead of it.
                for record_id in (rows[0]["id"], f"acc-{8 - len(changed)}"):
                    crm.update(
                        tables.accounts,
                        record_id,
                        industry=f"Energy-{record_id}",
                        date_modified=_now(),
                    )
                    changed.append(record_id)
            return rows

    sync_once(
        Racing(crm.engine),
        store,
        modules=["Accounts"],
        since=base - timedelta(seconds=1),
        batch_size=3,
    )
    sync_once(crm.engine, store, modules=["Accounts"], batch_size=3)
    sync_once(crm.engine, store, modules=["Accounts"], batch_size=3)

    entries = keys(store)
    assert collections.Counter(entries) == collections.Counter(
        [("create", "Accounts", f"acc-{n}", "") for n in range(9)]
        + [("update", "Accounts", record_id, "") for record_id in set(changed)]
        # acc-0 changed twice (it heads both batches read first).
        + [("update", "Accounts", "acc-0", "")] * (changed.count("acc-0") - 1)
    )


def _updates(store: FeedStore, record_id: str) -> int:
    return sum(
        1 for e in store.list_entries(record_id=record_id) if e["action"] == "update"
    )


def _rows_read(store: FeedStore) -> int:
    # Every poll re-reads at least the cursor's own row (the overlap window).
    return int(store.status().get("accounts", {}).get("total_rows") or 0)
