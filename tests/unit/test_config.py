"""Configuration loading: defaults, file, environment, and every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from dscrm_bridge import i18n
from dscrm_bridge.config import Secret, load_config, mask_url, with_password
from dscrm_bridge.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _english() -> None:
    i18n.set_language("en")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dscrm.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_loads_and_equals_the_defaults() -> None:
    example = load_config(REPO / "config.example.yaml", env={})
    defaults = load_config(None, env={})
    assert example.suitecrm == defaults.suitecrm
    assert example.sync == defaults.sync
    assert example.bridge == defaults.bridge
    assert example.language == "zh_CN"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "suitecrm:\n  url: http://crm.example:8080\n")
    config = load_config(
        path,
        env={
            "DSCRM_SUITECRM_URL": "http://127.0.0.1:9000/",
            "DSCRM_SYNC_BATCH_SIZE": "50",
            "DSCRM_SYNC_MODULES": "Accounts, Contacts",
            "DSCRM_SUITECRM_VERIFY_TLS": "false",
        },
    )
    assert config.suitecrm.url == "http://127.0.0.1:9000"
    assert config.sync.batch_size == 50
    assert config.sync.modules == ("Accounts", "Contacts")
    assert config.suitecrm.verify_tls is False


def test_every_problem_is_reported_with_key_and_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "language: zh_CN\n"
        "suitecrm:\n"
        "  timeout_s: soon\n"
        "  colour: blue\n"
        "sync:\n"
        "  batch_size: 0\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    problems = info.value.problems
    assert any(p.startswith("suitecrm.timeout_s (line 3)") for p in problems)
    assert any(p.startswith("suitecrm.colour (line 4)") for p in problems)
    assert any(p.startswith("sync.batch_size (line 6)") for p in problems)
    assert len(problems) == 3


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, env={"DSCRM_SYNC_BATCH_SIZE": "many"})
    assert "DSCRM_SYNC_BATCH_SIZE" in str(info.value)


@pytest.mark.parametrize(
    ("text", "env_name"),
    [
        ("suitecrm:\n  password: hunter2-secret\n", "DSCRM_SUITECRM_PASSWORD"),
        (
            "suitecrm:\n  client_secret: hunter2-secret\n",
            "DSCRM_SUITECRM_CLIENT_SECRET",
        ),
        (
            "suitecrm:\n  database_url: mysql+pymysql://u:hunter2-secret@h/crm\n",
            "DSCRM_SUITECRM_DATABASE_PASSWORD",
        ),
    ],
    ids=["password", "client-secret", "password-in-url"],
)
def test_secrets_in_the_file_are_refused_without_echo(
    tmp_path: Path, text: str, env_name: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text), env={})
    message = str(info.value)
    assert env_name in message
    assert "(line 2)" in message
    assert "hunter2-secret" not in message


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "suitecrm:\n  url: [unclosed\nsync: {}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert f"{path}:3:" in str(info.value)
    assert "not valid YAML" in str(info.value)


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "sync:\n  batch_size: 10\n  batch_size: 20\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert f"{path}:3:" in str(info.value)
    assert "line 2" in str(info.value)


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml", env={})
    assert "config.example.yaml" in str(info.value)


def test_secrets_come_from_the_environment_and_never_print() -> None:
    config = load_config(
        None,
        env={
            "DSCRM_SUITECRM_PASSWORD": "pw-s3cret",
            "DSCRM_SUITECRM_CLIENT_SECRET": "cs-s3cret",
            "DSCRM_SUITECRM_DATABASE_URL": "mysql+pymysql://reader@db:3306/crm",
            "DSCRM_SUITECRM_DATABASE_PASSWORD": "db-s3cret",
        },
    )
    assert config.suitecrm.password.reveal() == "pw-s3cret"
    assert "s3cret" not in repr(config)
    assert config.suitecrm.sql_url() == "mysql+pymysql://reader:db-s3cret@db:3306/crm"


def test_mask_url_hides_the_password() -> None:
    assert mask_url("mysql+pymysql://u:pw@h/db") == "mysql+pymysql://u:***@h/db"
    assert mask_url("sqlite:///x.db") == "sqlite:///x.db"
    assert with_password("sqlite:///x.db", Secret("pw")) == "sqlite:///x.db"


def test_problems_are_reported_in_chinese_by_default(tmp_path: Path) -> None:
    i18n.set_language("zh_CN")
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, "sync:\n  batch_size: many\n"), env={})
    assert "sync.batch_size（第 2 行）：应为整数" in str(info.value)
