"""Save-to-feed latency: the plugin's change events versus polling.

    python bench/plugin_latency.py [--saves 30] [--poll-interval 60] [--poll-periods 2]

Both modes run the real pieces on 127.0.0.1: the sandbox on a temporary SQLite
database (a SuiteCRM), the bridge's feed on another, and V8 creates of Accounts.
A save's latency runs from the start of its V8 request until its entry can be
read from the feed.

- events: the sandbox posts each write to the webhook receiver (as a SuiteCRM
  with the plugin installed), which runs the sync of that module at once; saves
  follow one another.
- polling: no events; a poller runs ``sync_once`` every ``--poll-interval``
  seconds (the configuration's default, ``sync.interval_s``); saves fall at
  random moments over ``--poll-periods`` intervals, as users' saves do.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import requests
from fastapi import FastAPI

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dscrm_bridge.config import DEFAULTS, load_config  # noqa: E402
from dscrm_bridge.feed import FeedStore, upgrade  # noqa: E402
from dscrm_bridge.sandbox import (  # noqa: E402
    RunningSandbox,
    WebhookTarget,
    running_app,
    running_sandbox,
    seed,
)
from dscrm_bridge.sandbox.app import make_engine  # noqa: E402
from dscrm_bridge.sync import sync_once  # noqa: E402
from dscrm_bridge.web.webhook import WebhookReceiver  # noqa: E402

ADMIN_PASSWORD = "bench-admin-password"
SECRET = "bench-webhook-secret"
WATCH_EVERY_S = 0.005
GIVE_UP_S = 600.0


class FeedWatch:
    """Notes when each awaited record first shows in the feed."""

    def __init__(self, store: FeedStore) -> None:
        self.store = store
        self.awaited: dict[str, float] = {}
        self.latencies: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def expect(self, record_id: str, started: float) -> None:
        with self._lock:
            self.awaited[record_id] = started

    def wait_all(self) -> None:
        deadline = time.monotonic() + GIVE_UP_S
        while self.awaited and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                waiting = bool(self.awaited)
            if waiting:
                ids = {entry["record_id"] for entry in self.store.list_entries()}
                now = time.monotonic()
                with self._lock:
                    for record_id in ids & set(self.awaited):
                        self.latencies.append(now - self.awaited.pop(record_id))
            time.sleep(WATCH_EVERY_S)


def _save(sandbox: RunningSandbox, token: str, name: str) -> str:
    answer = requests.post(
        f"{sandbox.base_url}/Api/V8/module",
        json={"data": {"type": "Accounts", "attributes": {"name": name}}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    answer.raise_for_status()
    return str(answer.json()["data"]["id"])


@contextmanager
def _world(directory: Path, *, events: bool) -> Iterator[tuple[RunningSandbox, Any]]:
    crm_url = f"sqlite:///{directory / 'crm.db'}"
    config = load_config(
        None,
        env={
            "DSCRM_SUITECRM_DATABASE_URL": crm_url,
            "DSCRM_BRIDGE_DATABASE_URL": f"sqlite:///{directory / 'bridge.db'}",
            "DSCRM_WEBHOOK_SECRET": SECRET,
            # The admin saves here; the sync ignores the API user by default.
            "DSCRM_SYNC_IGNORE_API_USER": "false",
        },
    )
    feed_url = config.bridge.sql_url()
    upgrade(feed_url)
    engine = make_engine(crm_url)
    seed(engine, admin_password=ADMIN_PASSWORD)
    sync_once(engine, feed_url)  # cursors start now, as on a running bridge
    engine.dispose()

    receiver = WebhookReceiver(config) if events else None
    app = FastAPI()
    if receiver is not None:
        app.include_router(receiver.router)
    bridge = running_app(app) if receiver is not None else nullcontext("")
    with bridge as bridge_url:
        target = WebhookTarget(f"{bridge_url}/webhook", SECRET) if events else None
        with running_sandbox(
            crm_url,
            upload_dir=directory / "upload",
            admin_password=ADMIN_PASSWORD,
            webhook=target,
        ) as sandbox:
            yield sandbox, config
    if receiver is not None:
        receiver.close()


def run_events(directory: Path, saves: int) -> list[float]:
    with _world(directory, events=True) as (sandbox, config):
        watch = FeedWatch(FeedStore(config.bridge.sql_url()))
        token = sandbox.access_token("admin", ADMIN_PASSWORD)
        for number in range(saves):
            started = time.monotonic()
            watch.expect(_save(sandbox, token, f"事件客户 {number}"), started)
            time.sleep(0.05)
        watch.wait_all()
    return watch.latencies


def run_polling(
    directory: Path, saves: int, interval_s: float, periods: int, seed_value: int
) -> list[float]:
    rng = random.Random(seed_value)
    moments = sorted(rng.uniform(0, interval_s * periods) for _ in range(saves))
    with _world(directory, events=False) as (sandbox, config):
        feed_url = config.bridge.sql_url()
        watch = FeedWatch(FeedStore(feed_url))
        stop = threading.Event()
        poller = threading.Thread(
            target=_poll, args=(config, feed_url, interval_s, stop), daemon=True
        )
        token = sandbox.access_token("admin", ADMIN_PASSWORD)
        poller.start()
        began = time.monotonic()
        for number, moment in enumerate(moments):
            time.sleep(max(0.0, began + moment - time.monotonic()))
            started = time.monotonic()
            watch.expect(_save(sandbox, token, f"轮询客户 {number}"), started)
        watch.wait_all()
        stop.set()
        poller.join()
    return watch.latencies


def _poll(config: Any, feed_url: str, interval_s: float, stop: threading.Event) -> None:
    while not stop.wait(interval_s):
        sync_once(config.suitecrm.sql_url(), feed_url)


def _report(label: str, latencies: list[float], expected: int) -> None:
    if not latencies:
        print(f"{label:<10} no save reached the feed")
        return
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"{label:<10} saves={len(ordered)}/{expected}  "
        f"p50={statistics.median(ordered) * 1000:9.1f} ms  "
        f"p95={p95 * 1000:9.1f} ms  max={ordered[-1] * 1000:9.1f} ms"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=30)
    parser.add_argument(
        "--poll-interval", type=float, default=float(DEFAULTS["sync"]["interval_s"])
    )
    parser.add_argument("--poll-periods", type=int, default=2)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--skip-polling", action="store_true")
    args = parser.parse_args(argv)

    modes: list[tuple[str, Callable[[Path], list[float]]]] = [
        ("events", lambda d: run_events(d, args.saves))
    ]
    if not args.skip_polling:
        modes.append(
            (
                "polling",
                lambda d: run_polling(
                    d, args.saves, args.poll_interval, args.poll_periods, args.seed
                ),
            )
        )
    print(
        f"save-to-feed latency, {args.saves} Account creates per mode, sandbox on "
        f"SQLite; polling every {args.poll_interval:g} s"
    )
    for label, run in modes:
        with tempfile.TemporaryDirectory(prefix=f"dscrm-bench-{label}-") as tmp:
            _report(label, run(Path(tmp)), args.saves)


if __name__ == "__main__":
    main()
