"""End to end: a write in the sandbox -> signed event -> receiver -> sync -> feed.

The sandbox acts as a SuiteCRM with the plugin installed; no poller runs, so an
entry can only reach the feed through the webhook.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi import FastAPI

from dscrm_bridge.config import Config
from dscrm_bridge.feed import FeedStore, upgrade
from dscrm_bridge.sandbox import (
    RunningSandbox,
    WebhookTarget,
    running_app,
    running_sandbox,
    seed,
)
from dscrm_bridge.sandbox.app import make_engine
from dscrm_bridge.sync import sync_once
from dscrm_bridge.web.webhook import WebhookReceiver
from tests.integration.plugin.conftest import SECRET, config_for

ADMIN_PASSWORD = "admin-pw-for-plugin-tests"
WAIT_S = 30


@dataclass
class Loop:
    sandbox: RunningSandbox
    receiver: WebhookReceiver
    feed: FeedStore
    token: str

    def create(self, module: str, **attributes: Any) -> str:
        answer = requests.post(
            f"{self.sandbox.base_url}/Api/V8/module",
            json={"data": {"type": module, "attributes": attributes}},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["data"]["id"])

    def wait_for_entry(self, record_id: str) -> dict[str, Any] | None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            for entry in self.feed.list_entries(limit=50):
                if entry["record_id"] == record_id:
                    return entry
            time.sleep(0.05)
        return None


@contextmanager
def _loop(crm_url: str, tmp_path: Path, *, sandbox_secret: str) -> Iterator[Loop]:
    # The admin saves here; by default the sync ignores the API user's changes.
    config: Config = config_for(
        tmp_path,
        DSCRM_SUITECRM_DATABASE_URL=crm_url,
        DSCRM_SYNC_IGNORE_API_USER="false",
    )
    feed_url = config.bridge.sql_url()
    upgrade(feed_url)
    engine = make_engine(crm_url)
    seed(engine, admin_password=ADMIN_PASSWORD)
    sync_once(engine, feed_url)  # the bridge already ran: cursors start here
    engine.dispose()

    receiver = WebhookReceiver(config)
    app = FastAPI()
    app.include_router(receiver.router)
    with running_app(app) as bridge_url:
        target = WebhookTarget(
            f"{bridge_url}/webhook", sandbox_secret, frozenset(config.sync.modules)
        )
        with running_sandbox(
            crm_url,
            upload_dir=tmp_path / "upload",
            admin_password=ADMIN_PASSWORD,
            webhook=target,
        ) as sandbox:
            yield Loop(
                sandbox,
                receiver,
                FeedStore(feed_url),
                sandbox.access_token("admin", ADMIN_PASSWORD),
            )
    receiver.close()


def _valid_event_reaches_the_feed(crm_url: str, tmp_path: Path) -> None:
    with _loop(crm_url, tmp_path, sandbox_secret=SECRET) as loop:
        account_id = loop.create("Accounts", name="北京大盛科技 🚀")
        entry = loop.wait_for_entry(account_id)
    assert entry is not None
    assert (entry["module"], entry["action"], entry["record_name"]) == (
        "Accounts",
        "create",
        "北京大盛科技 🚀",
    )


def test_valid_event_makes_the_change_appear_in_the_feed(tmp_path: Path) -> None:
    _valid_event_reaches_the_feed(f"sqlite:///{tmp_path / 'crm.db'}", tmp_path)


@pytest.mark.mysql
def test_valid_event_reaches_the_feed_on_mariadb(
    mysql_database: str, tmp_path: Path
) -> None:
    _valid_event_reaches_the_feed(mysql_database, tmp_path)


def test_events_signed_with_another_secret_change_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    crm_url = f"sqlite:///{tmp_path / 'crm.db'}"
    with _loop(crm_url, tmp_path, sandbox_secret="an-old-secret") as loop:
        loop.create("Accounts", name="云启科技")
        feed = loop.feed
    # Leaving the loop flushed the sandbox's events and stopped the receiver.
    assert loop.receiver.nudger.wait_idle(WAIT_S)
    assert feed.list_entries(limit=10) == []
    assert "signature does not match" in caplog.text
    assert "an-old-secret" not in caplog.text and SECRET not in caplog.text
