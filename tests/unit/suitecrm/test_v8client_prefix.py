"""Where the API lives: /Api (SuiteCRM 7) or /legacy/Api (8), probed once or set."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import responses

from dscrm_bridge.errors import ApiError
from dscrm_bridge.suitecrm.v8client import V8Client

from .conftest import BASE_URL, FakeCRM, token_body

LEGACY = BASE_URL + "/legacy/Api"
PROBE_7 = BASE_URL + "/Api/V8/meta/modules"
PROBE_8 = LEGACY + "/V8/meta/modules"


def _v8_refusal(crm: FakeCRM) -> str:
    # F1: a V8 route without a token answers 401 in league/oauth2's shape.
    return json.dumps(crm.transcript.body("F1"))


def _slim_404(crm: FakeCRM) -> str:
    return json.dumps(crm.transcript.body("F28"))  # Slim's own "Not found"


def _serve_suitecrm8(crm: FakeCRM) -> None:
    """A SuiteCRM 8: /Api is the web app's page, the API sits under /legacy/Api."""
    crm.mock.add(
        responses.GET, PROBE_7, body="<html><body>SuiteCRM</body></html>", status=200
    )
    crm.mock.add(responses.GET, PROBE_8, body=_v8_refusal(crm), status=401)
    crm.mock.add(
        responses.POST,
        LEGACY + "/access_token",
        json=token_body(crm.transcript, "token-8"),
    )
    exchange = crm.transcript("A9")
    crm.mock.add(
        responses.GET, LEGACY + "/V8/current-user", json=exchange["response_body"]
    )


def test_auto_prefix_finds_the_legacy_api_of_suitecrm_8(
    crm: FakeCRM, make_client: Callable[..., V8Client]
) -> None:
    _serve_suitecrm8(crm)
    client = make_client(api_prefix="auto")

    user = client.current_user()

    assert client.api_prefix == "/legacy/Api"
    assert user.id == "1"
    assert crm.mock.calls[-1].request.url == LEGACY + "/V8/current-user"
    assert crm.mock.calls[-1].request.headers["Authorization"] == "Bearer token-8"


def test_auto_prefix_takes_api_when_suitecrm_7_answers_there(
    crm: FakeCRM, make_client: Callable[..., V8Client]
) -> None:
    crm.mock.add(responses.GET, PROBE_7, body=_v8_refusal(crm), status=401)

    client = make_client(api_prefix="auto")

    assert client.api_prefix == "/Api"
    assert [c.request.url for c in crm.mock.calls] == [PROBE_7]


def test_prefix_is_probed_once_per_server_not_per_client(
    crm: FakeCRM, make_client: Callable[..., V8Client]
) -> None:
    _serve_suitecrm8(crm)

    first = make_client(api_prefix="auto")
    second = make_client(api_prefix="auto")
    first.current_user()
    second.current_user()

    probes = [c for c in crm.mock.calls if c.request.url.endswith("/meta/modules")]
    assert [c.request.url for c in probes] == [PROBE_7, PROBE_8]
    assert second.api_prefix == "/legacy/Api"


def test_configured_prefix_is_used_without_probing(
    crm: FakeCRM, make_client: Callable[..., V8Client]
) -> None:
    _serve_suitecrm8(crm)
    client = make_client(api_prefix="legacy/Api/")

    client.current_user()

    assert not any(c.request.url.endswith("/meta/modules") for c in crm.mock.calls)
    assert client.api_root == LEGACY


def test_no_api_under_any_prefix_is_an_error_naming_the_url(
    crm: FakeCRM, make_client: Callable[..., V8Client]
) -> None:
    crm.mock.add(responses.GET, PROBE_7, body=_slim_404(crm), status=404)
    crm.mock.add(responses.GET, PROBE_8, body=_slim_404(crm), status=404)
    client = make_client(api_prefix="auto")

    with pytest.raises(ApiError) as caught:
        client.current_user()

    assert BASE_URL in str(caught.value) and "/legacy/Api" in str(caught.value)
    assert "api_prefix" in str(caught.value)
    assert len(crm.mock.calls) == 2  # no token was asked for


def test_configured_prefix_is_verified_once_when_asked(
    crm: FakeCRM, make_client: Callable[..., V8Client]
) -> None:
    _serve_suitecrm8(crm)
    wrong = make_client(api_prefix="/Api")
    right = make_client(api_prefix="/legacy/Api")

    with pytest.raises(ApiError) as caught:
        wrong.reachable_prefix()
    assert right.reachable_prefix() == "/legacy/Api"
    assert right.reachable_prefix() == "/legacy/Api"

    assert "api_prefix" in str(caught.value) and caught.value.status == 200
    probes = [c.request.url for c in crm.mock.calls]
    assert probes == [PROBE_7, PROBE_8]


def test_a_proxy_asking_for_its_own_login_is_not_taken_for_the_api(
    crm: FakeCRM, make_client: Callable[..., V8Client]
) -> None:
    crm.mock.add(responses.GET, PROBE_7, json={"message": "Unauthorized"}, status=401)
    crm.mock.add(responses.GET, PROBE_8, body=_v8_refusal(crm), status=401)

    assert make_client(api_prefix="auto").api_prefix == "/legacy/Api"
