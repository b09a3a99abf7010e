"""Fixtures of the plugin's integration tests: PHP, a package, a live receiver."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request

from dscrm_bridge.config import Config, load_config
from dscrm_bridge.plugin import package_files, settings_from_config
from dscrm_bridge.plugin.package import zip_bytes
from dscrm_bridge.sandbox import running_app
from dscrm_bridge.web.webhook import WebhookReceiver

SECRET = "plugin-test-secret-93b7e0"
RUN_HOOK = Path(__file__).with_name("run_hook.php")
PHP_TIMEOUT_S = 60


def php_binary() -> str:
    php = shutil.which("php")
    if php is None:
        if os.environ.get("DSCRM_REQUIRE_MYSQL") == "1":  # CI: php-cli is required
            pytest.fail("php-cli is required (see .ci/apt-packages)")
        pytest.skip("php-cli is not installed")
    return php


def config_for(tmp_path: Path, **env: str) -> Config:
    values = {
        "DSCRM_WEBHOOK_URL": "http://127.0.0.1:9/webhook",
        "DSCRM_WEBHOOK_SECRET": SECRET,
        "DSCRM_BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'bridge.db'}",
        **env,
    }
    return load_config(None, env=values)


def write_package(config: Config, directory: Path) -> Path:
    """Build the package for ``config`` and unpack it as Module Loader would."""
    data = zip_bytes(package_files(settings_from_config(config)))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(directory)
    return directory


@dataclass
class HookRun:
    completed: bool
    transport: str
    log: list[dict[str, str]]
    stdout: str

    def errors(self) -> list[str]:
        return [line["message"] for line in self.log if line["level"] == "error"]


def run_hook(
    package: Path,
    method: str,
    module: str,
    record_id: str,
    *,
    streams: bool = False,
    secret: str = SECRET,
    saves: int = 1,
) -> HookRun:
    """Run the packaged hook ``saves`` times in one php-cli process.

    ``streams`` runs PHP without its ini files, so without cURL.
    """
    command = [php_binary()]
    if streams:
        command.append("-n")  # no ini files: extensions such as curl stay off
    command += [str(RUN_HOOK), str(package), method, module, record_id, str(saves)]
    env = {**os.environ, "DSCRM_TEST_WEBHOOK_SECRET": secret}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=PHP_TIMEOUT_S, env=env
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    return HookRun(data["completed"], data["transport"], data["log"], done.stdout)


@dataclass
class LiveReceiver:
    url: str
    receiver: WebhookReceiver
    synced: list[list[str]]
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture()
def live_receiver(tmp_path: Path) -> Iterator[LiveReceiver]:
    """The webhook receiver on a free port; syncs are recorded, not run."""
    synced: list[list[str]] = []
    receiver = WebhookReceiver(config_for(tmp_path), run_sync=synced.append)
    seen: list[tuple[dict[str, str], bytes]] = []
    app = FastAPI()

    @app.middleware("http")
    async def record(request: Request, call_next: Callable[..., Any]) -> Any:
        seen.append((dict(request.headers), await request.body()))
        return await call_next(request)

    app.include_router(receiver.router)
    with running_app(app) as base_url:
        yield LiveReceiver(f"{base_url}/webhook", receiver, synced, seen)
    receiver.close()
