"""Signing in: token reuse and renewal, re-sign-in on 401, named credential errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
import responses

from dscrm_bridge import i18n
from dscrm_bridge.errors import ApiError, AuthError, ConfigError, IdentityError
from dscrm_bridge.suitecrm.oauth import EXPIRY_MARGIN_S
from dscrm_bridge.suitecrm.v8client import V8Client

from .conftest import (
    BASE_URL,
    CLIENT_SECRET,
    PASSWORD,
    TOKEN_URL,
    Clock,
    FakeCRM,
    sent_json,
    token_calls,
)

ACCOUNT = "A4"


def _cc_client(make_client: Callable[..., V8Client]) -> V8Client:
    """A client of the recorded client_credentials client (transcript A8)."""
    return make_client(
        client_id="39283fb6-56b9-4945-93c7-03ea4a16c56a",
        client_secret="bridge-cc-secret",
        grant_type="client_credentials",
        username=None,
        password=None,
    )


def _bearer(call: Any) -> str:
    return call.request.headers["Authorization"]


def test_token_is_reused_while_valid(crm: FakeCRM, client: V8Client) -> None:
    crm.replay(ACCOUNT)

    client.get("Accounts", "72bc0432-e90d-fdfe-1c4e-6b12db7ef146")
    client.get("Accounts", "72bc0432-e90d-fdfe-1c4e-6b12db7ef146")

    assert len(token_calls(crm.mock)) == 1
    assert sent_json(token_calls(crm.mock)[0]) == crm.transcript("A1")["request_body"]
    assert [_bearer(c) for c in crm.api_calls()] == ["Bearer token-1"] * 2


def test_token_is_refreshed_shortly_before_it_expires(
    crm: FakeCRM,
    client: V8Client,
    clock: Clock,
) -> None:
    crm.token("token-2", step="A10")  # after the client fixture's token-1
    crm.replay(ACCOUNT)
    expires_in = crm.transcript.body("A1")["expires_in"]

    client.get("Accounts", "72bc0432-e90d-fdfe-1c4e-6b12db7ef146")
    clock.now += expires_in - EXPIRY_MARGIN_S - 1
    client.get("Accounts", "72bc0432-e90d-fdfe-1c4e-6b12db7ef146")
    clock.now += 2
    client.get("Accounts", "72bc0432-e90d-fdfe-1c4e-6b12db7ef146")

    grants = [sent_json(c)["grant_type"] for c in token_calls(crm.mock)]
    assert grants == ["password", "refresh_token"]
    assert sent_json(token_calls(crm.mock)[1])["refresh_token"] == "refresh-token-1"
    assert [_bearer(c) for c in crm.api_calls()] == [
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
    ]


def test_refused_refresh_falls_back_to_the_password_grant(
    crm: FakeCRM,
    client: V8Client,
    clock: Clock,
) -> None:
    # league/oauth2 error shape (Q2) for a refresh token the server will not take.
    refused = {
        "error": "invalid_request",
        "message": "The refresh token is invalid.",
        "hint": "Token has been revoked",
    }
    crm.mock.add(responses.POST, TOKEN_URL, json=refused, status=401)
    crm.token("token-3")
    crm.replay(ACCOUNT)

    client.get("Accounts", "72bc0432-e90d-fdfe-1c4e-6b12db7ef146")
    clock.now += 3600
    client.get("Accounts", "72bc0432-e90d-fdfe-1c4e-6b12db7ef146")

    grants = [sent_json(c)["grant_type"] for c in token_calls(crm.mock)]
    assert grants == ["password", "refresh_token", "password"]
    assert _bearer(crm.api_calls()[-1]) == "Bearer token-3"


def test_client_credentials_token_without_refresh_is_obtained_again(
    crm: FakeCRM,
    make_client: Callable[..., V8Client],
    clock: Clock,
) -> None:
    client = _cc_client(make_client)
    crm.token("cc-1", step="A8")
    crm.token("cc-2", step="A8")
    crm.replay("A9")

    client.current_user()
    clock.now += 3600
    user = client.current_user()

    assert [sent_json(c) for c in token_calls(crm.mock)] == [
        crm.transcript("A8")["request_body"]
    ] * 2
    assert _bearer(crm.api_calls()[-1]) == "Bearer cc-2"
    assert user.id == "1"


def test_401_mid_run_signs_in_again_once_and_repeats_the_request(
    crm: FakeCRM, client: V8Client
) -> None:
    crm.token("token-2")
    crm.replay("F43", url=BASE_URL + "/Api/V8/module/Accounts/x1")
    crm.replay(ACCOUNT, url=BASE_URL + "/Api/V8/module/Accounts/x1")

    record = client.get("Accounts", "x1")

    assert record.attributes["name"] == "北京大盛科技有限公司"
    assert [sent_json(c)["grant_type"] for c in token_calls(crm.mock)] == [
        "password"
    ] * 2
    assert [_bearer(c) for c in crm.api_calls()] == ["Bearer token-1", "Bearer token-2"]


def test_second_401_raises_auth_error_naming_the_access_token(
    crm: FakeCRM, client: V8Client
) -> None:
    crm.token("token-2")
    crm.replay("F3")

    with pytest.raises(AuthError) as caught:
        client.list("Accounts")

    assert caught.value.credential == "access token"
    assert caught.value.status == 401
    assert "Access token could not be verified" in (caught.value.detail or "")
    assert len(crm.api_calls()) == 2


TOKEN_FAILURES = [
    ("F30", "client secret", AuthError),
    ("F31", "client id", AuthError),
    ("F32", "password", AuthError),
    ("F33", "user name", AuthError),
    ("F34", "client id", AuthError),
    ("F36", "grant type", AuthError),
    ("H10g", "user name", AuthError),
]


@pytest.mark.parametrize(
    ("step", "credential", "error"),
    TOKEN_FAILURES,
    ids=[f"{s}-{c.replace(' ', '-')}" for s, c, _ in TOKEN_FAILURES],
)
def test_rejected_token_request_names_the_credential_without_its_value(
    crm: FakeCRM,
    make_client: Callable[..., V8Client],
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
    step: str,
    credential: str,
    error: type[Exception],
) -> None:
    # The client is configured with what the recorded request sent; F36 (a grant the
    # server refuses) is answered to the client's own password grant.
    exchange = crm.replay(step)
    sent = exchange["request_body"]
    client = make_client(
        client_id=sent["client_id"],
        client_secret=sent["client_secret"],
        grant_type="client_credentials"
        if sent["grant_type"] == "client_credentials"
        else "password",
        username=sent.get("username", "admin"),
        password=sent.get("password", PASSWORD),
    )

    with caplog.at_level(logging.DEBUG), pytest.raises(error) as caught:
        client.list("Accounts")

    exc = caught.value
    assert isinstance(exc, AuthError) and exc.credential == credential
    assert exc.status == exchange["status"]
    shown = " ".join([str(exc), exc.detail or "", repr(exc), caplog.text])
    for secret in (sent.get("password"), sent["client_secret"]):
        if secret and len(secret) > 1:
            assert secret not in shown
    assert len(token_calls(crm.mock)) == 1 and sleeps == []  # decisions are not retried


def test_wrong_password_echoed_by_suitecrm_is_redacted_from_detail(
    crm: FakeCRM,
    make_client: Callable[..., V8Client],
) -> None:
    crm.replay("F32")
    client = make_client(username="user1", password="WrongPass!")

    with pytest.raises(AuthError) as caught:
        client.current_user()

    assert (
        crm.transcript.body("F32")["message"] == "The password is invalid: WrongPass!"
    )
    assert caught.value.detail == "The password is invalid: ***"
    assert "WrongPass!" not in str(caught.value)
    assert "user1" in str(caught.value)


def test_unparsable_server_key_is_fatal_with_a_clear_message(
    crm: FakeCRM, make_client: Callable[..., V8Client], sleeps: list[float]
) -> None:
    client = make_client()
    # Server fact 1: stock 7.13.2 on PHP 8.
    body = {
        "error": "unknown_error",
        "message": "It was not possible to parse your key, reason: ",
    }
    crm.mock.add(responses.POST, TOKEN_URL, json=body, status=500)

    with pytest.raises(ApiError) as caught:
        client.current_user()

    assert not isinstance(caught.value, AuthError)
    assert caught.value.retriable is False
    assert "key" in str(caught.value) and "9963" in str(caught.value)
    assert len(token_calls(crm.mock)) == 1 and sleeps == []


def test_logout_revokes_the_token_and_the_next_call_signs_in_again(
    crm: FakeCRM, client: V8Client
) -> None:
    crm.token("token-2")
    crm.replay("F42")
    crm.replay("A9")

    client.current_user()
    client.logout()
    client.current_user()

    logout = [c for c in crm.mock.calls if c.request.url.endswith("/V8/logout")]
    assert [_bearer(c) for c in logout] == ["Bearer token-1"]
    assert _bearer(crm.api_calls()[-1]) == "Bearer token-2"


def test_logs_carry_no_token_password_or_client_secret(
    crm: FakeCRM,
    make_client: Callable[..., V8Client],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client()
    crm.token("eyJ.secret-token.sig")
    crm.replay("D3")

    with caplog.at_level(logging.DEBUG), pytest.raises(ApiError):
        client.get("Accounts", "aa8b0b9e-c873-8b2b-848e-6b12dba5dc5a")

    assert "GET /Api/V8/module/Accounts/aa8b0b9e" in caplog.text
    for secret in ("eyJ.secret-token.sig", "refresh-eyJ", PASSWORD, CLIENT_SECRET):
        assert secret not in caplog.text


def test_incomplete_credentials_are_listed_before_anything_is_sent(
    crm: FakeCRM,
) -> None:
    with pytest.raises(ConfigError) as caught:
        V8Client(BASE_URL, client_id="", client_secret="", username=None)

    assert len(caught.value.problems) == 4
    assert len(crm.mock.calls) == 0


def test_rejected_client_secret_is_reported_in_chinese(
    crm: FakeCRM,
    make_client: Callable[..., V8Client],
) -> None:
    crm.replay("F30")
    client = make_client(client_secret="wrong-secret")
    i18n.set_language("zh_CN")

    with pytest.raises(AuthError) as caught:
        client.current_user()

    assert str(caught.value) == (
        "SuiteCRM 拒绝了 OAuth2 客户端 83b8b5ed-1c47-4a01-aea4-ab07e3837b27 "
        "的客户端密钥；请检查环境变量 DSCRM_SUITECRM_CLIENT_SECRET"
    )
    assert caught.value.detail == "Client authentication failed"


def test_refresh_refused_as_invalid_client_signs_in_again_with_the_grant(
    crm: FakeCRM,
    client: V8Client,
    clock: Clock,
) -> None:
    # Some 7.13+ servers refuse every refresh of a password-grant token this way.
    crm.replay("F30")  # 401 invalid_client, answered to the refresh request
    crm.token("token-3")
    crm.replay(ACCOUNT)

    client.get("Accounts", "72bc0432-e90d-fdfe-1c4e-6b12db7ef146")
    clock.now += 3600
    client.get("Accounts", "72bc0432-e90d-fdfe-1c4e-6b12db7ef146")

    sent = [sent_json(c) for c in token_calls(crm.mock)]
    assert [body["grant_type"] for body in sent] == [
        "password",
        "refresh_token",
        "password",
    ]
    assert sent[2] == sent[0]  # the original grant, unchanged
    assert _bearer(crm.api_calls()[-1]) == "Bearer token-3"


def test_identity_check_refuses_a_token_acting_as_another_user(
    crm: FakeCRM,
    make_client: Callable[..., V8Client],
) -> None:
    # F35/H1: the client_credentials client accepts user1's password grant, but
    # the token acts as its assigned user, admin (H1b).
    request = crm.transcript("H1")["request_body"]
    crm.token("h1-token", step="H1")
    crm.replay("H1b")
    client = make_client(
        client_id=request["client_id"],
        client_secret=request["client_secret"],
        username=request["username"],
        password=request["password"],
    )

    with pytest.raises(IdentityError) as caught:
        client.verify_identity()

    assert isinstance(caught.value, AuthError)
    assert (caught.value.expected, caught.value.actual) == ("user1", "admin")
    assert "admin" in str(caught.value) and "user1" in str(caught.value)
    assert request["password"] not in str(caught.value)


def test_identity_check_returns_the_user_when_the_token_is_theirs(
    crm: FakeCRM,
    make_client: Callable[..., V8Client],
) -> None:
    crm.token()
    crm.replay("C2")  # current-user for user1's own token
    client = make_client(username="USER1")

    user = client.verify_identity()

    assert user.attributes["user_name"] == "user1"  # compared without case


def test_identity_check_of_client_credentials_compares_a_given_name(
    crm: FakeCRM,
    make_client: Callable[..., V8Client],
) -> None:
    client = _cc_client(make_client)
    crm.token("cc-1", step="A8")
    crm.replay("A9")
    crm.replay("A9")

    assert client.verify_identity().attributes["user_name"] == "admin"
    with pytest.raises(IdentityError):
        client.verify_identity("user1")


def test_client_from_settings_signs_in_with_the_configured_grant(
    crm: FakeCRM,
) -> None:
    from dscrm_bridge.config import load_config

    settings = load_config(
        env={
            "DSCRM_SUITECRM_URL": BASE_URL,
            "DSCRM_SUITECRM_API_PREFIX": "/Api",
            "DSCRM_SUITECRM_GRANT_TYPE": "client_credentials",
            "DSCRM_SUITECRM_CLIENT_ID": "39283fb6-56b9-4945-93c7-03ea4a16c56a",
            "DSCRM_SUITECRM_CLIENT_SECRET": "bridge-cc-secret",
            "DSCRM_SUITECRM_PASSWORD": "not-sent",
        }
    ).suitecrm
    crm.token("cc-1", step="A8")

    V8Client.from_settings(settings).sign_in()

    assert sent_json(token_calls(crm.mock)[0]) == crm.transcript("A8")["request_body"]
