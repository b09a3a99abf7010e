"""`dscrm serve` refuses to start without what it needs, naming each missing piece."""

from __future__ import annotations

from pathlib import Path

import pytest

from dscrm_bridge.config import load_config
from dscrm_bridge.errors import ConfigError
from dscrm_bridge.web.server import service_from_config


def test_missing_settings_are_listed_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={"DSCRM_WEB_SESSION_SECRET": "short"})

    with pytest.raises(ConfigError) as refused:
        service_from_config(config)

    text = str(refused.value)
    assert "suitecrm.database_url" in text
    assert "DSCRM_SUITECRM_CLIENT_SECRET" in text
    assert "DSCRM_WEB_SESSION_SECRET" in text
    assert "short" not in text
