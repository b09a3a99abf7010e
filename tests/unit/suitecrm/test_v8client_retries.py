"""Retries: bounded backoff on 5xx, 429 and lost connections; creates never doubled."""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Callable

import pytest
import requests
import responses

from dscrm_bridge.errors import ApiError, TransportError
from dscrm_bridge.suitecrm.v8client import V8Client

from .conftest import (
    BACKOFF_MAX_S,
    PASSWORD,
    V8_URL,
    FakeCRM,
    add_exchange,
    sent_json,
)

ACCOUNT_ID = "72bc0432-e90d-fdfe-1c4e-6b12db7ef146"
ACCOUNT_URL = V8_URL + "/module/Accounts/" + ACCOUNT_ID


def test_get_is_retried_after_503_and_succeeds(
    crm: FakeCRM,
    client: V8Client,
    sleeps: list[float],
) -> None:
    crm.mock.add(responses.GET, ACCOUNT_URL, body="", status=503)
    crm.replay("A4")

    record = client.get("Accounts", ACCOUNT_ID)

    assert record.id == ACCOUNT_ID
    assert len(crm.api_calls()) == 2
    assert len(sleeps) == 1 and 0 < sleeps[0] <= BACKOFF_MAX_S


def test_get_is_retried_after_a_connection_error(
    crm: FakeCRM,
    client: V8Client,
    sleeps: list[float],
) -> None:
    crm.mock.add(responses.GET, ACCOUNT_URL, body=requests.ConnectionError("reset"))
    crm.replay("A4")

    record = client.get("Accounts", ACCOUNT_ID)

    assert record.attributes["name"] == "北京大盛科技有限公司"
    assert len(sleeps) == 1


def test_retries_are_bounded_and_backoff_never_exceeds_the_cap(
    crm: FakeCRM,
    make_client: Callable[..., V8Client],
    sleeps: list[float],
) -> None:
    crm.token()
    client = make_client(max_retries=6, backoff_base_s=1.0)
    crm.mock.add(responses.GET, ACCOUNT_URL, body="", status=503)

    with pytest.raises(ApiError) as caught:
        client.get("Accounts", ACCOUNT_ID)

    assert caught.value.status == 503 and caught.value.retriable is True
    assert len(crm.api_calls()) == 7 and len(sleeps) == 6
    assert all(0 < s <= BACKOFF_MAX_S for s in sleeps)
    assert sleeps[-1] >= BACKOFF_MAX_S / 2  # grown to the cap (jitter is half of it)


def test_429_waits_at_least_retry_after(
    crm: FakeCRM,
    client: V8Client,
    sleeps: list[float],
) -> None:
    crm.mock.add(
        responses.GET, ACCOUNT_URL, body="", status=429, headers={"Retry-After": "3"}
    )
    crm.replay("A4")

    client.get("Accounts", ACCOUNT_ID)

    assert sleeps == [3.0]


def test_timeout_after_retries_is_a_transport_error_without_secrets(
    crm: FakeCRM,
    client: V8Client,
    sleeps: list[float],
) -> None:
    crm.mock.add(responses.GET, ACCOUNT_URL, body=requests.ReadTimeout("slow"))

    with pytest.raises(TransportError) as caught:
        client.get("Accounts", ACCOUNT_ID)

    assert caught.value.url == "http://127.0.0.1:8080"
    assert "30.0 seconds" in str(caught.value) and PASSWORD not in str(caught.value)
    assert len(sleeps) == 3


def test_create_retried_after_a_lost_response_is_recognised_not_duplicated(
    crm: FakeCRM,
    client: V8Client,
) -> None:
    first, again = crm.transcript("F19"), crm.transcript("F20")
    record_id = first["request_body"]["data"]["id"]
    # The first POST reached SuiteCRM and was stored, but its answer was lost.
    crm.mock.add(
        responses.POST, V8_URL + "/module", body=requests.ConnectionError("lost")
    )
    add_exchange(crm.mock, again)
    add_exchange(
        crm.mock, first, method="GET", url=V8_URL + "/module/Accounts/" + record_id
    )

    record = client.create(
        "Accounts", {"name": "client id account"}, record_id=record_id
    )

    posts = [c for c in crm.api_calls() if c.request.method == "POST"]
    assert len(posts) == 2
    assert {sent_json(c)["data"]["id"] for c in posts} == {record_id}
    assert record.id == record_id and record.attributes["name"] == "client id account"
    assert crm.api_calls()[-1].request.method == "GET"


def test_each_retry_of_a_create_carries_the_same_generated_id(
    crm: FakeCRM, client: V8Client
) -> None:
    crm.mock.add(responses.POST, V8_URL + "/module", body="", status=502)
    crm.replay("A3")

    client.create("Accounts", {"name": "北京大盛科技有限公司"})

    ids = [sent_json(c)["data"]["id"] for c in crm.api_calls()]
    assert len(ids) == 2 and ids[0] == ids[1]


def test_first_create_meeting_an_existing_id_is_an_error(
    crm: FakeCRM, client: V8Client
) -> None:
    again = crm.transcript("F20")
    add_exchange(crm.mock, again)

    with pytest.raises(ApiError) as caught:
        client.create(
            "Accounts", {"name": "dup"}, record_id=again["request_body"]["data"]["id"]
        )

    assert "is already exist" in (caught.value.detail or "")
    assert len(crm.api_calls()) == 1


def test_delete_retried_after_a_lost_response_finds_the_record_gone(
    crm: FakeCRM, client: V8Client
) -> None:
    url = V8_URL + "/module/Accounts/95ac224b-31e6-4ffa-926b-edf06776f5d3"
    crm.mock.add(responses.DELETE, url, body=requests.ConnectionError("lost"))
    crm.replay("F5", method="DELETE")

    client.delete("Accounts", "95ac224b-31e6-4ffa-926b-edf06776f5d3")

    assert [c.request.method for c in crm.api_calls()] == ["DELETE", "DELETE"]


def test_logout_is_not_retried(
    crm: FakeCRM,
    client: V8Client,
    sleeps: list[float],
) -> None:
    crm.replay("A9")
    crm.mock.add(responses.POST, V8_URL + "/logout", body="", status=503)

    client.current_user()
    with pytest.raises(ApiError):
        client.logout()

    assert sleeps == []


def test_retry_after_beyond_the_time_budget_gives_up_at_once(
    crm: FakeCRM,
    make_client: Callable[..., V8Client],
    sleeps: list[float],
) -> None:
    crm.token()
    client = make_client(retry_budget_s=30.0)
    crm.mock.add(
        responses.GET, ACCOUNT_URL, body="", status=429, headers={"Retry-After": "120"}
    )

    with pytest.raises(ApiError) as caught:
        client.get("Accounts", ACCOUNT_ID)

    assert caught.value.status == 429 and caught.value.retriable is True
    assert "120 seconds" in str(caught.value)
    assert sleeps == [] and len(crm.api_calls()) == 1


def test_retry_after_longer_than_the_backoff_cap_is_honoured(
    crm: FakeCRM, client: V8Client, sleeps: list[float]
) -> None:
    crm.mock.add(
        responses.GET,
        ACCOUNT_URL,
        body="",
        status=503,
        headers={"Retry-After": str(BACKOFF_MAX_S * 3)},
    )
    crm.replay("A4")

    client.get("Accounts", ACCOUNT_ID)

    assert sleeps == [BACKOFF_MAX_S * 3]


def test_retries_stop_when_their_waiting_would_exceed_the_budget(
    crm: FakeCRM,
    make_client: Callable[..., V8Client],
    sleeps: list[float],
) -> None:
    crm.token()
    client = make_client(max_retries=50, backoff_base_s=1.0, retry_budget_s=20.0)
    crm.mock.add(responses.GET, ACCOUNT_URL, body="", status=503)

    with pytest.raises(ApiError):
        client.get("Accounts", ACCOUNT_ID)

    assert 0 < sum(sleeps) <= 20.0
    assert len(crm.api_calls()) == len(sleeps) + 1 < 51


def test_retry_after_as_an_http_date_is_understood(
    crm: FakeCRM, client: V8Client, sleeps: list[float]
) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    crm.mock.add(
        responses.GET,
        ACCOUNT_URL,
        body="",
        status=503,
        headers={"Retry-After": email.utils.format_datetime(when, usegmt=True)},
    )
    crm.replay("A4")

    client.get("Accounts", ACCOUNT_ID)

    assert len(sleeps) == 1 and BACKOFF_MAX_S < sleeps[0] <= 30
