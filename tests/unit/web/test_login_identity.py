"""Q3/F35: a login is refused when SuiteCRM's token belongs to someone else.

Replayed from the recorded exchanges H1 (password grant for user1 through the
client_credentials client: 200) and H1b (current-user of that token: admin).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import responses

from dscrm_bridge.suitecrm.v8client import V8Client
from dscrm_bridge.web.auth import LoginRefusedError, verify_login

BASE = "http://127.0.0.1:8080"


def _steps(reference_dir: Path) -> dict[str, dict[str, Any]]:
    found = {}
    path = reference_dir / "api-transcript.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        exchange = json.loads(line)
        found.setdefault(exchange["step"].split()[0], exchange)
    return found


def _client(user_name: str, password: str) -> V8Client:
    return V8Client(
        BASE,
        client_id="39283fb6-56b9-4945-93c7-03ea4a16c56a",
        client_secret="bridge-cc-secret",
        username=user_name,
        password=password,
        api_prefix="/Api",
        max_retries=0,
    )


def _fake(steps: dict[str, dict[str, Any]], user_body: dict[str, Any]) -> None:
    token = dict(steps["H1"]["response_body"], access_token="t", refresh_token="r")
    responses.add(responses.POST, BASE + "/Api/access_token", json=token, status=200)
    responses.add(
        responses.GET, BASE + "/Api/V8/current-user", json=user_body, status=200
    )
    responses.add(
        responses.POST,
        BASE + "/Api/V8/logout",
        json={"meta": {"message": "You have been successfully logged out"}, "data": []},
    )


@responses.activate
def test_token_of_another_user_is_refused(reference_dir: Path) -> None:
    steps = _steps(reference_dir)
    answer = steps["H1b"]["response_body"]
    assert answer["data"]["attributes"]["user_name"] == "admin"  # as recorded
    _fake(steps, answer)

    with pytest.raises(LoginRefusedError) as refused:
        verify_login(_client, "user1", "admin1234")
    assert "admin1234" not in str(refused.value)


@responses.activate
def test_token_of_the_same_user_signs_in(reference_dir: Path) -> None:
    steps = _steps(reference_dir)
    answer = json.loads(json.dumps(steps["H1b"]["response_body"]))
    answer["data"]["id"] = "1c41e1c9-e7f2-746b-4a45-6b12dbb0dd69"
    answer["data"]["attributes"]["user_name"] = "user1"
    _fake(steps, answer)

    assert verify_login(_client, "User1", "admin1234") == answer["data"]["id"]
    assert [c.request.url for c in responses.calls][-1] == BASE + "/Api/V8/logout"


def test_empty_credentials_never_reach_suitecrm() -> None:
    def unreachable(user_name: str, password: str) -> V8Client:
        raise AssertionError("SuiteCRM must not be asked")

    with pytest.raises(LoginRefusedError):
        verify_login(unreachable, "user1", "")
