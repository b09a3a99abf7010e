"""The service layer: jobs from config, --once under leases, status, the scheduler."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from dscrm_bridge.config import Config, load_config
from dscrm_bridge.errors import ConfigError, SyncError
from dscrm_bridge.feed import FeedStore
from dscrm_bridge.suitecrm import tables
from dscrm_bridge.sync.lease import Lease
from dscrm_bridge.sync.runner import (
    JobKind,
    JobOutcome,
    job_specs,
    run_forever,
    run_once,
    status_report,
)
from tests.unit.sync.conftest import SuiteCRMRows

T0 = datetime(2026, 12, 4, 15, 26, 30)
BRIDGE_ID = "b0000000-0000-0000-0000-00000000b1d9"


def _config(tmp_path: Path, suitecrm: SuiteCRMRows, **sync: Any) -> Config:
    data = {
        "suitecrm": {"database_url": str(suitecrm.engine.url), "username": "bridge"},
        "bridge": {"database_url": f"sqlite:///{tmp_path / 'bridge.db'}"},
        "sync": {"lease_s": 3, "interval_s": 1, **sync},
    }
    path = tmp_path / "dscrm.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path, env={})


def _store(config: Config) -> FeedStore:
    return FeedStore(config.bridge.sql_url())


def test_jobs_follow_the_configured_groups(
    tmp_path: Path, suitecrm: SuiteCRMRows
) -> None:
    config = _config(
        tmp_path,
        suitecrm,
        writeback=True,
        jobs=[
            {"name": "sales", "modules": ["Accounts", "Contacts"], "interval_s": 30},
            {"name": "service", "modules": ["Cases"], "cron": "*/5 * * * *"},
        ],
    )

    specs = job_specs(config)

    assert [(s.name, s.kind, s.modules) for s in specs] == [
        ("sales", JobKind.SYNC, ("Accounts", "Contacts")),
        ("service", JobKind.SYNC, ("Cases",)),
        ("writeback", JobKind.WRITEBACK, ()),
    ]
    assert specs[0].interval_s == 30
    assert specs[1].cron == "*/5 * * * *"
    assert "*/5" in str(specs[1].trigger())


def test_a_bad_cron_expression_is_a_config_error(
    tmp_path: Path, suitecrm: SuiteCRMRows
) -> None:
    config = _config(
        tmp_path,
        suitecrm,
        jobs=[{"name": "x", "modules": ["Cases"], "cron": "61 * * * *"}],
    )

    with pytest.raises(ConfigError):
        job_specs(config)[0].trigger()


def test_once_ignores_the_bridge_api_user_and_reports_status(
    tmp_path: Path, suitecrm: SuiteCRMRows
) -> None:
    suitecrm.insert(tables.users, id=BRIDGE_ID, user_name="bridge", deleted=0)
    config = _config(tmp_path, suitecrm, ignore_api_user=True)
    run_once(config)
    suitecrm.record(tables.accounts, "a1", T0, name="甲", by=BRIDGE_ID)
    suitecrm.record(tables.accounts, "a2", T0, name="乙")

    (outcome,) = run_once(config)
    report = {row["source"]: row for row in status_report(config)}

    assert outcome.sync is not None
    assert (outcome.sync.total, outcome.sync.ignored) == (1, 1)
    assert [e["record_name"] for e in _store(config).list_entries()] == ["乙"]
    accounts = report["accounts"]
    assert accounts["cursor"].endswith(" a2")
    assert accounts["lag_s"] == 0
    assert accounts["last_rows"] == 2
    assert accounts["last_error"] is None
    assert report["securitygroups_records"]["module"] is None


def test_once_refuses_a_job_another_runner_holds(
    tmp_path: Path, suitecrm: SuiteCRMRows
) -> None:
    config = _config(tmp_path, suitecrm)
    run_once(config)
    Lease(_store(config).engine, "job:all", holder="other", ttl_s=60).acquire()

    with pytest.raises(SyncError):
        run_once(config)


def test_backfill_reports_progress_through_status(
    tmp_path: Path, suitecrm: SuiteCRMRows
) -> None:
    for number in range(5):
        suitecrm.record(
            tables.accounts,
            f"a{number}",
            T0 + timedelta(seconds=number),
            name=str(number),
        )
    config = _config(tmp_path, suitecrm, batch_size=2, modules=["Accounts"])
    calls: list[Any] = []

    run_once(
        config,
        since=datetime(2026, 12, 1),
        progress=calls.append,
        should_stop=lambda: bool(calls),
    )
    (accounts,) = [r for r in status_report(config) if r["source"] == "accounts"]

    assert accounts["backfill"]["done"] == 2
    assert accounts["backfill"]["total"] == 5


def test_run_forever_syncs_on_schedule_and_stops_on_request(
    tmp_path: Path, suitecrm: SuiteCRMRows
) -> None:
    config = _config(tmp_path, suitecrm, modules=["Accounts"])
    run_once(config)
    stop = threading.Event()
    done: list[JobOutcome] = []
    seen = threading.Event()

    def report(outcome: JobOutcome) -> None:
        done.append(outcome)
        if outcome.sync is not None and outcome.sync.total:
            seen.set()

    runner = threading.Thread(
        target=run_forever,
        args=(config,),
        kwargs={"stop": stop, "report": report, "holder": "t1"},
    )
    runner.start()
    try:
        suitecrm.record(tables.accounts, "a1", T0, name="甲")
        assert seen.wait(30)
    finally:
        stop.set()
        runner.join(30)

    assert not runner.is_alive()
    assert [e["record_name"] for e in _store(config).list_entries()] == ["甲"]
    # The stopped runner gave its lease up: another takes the job at once.
    assert Lease(_store(config).engine, "job:all", holder="t2").acquire() is True
