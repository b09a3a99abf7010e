"""Fixtures of the plugin tests: a configuration with a webhook secret."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dscrm_bridge.config import Config, load_config

SECRET = "test-webhook-secret-5f1c9a"


@pytest.fixture()
def make_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Config]:
    """A Config from the environment only (no dscrm.yaml is picked up)."""
    monkeypatch.chdir(tmp_path)

    def make(**env: str) -> Config:
        values = {
            "DSCRM_WEBHOOK_URL": "http://127.0.0.1:8000/webhook",
            "DSCRM_WEBHOOK_SECRET": SECRET,
            **env,
        }
        return load_config(None, env=values)

    return make
