"""The V8 API as the change source, over real HTTP against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dscrm_bridge.config import load_config
from dscrm_bridge.feed import FeedStore, upgrade
from dscrm_bridge.sandbox import RunningSandbox, running_sandbox
from dscrm_bridge.suitecrm.v8client import V8Client
from dscrm_bridge.sync import sync_once
from dscrm_bridge.sync.api_source import ApiReader, reconcile_deletes
from dscrm_bridge.sync.runner import run_once, status_report

MODULES = ["Accounts", "Opportunities"]


@pytest.fixture()
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    with running_sandbox(
        f"sqlite:///{tmp_path / 'suitecrm.db'}", upload_dir=tmp_path / "upload"
    ) as box:
        yield box


def _admin_client(sandbox: RunningSandbox) -> V8Client:
    info = sandbox.info
    return V8Client(
        sandbox.base_url,
        client_id=info.password_client_id,
        client_secret=info.password_client_secret,
        username=info.admin_user_name,
        password=info.admin_password,
    )


@pytest.fixture()
def client(sandbox: RunningSandbox) -> Iterator[V8Client]:
    with _admin_client(sandbox) as api:
        yield api


@pytest.fixture()
def store(tmp_path: Path) -> FeedStore:
    url = f"sqlite:///{tmp_path / 'feed.db'}"
    upgrade(url)
    return FeedStore(url)


def _sync(client: V8Client, store: FeedStore, **options: Any) -> Any:
    return sync_once(ApiReader(client, page_size=2), store, modules=MODULES, **options)


def _summary(store: FeedStore) -> list[tuple[str, str, str]]:
    return [
        (e["action"], e["module"], e["record_name"])
        for e in reversed(store.list_entries())
    ]


def test_creates_updates_and_reconciled_deletes_each_once(
    sandbox: RunningSandbox, client: V8Client, store: FeedStore
) -> None:
    first = _sync(client, store)
    account = client.create("Accounts", {"name": "上海云启信息技术有限公司"})
    deal = client.create(
        "Opportunities",
        {"name": "云启 CRM 项目", "sales_stage": "Prospecting", "amount": "500000"},
    )
    for number in range(3):
        client.create("Accounts", {"name": f"客户 {number}"})
    _sync(client, store)
    client.update("Opportunities", deal.id, {"sales_stage": "Proposal/Price Quote"})
    _sync(client, store)
    _sync(client, store)
    client.delete("Accounts", account.id)
    deleted = reconcile_deletes(client, store, modules=MODULES)
    again = reconcile_deletes(client, store, modules=MODULES)

    assert first.total == 0
    summary = _summary(store)
    assert sorted(summary[:5]) == sorted(
        [
            ("create", "Accounts", "上海云启信息技术有限公司"),
            ("create", "Opportunities", "云启 CRM 项目"),
        ]
        + [("create", "Accounts", f"客户 {n}") for n in range(3)]
    )
    assert summary[5:] == [
        ("update", "Opportunities", "云启 CRM 项目"),
        ("delete", "Accounts", "上海云启信息技术有限公司"),
    ]
    update = store.list_entries(action=None)[1]
    assert [(c["field"], c["old"], c["new"]) for c in update["changes"]] == [
        ("sales_stage", "Prospecting", "Proposal/Price Quote")
    ]
    assert deleted == {"Accounts": 1, "Opportunities": 0}
    assert again == {"Accounts": 0, "Opportunities": 0}


def test_once_through_the_api_source_and_its_status(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    info = sandbox.info
    path = tmp_path / "dscrm.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "suitecrm": {
                    "url": sandbox.base_url,
                    "client_id": info.password_client_id,
                    "username": info.admin_user_name,
                },
                "bridge": {"database_url": f"sqlite:///{tmp_path / 'bridge.db'}"},
                "sync": {"modules": MODULES, "ignore_api_user": False},
            }
        ),
        encoding="utf-8",
    )
    config = load_config(
        path,
        env={
            "DSCRM_SUITECRM_CLIENT_SECRET": info.password_client_secret,
            "DSCRM_SUITECRM_PASSWORD": info.admin_password,
        },
    )
    first = run_once(config)
    with _admin_client(sandbox) as api:
        account = api.create("Accounts", {"name": "北京大盛科技有限公司"})
        second = run_once(config)
        api.delete("Accounts", account.id)
    # Reconciled moments ago: --once leaves the next reconciliation to its interval.
    third = run_once(config)
    report = {row["source"]: row for row in status_report(config)}

    assert [o.job for o in first] == ["all", "reconcile"]
    assert [o.job for o in second] == ["all"]
    assert second[0].sync is not None and second[0].sync.by_action == {"create": 1}
    assert [o.job for o in third] == ["all"]
    assert set(report) == {"accounts", "opportunities"}
    assert report["accounts"]["reconciled_at"] is not None
    assert report["accounts"]["last_error"] is None
