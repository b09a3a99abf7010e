"""The webhook receiver: signature, replay window, replays, and the sync nudge."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dscrm_bridge.config import Config
from dscrm_bridge.plugin.signing import event_now, signed_headers
from dscrm_bridge.web.webhook import WebhookReceiver
from tests.unit.plugin.conftest import SECRET

NOW = 1_800_000_000


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def synced() -> list[list[str]]:
    return []


@pytest.fixture()
def receiver(
    make_config: Callable[..., Config], clock: Clock, synced: list[list[str]]
) -> Iterator[WebhookReceiver]:
    config = make_config(DSCRM_SYNC_MODULES="Accounts,Contacts")
    receiver = WebhookReceiver(config, run_sync=synced.append, clock=clock)
    yield receiver
    receiver.close()


@pytest.fixture()
def client(receiver: WebhookReceiver) -> TestClient:
    app = FastAPI()
    app.include_router(receiver.router)
    return TestClient(app)


def _body(module: str = "Accounts") -> bytes:
    return event_now(module, "a1b2c3", "after_save", "1").to_json()


def _post(
    client: TestClient, body: bytes, *, secret: str = SECRET, at: int = NOW
) -> int:
    headers = signed_headers(secret, body, timestamp=at)
    return client.post("/webhook", content=body, headers=headers).status_code


def test_valid_event_queues_a_sync_of_its_module(
    client: TestClient, receiver: WebhookReceiver, synced: list[list[str]]
) -> None:
    assert _post(client, _body("Contacts")) == 202
    assert receiver.nudger.wait_idle(5)
    assert synced == [["Contacts"]]


@pytest.mark.parametrize(
    ("secret", "at", "reason"),
    [
        ("another-secret", NOW, "signature does not match"),
        (SECRET, NOW - 301, "outside the 300s window"),
        (SECRET, NOW + 301, "outside the 300s window"),
    ],
    ids=["bad-signature", "stale", "from-the-future"],
)
def test_refused_events_answer_401_and_log_without_the_secret(
    client: TestClient,
    receiver: WebhookReceiver,
    synced: list[list[str]],
    caplog: pytest.LogCaptureFixture,
    secret: str,
    at: int,
    reason: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="dscrm_bridge")
    assert _post(client, _body(), secret=secret, at=at) == 401
    assert receiver.nudger.wait_idle(5)
    assert synced == []
    assert reason in caplog.text
    assert SECRET not in caplog.text
    assert "another-secret" not in caplog.text


def test_the_same_signed_request_twice_is_a_replay(
    client: TestClient,
    receiver: WebhookReceiver,
    synced: list[list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = _body()
    assert _post(client, body) == 202
    assert receiver.nudger.wait_idle(5)
    assert _post(client, body) == 401
    assert "seen before" in caplog.text
    assert SECRET not in caplog.text
    assert synced == [["Accounts"]]


def test_a_replay_is_forgotten_only_when_it_would_be_stale_anyway(
    client: TestClient, clock: Clock
) -> None:
    body = _body()
    assert _post(client, body) == 202
    clock.now += 301
    # Memory of the signature is gone, but the timestamp is now stale too.
    assert _post(client, body) == 401


def test_same_body_signed_again_later_is_a_new_event(
    client: TestClient, clock: Clock, synced: list[list[str]], receiver: WebhookReceiver
) -> None:
    body = _body()
    assert _post(client, body) == 202
    clock.now += 10
    assert _post(client, body, at=NOW + 10) == 202
    assert receiver.nudger.wait_idle(5)
    assert sum(len(run) for run in synced) >= 1
    assert {module for run in synced for module in run} == {"Accounts"}


def test_unsigned_request_is_refused(client: TestClient) -> None:
    response = client.post("/webhook", content=_body())
    assert response.status_code == 401
    assert response.json() == {"error": "unsigned"}


def test_signed_body_that_is_not_an_event_is_refused(client: TestClient) -> None:
    assert _post(client, b'{"module": "Accounts"}') == 400


def test_event_of_a_module_not_synced_is_ignored(
    client: TestClient, receiver: WebhookReceiver, synced: list[list[str]]
) -> None:
    assert _post(client, _body("Notes")) == 202
    assert receiver.nudger.wait_idle(5)
    assert synced == []


def test_without_a_secret_every_event_is_refused(
    make_config: Callable[..., Config], synced: list[list[str]]
) -> None:
    receiver = WebhookReceiver(
        make_config(DSCRM_WEBHOOK_SECRET=""), run_sync=synced.append
    )
    app = FastAPI()
    app.include_router(receiver.router)
    body = _body()
    response = TestClient(app).post(
        "/webhook", content=body, headers=signed_headers("", body)
    )
    receiver.close()
    assert response.status_code == 503
    assert synced == []


def test_nudges_arriving_during_a_run_coalesce(
    make_config: Callable[..., Config],
) -> None:
    import threading

    started, release = threading.Event(), threading.Event()
    runs: list[list[str]] = []

    def slow(modules: list[str]) -> None:
        runs.append(modules)
        started.set()
        release.wait(5)

    receiver = WebhookReceiver(make_config(), run_sync=slow)
    receiver.nudger.nudge(["Accounts"])
    assert started.wait(5)
    for module in ("Contacts", "Notes", "Contacts"):
        receiver.nudger.nudge([module])
    release.set()
    assert receiver.nudger.wait_idle(5)
    receiver.close()
    assert runs == [["Accounts"], ["Contacts", "Notes"]]
