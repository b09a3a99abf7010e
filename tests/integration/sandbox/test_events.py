"""The sandbox posts the plugin's signed change events for its committed writes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from starlette.responses import Response

from dscrm_bridge.plugin.signing import signature
from dscrm_bridge.sandbox import WebhookTarget, running_app, running_sandbox

from .conftest import ADMIN_PASSWORD, V8

SECRET = "sandbox-events-secret"


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.arrived = threading.Condition()

    def wait_for(self, count: int) -> list[dict[str, Any]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.events) >= count, timeout=30)
            return list(self.events)


@pytest.fixture()
def recorder() -> Iterator[tuple[Recorder, str]]:
    recorder = Recorder()
    app = FastAPI()

    @app.post("/webhook")
    async def receive(request: Request) -> Response:
        body = await request.body()
        stamp = request.headers["x-dscrm-timestamp"]
        if request.headers["x-dscrm-signature"] != signature(SECRET, stamp, body):
            recorder.bad_signatures += 1
        with recorder.arrived:
            recorder.events.append(json.loads(body))
            recorder.arrived.notify_all()
        return Response(status_code=202)

    with running_app(app) as base_url:
        yield recorder, f"{base_url}/webhook"


def _summary(events: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    return [
        (e["event"], e["module"], e["id"], e.get("related_module", "")) for e in events
    ]


def test_each_committed_write_is_posted_signed(
    recorder: tuple[Recorder, str], tmp_path: Path
) -> None:
    record, url = recorder
    target = WebhookTarget(url, SECRET, frozenset({"Accounts", "Contacts"}))
    with running_sandbox(
        f"sqlite:///{tmp_path / 'crm.db'}",
        upload_dir=tmp_path / "upload",
        admin_password=ADMIN_PASSWORD,
        webhook=target,
    ) as sandbox:
        admin = V8(sandbox, "admin", ADMIN_PASSWORD)
        account = admin.create("Accounts", name="云启科技")["id"]
        contact = admin.create("Contacts", last_name="张")["id"]
        admin.create("Notes", name="not watched")  # filtered out, like the plugin
        admin.relate("Accounts", account, "contacts", "Contacts", contact)
        refused = admin.call(
            "POST", "module", {"data": {"type": "Accounts", "attributes": {"x": 1}}}
        )
        admin.call(
            "DELETE", f"module/Accounts/{account}/relationships/contacts/{contact}"
        )
        admin.call("DELETE", f"module/Contacts/{contact}")
        events = record.wait_for(7)

    assert refused.status_code == 400
    assert record.bad_signatures == 0
    assert _summary(events) == [
        ("after_save", "Accounts", account, ""),
        ("after_save", "Contacts", contact, ""),
        ("after_relationship_add", "Accounts", account, "Contacts"),
        ("after_relationship_add", "Contacts", contact, "Accounts"),
        ("after_relationship_delete", "Accounts", account, "Contacts"),
        ("after_relationship_delete", "Contacts", contact, "Accounts"),
        ("after_delete", "Contacts", contact, ""),
    ]
    assert {event["user_id"] for event in events} == {"1"}
