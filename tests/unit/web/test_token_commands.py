"""`dscrm serve token create|list|revoke`: a token is shown once, stored hashed,
listed without its value, and refused once revoked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import cli
from dscrm_bridge.feed.replies_schema import api_tokens
from dscrm_bridge.sandbox import seed
from dscrm_bridge.web.auth import TOKEN_PREFIX, hash_token, token_user


@pytest.fixture()
def urls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    crm = f"sqlite:///{tmp_path / 'crm.db'}"
    feed = f"sqlite:///{tmp_path / 'feed.db'}"
    engine = sa.create_engine(crm)
    seed(engine)
    engine.dispose()
    monkeypatch.setenv("DSCRM_SUITECRM_DATABASE_URL", crm)
    monkeypatch.setenv("DSCRM_BRIDGE_DATABASE_URL", feed)
    monkeypatch.chdir(tmp_path)
    return {"crm": crm, "feed": feed}


def test_token_lifecycle(urls: dict[str, str]) -> None:
    runner = CliRunner()
    created = runner.invoke(cli.root, ["serve", "token", "create", "admin"])
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    assert token.startswith(TOKEN_PREFIX)

    feed = sa.create_engine(urls["feed"])
    with feed.connect() as conn:
        stored = conn.execute(sa.select(api_tokens.c.token_hash)).scalar_one()
        assert stored == hash_token(token)
        assert token_user(conn, token) == "1"

    listed = runner.invoke(cli.root, ["serve", "token", "list", "--json"])
    assert listed.exit_code == 0
    items = json.loads(listed.output)
    assert [(i["user_name"], i["revoked_at"]) for i in items] == [("admin", None)]
    assert token not in listed.output

    revoked = runner.invoke(cli.root, ["serve", "token", "revoke", str(items[0]["id"])])
    assert revoked.exit_code == 0
    with feed.connect() as conn:
        assert token_user(conn, token) is None
    again = runner.invoke(cli.root, ["serve", "token", "revoke", str(items[0]["id"])])
    assert again.exit_code == 2
    feed.dispose()


def test_token_for_an_unknown_user_is_refused(urls: dict[str, str]) -> None:
    answer = CliRunner().invoke(cli.root, ["serve", "token", "create", "nobody"])
    assert answer.exit_code == 2
    assert "nobody" in answer.output
