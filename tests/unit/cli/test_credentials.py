"""The CLI names a rejected credential and never prints it, even when echoed."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses
import sqlalchemy as sa
from click.testing import CliRunner

import cli
from dscrm_bridge.suitecrm.tables import metadata

BASE = "http://crm.test"
WRONG_PASSWORD = "WrongPass!9"
CLIENT_SECRET = "client-s3cret-value"


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    values = {
        "DSCRM_SUITECRM_URL": BASE,
        "DSCRM_SUITECRM_CLIENT_ID": "83b8b5ed-1c47-4a01-aea4-ab07e3837b27",
        "DSCRM_SUITECRM_CLIENT_SECRET": CLIENT_SECRET,
        "DSCRM_SUITECRM_PASSWORD": WRONG_PASSWORD,
        "DSCRM_SUITECRM_DATABASE_URL": f"sqlite:///{tmp_path / 'crm.db'}",
        "DSCRM_BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'feed.db'}",
    }
    engine = sa.create_engine(values["DSCRM_SUITECRM_DATABASE_URL"])
    metadata.create_all(engine)
    engine.dispose()
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return values


def _token_answer(status: int, body: dict[str, str]) -> None:
    responses.add(responses.POST, f"{BASE}/Api/access_token", json=body, status=status)


@responses.activate
def test_wrong_password_is_named_and_not_echoed(env: dict[str, str]) -> None:
    # Q2/F32: SuiteCRM 7.13 answers 500 and puts the submitted password in the text.
    _token_answer(
        500,
        {
            "error": "unknown_error",
            "message": f"The password is invalid: {WRONG_PASSWORD}",
        },
    )
    result = CliRunner().invoke(cli.root, ["demo", "--target", "config"])
    assert result.exit_code != 0
    assert "密码" in result.output
    assert WRONG_PASSWORD not in result.output
    assert CLIENT_SECRET not in result.output


@responses.activate
def test_wrong_client_secret_is_named_and_not_echoed(env: dict[str, str]) -> None:
    # Q2: a wrong secret is a 401 invalid_client in league/oauth2's shape.
    _token_answer(
        401,
        {
            "error": "invalid_client",
            "message": "Client authentication failed",
        },
    )
    result = CliRunner().invoke(
        cli.root, ["--lang", "en", "demo", "--target", "config"]
    )
    assert result.exit_code != 0
    assert "client secret" in result.output.lower()
    assert CLIENT_SECRET not in result.output
    assert WRONG_PASSWORD not in result.output
