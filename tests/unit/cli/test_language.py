"""The language of the CLI: --lang, DSCRM_LANGUAGE, the file, and click's own texts."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import cli


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in ("DSCRM_LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path


def test_language_from_the_configuration_file_applies(workdir: Path) -> None:
    (workdir / "dscrm.yaml").write_text("language: en\n", encoding="utf-8")
    result = CliRunner().invoke(cli.root, ["feed"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "The feed is empty."


def test_lang_option_wins_over_the_file(workdir: Path) -> None:
    (workdir / "dscrm.yaml").write_text("language: en\n", encoding="utf-8")
    result = CliRunner().invoke(cli.root, ["--lang", "zh_CN", "feed"])
    assert result.output.strip() == "动态为空。"


def test_click_usage_errors_are_translated(workdir: Path) -> None:
    result = CliRunner().invoke(cli.root, ["feed", "--limit", "0"])
    assert result.exit_code == 2
    assert "用法：" in result.output
    assert "错误：'--limit' 的值无效" in result.output
    assert "Usage" not in result.output


def test_click_usage_errors_in_english(workdir: Path) -> None:
    result = CliRunner().invoke(cli.root, ["--lang", "en", "nosuch"])
    assert result.exit_code == 2
    assert "Error: No such command 'nosuch'." in result.output


def test_help_is_translated(workdir: Path) -> None:
    result = CliRunner().invoke(cli.root, ["--help"])
    assert "显示此帮助并退出。" in result.output
