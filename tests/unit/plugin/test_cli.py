"""`dscrm plugin build` and `dscrm sandbox --webhook` through the CLI."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from tests.unit.plugin.conftest import SECRET


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DSCRM_WEBHOOK_URL", "http://bridge.example:8000/webhook")
    monkeypatch.setenv("DSCRM_WEBHOOK_SECRET", SECRET)
    return tmp_path


def test_plugin_build_writes_the_zip_and_never_prints_the_secret(env: Path) -> None:
    result = CliRunner().invoke(
        cli.root, ["--lang", "en", "plugin", "build", "-o", "out/p.zip"]
    )

    assert result.exit_code == 0, result.output
    assert "http://bridge.example:8000/webhook" in result.output
    assert "Module Loader" in result.output
    assert SECRET not in result.output
    with zipfile.ZipFile(env / "out" / "p.zip") as archive:
        assert "manifest.php" in archive.namelist()


def test_plugin_build_without_a_webhook_url_fails_with_a_hint(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSCRM_WEBHOOK_URL", "")

    result = CliRunner().invoke(cli.root, ["--lang", "en", "plugin", "build"])

    assert result.exit_code == 2
    assert "webhook.url" in result.output
    assert not (env / "dscrm-bridge-suitecrm-plugin.zip").exists()


def test_sandbox_webhook_needs_the_secret_in_the_named_variable(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MY_HOOK_SECRET", raising=False)

    result = CliRunner().invoke(
        cli.root,
        [
            "sandbox",
            "--db",
            f"sqlite:///{env / 'sb.db'}",
            "--webhook",
            "http://127.0.0.1:8000/webhook",
            "--webhook-secret-env",
            "MY_HOOK_SECRET",
        ],
    )

    assert result.exit_code == 2
    assert "MY_HOOK_SECRET" in result.output
    assert not (env / "sb.db").exists()  # refused before anything started
