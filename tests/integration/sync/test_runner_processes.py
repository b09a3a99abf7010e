"""Runners as processes on MariaDB: kill -9 mid-batch, two runners, takeover."""

from __future__ import annotations

import collections
import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dscrm_bridge.feed import FeedStore
from dscrm_bridge.suitecrm import tables
from dscrm_bridge.sync import sync_once
from dscrm_bridge.sync.lease import lease_holders
from dscrm_bridge.sync.runner import run_once
from tests.integration.sync.conftest import keys, output_of, wait_until
from tests.unit.sync.conftest import SuiteCRMRows

pytestmark = pytest.mark.mysql

SINCE = "2026-12-01T00:00:00"
ROWS = 60

# A backfill whose every batch is slow to read: the kill lands inside a batch
# (between reading its rows and writing their entries) almost every time.
SLOW_BACKFILL = """
import sys, time
from datetime import datetime
from dscrm_bridge.suitecrm.gateway import SuiteCRMGateway
from dscrm_bridge.sync import sync_once

class Slow(SuiteCRMGateway):
    def changed_rows(self, table, **options):
        rows = super().changed_rows(table, **options)
        time.sleep(0.3)
        return rows

sync_once(Slow(sys.argv[1]), sys.argv[2], modules=["Accounts"],
          since=datetime.fromisoformat(sys.argv[3]), batch_size=5)
print("finished", flush=True)
"""


def _accounts(crm: SuiteCRMRows, count: int, *, prefix: str = "acc") -> list[str]:
    start = datetime(2026, 12, 4, 8, 0, 0)
    ids = [f"{prefix}-{n:03}" for n in range(count)]
    for n, record_id in enumerate(ids):
        # Three rows per second: batches split rows that share a stamp.
        crm.record(
            tables.accounts,
            record_id,
            start + timedelta(seconds=n // 3),
            name=f"客户{n}",
        )
    return ids


def test_a_backfill_killed_mid_batch_resumes_without_loss_or_duplicates(
    crm: SuiteCRMRows, bridge_url: str, spawn: Callable[..., Any]
) -> None:
    ids = _accounts(crm, ROWS)
    store = FeedStore(bridge_url)
    crm_url = crm.engine.url.render_as_string(hide_password=False)
    process = spawn(crm_url, bridge_url, SINCE, script=SLOW_BACKFILL)
    assert wait_until(lambda: store.count() >= 15)

    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    held = store.backfill("accounts")
    told_before = store.count()
    resumed = sync_once(
        crm.engine,
        store,
        modules=["Accounts"],
        since=datetime.fromisoformat(SINCE),
        batch_size=5,
    )

    assert process.returncode == -signal.SIGKILL
    assert held is not None and 15 <= held.done < ROWS
    assert told_before < ROWS
    # Resumed after the last batch written, not from the start.
    assert resumed.rows_read == ROWS - held.done
    entries = keys(store)
    assert collections.Counter(entries) == collections.Counter(
        ("create", "Accounts", record_id, "") for record_id in ids
    )
    assert store.backfill("accounts") is None


def test_two_runners_share_the_work_once_and_a_killed_leader_hands_over(
    crm: SuiteCRMRows,
    bridge_url: str,
    make_config: Callable[..., Any],
    spawn: Callable[..., Any],
    tmp_path: Path,
) -> None:
    path, config = make_config(
        modules=["Accounts"], interval_s=1, lease_s=3, batch_size=10, overlap_s=5
    )
    run_once(config)
    store = FeedStore(bridge_url)
    first = spawn(str(path), "runner-a")
    assert wait_until(lambda: "job:all" in lease_holders(store.engine))
    second = spawn(str(path), "runner-b")
    leader_name = lease_holders(store.engine)["job:all"][0]
    leader, standby = (first, second) if leader_name == "runner-a" else (second, first)
    leader_out, standby_out = (0, 1) if leader is first else (1, 0)

    before = _now_accounts(crm, "pre", 20)
    assert wait_until(lambda: store.count() == 20)
    assert wait_until(lambda: "rows=20" in output_of(tmp_path, leader_out))
    # While the leader lives the standby never runs the job.
    assert "ran all" not in output_of(tmp_path, standby_out)

    os.kill(leader.pid, signal.SIGKILL)
    leader.wait(10)
    after = _now_accounts(crm, "post", 20)
    # lease_s=3: the standby takes over well within 30 s.
    assert wait_until(lambda: store.count() == 40, timeout_s=30)
    assert lease_holders(store.engine)["job:all"][0] != leader_name
    assert wait_until(lambda: "ran all" in output_of(tmp_path, standby_out))

    standby.send_signal(signal.SIGTERM)
    assert standby.wait(30) == 0
    assert "stopped" in output_of(tmp_path, standby_out)
    assert "job:all" not in lease_holders(store.engine)
    assert collections.Counter(keys(store)) == collections.Counter(
        ("create", "Accounts", record_id, "") for record_id in before + after
    )


def _now_accounts(crm: SuiteCRMRows, prefix: str, count: int) -> list[str]:
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    ids = [f"{prefix}-{n:03}" for n in range(count)]
    for record_id in ids:
        crm.record(tables.accounts, record_id, now, name=record_id)
    return ids
