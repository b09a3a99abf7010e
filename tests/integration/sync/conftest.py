"""MariaDB fixtures for the running engine: a SuiteCRM-shaped database, a bridge
store, a configuration file naming both, and runner subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from dscrm_bridge.config import Config, load_config
from dscrm_bridge.feed import FeedStore, upgrade
from dscrm_bridge.suitecrm import tables
from tests.conftest import REPO_ROOT
from tests.unit.feed.conftest import feed_store  # noqa: F401 - shared fixture
from tests.unit.sync.conftest import SuiteCRMRows, with_story_users

WAIT_S = 60
STORY_SYNC_TABLES = [
    tables.users,
    tables.accounts,
    tables.contacts,
    tables.accounts_contacts,
    tables.securitygroups,
    tables.securitygroups_records,
    tables.securitygroups_users,
]


@pytest.fixture()
def crm(mysql_database_factory: Callable[[], str]) -> Iterator[SuiteCRMRows]:
    engine = sa.create_engine(mysql_database_factory())
    # Only what the engine reads here: MariaDB's DDL is the slow part of setup.
    tables.metadata.create_all(engine, tables=STORY_SYNC_TABLES)
    yield with_story_users(SuiteCRMRows(engine))
    engine.dispose()


@pytest.fixture()
def bridge_url(mysql_database_factory: Callable[[], str]) -> str:
    url = mysql_database_factory()
    upgrade(url)
    return url


@pytest.fixture()
def make_config(
    tmp_path: Path, crm: SuiteCRMRows, bridge_url: str
) -> Callable[..., tuple[Path, Config]]:
    def make(**sync: Any) -> tuple[Path, Config]:
        data = {
            "suitecrm": {
                "database_url": crm.engine.url.render_as_string(hide_password=False),
                "username": "admin",
            },
            "bridge": {"database_url": bridge_url},
            "sync": {"ignore_api_user": False, **sync},
        }
        path = tmp_path / "dscrm.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path, load_config(path, env={})

    return make


# A runner in a process of its own, as `dscrm sync run` would be; it prints one
# line per job run so the test can tell who did the work.
RUNNER_SCRIPT = """
import logging, sys
from dscrm_bridge.config import load_config
from dscrm_bridge.sync.runner import run_forever

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

def report(outcome):
    rows = outcome.sync.rows_read if outcome.sync else 0
    print(f"ran {outcome.job} rows={rows}", flush=True)

run_forever(load_config(sys.argv[1], env={}), holder=sys.argv[2], report=report)
print("stopped", flush=True)
"""


@pytest.fixture()
def spawn(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, script: str = RUNNER_SCRIPT) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        env = {k: v for k, v in env.items() if not k.startswith("DSCRM_SYNC")}
        process = subprocess.Popen(
            [sys.executable, "-c", script, *args],
            stdout=open(tmp_path / f"out-{len(started)}.txt", "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def output_of(tmp_path: Path, number: int) -> str:
    return (tmp_path / f"out-{number}.txt").read_text(encoding="utf-8")


def wait_until(check: Callable[[], bool], *, timeout_s: float = WAIT_S) -> bool:
    """Poll ``check`` until it holds; False once ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def keys(store: FeedStore) -> list[tuple[str, ...]]:
    """(action, module, record, related) of every entry, oldest first."""
    return [
        (e["action"], e["module"], e["record_id"], e["related_id"] or "")
        for e in reversed(store.list_entries())
    ]
