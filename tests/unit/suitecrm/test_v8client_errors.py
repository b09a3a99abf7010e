"""Every error body shape SuiteCRM produces becomes the right error with its detail."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
import responses

from dscrm_bridge.errors import AccessDeniedError, ApiError, NotFoundError
from dscrm_bridge.suitecrm.v8client import V8Client

from .conftest import V8_URL, FakeCRM, add_exchange

ADMIN_ACCOUNT = "aa8b0b9e-c873-8b2b-848e-6b12dba5dc5a"
ACCOUNT = "c9bff6d9-3f0f-7fdd-d07f-6b12dba2de9f"
CONTACT = "b11a22c7-25b8-e6f4-aa3e-6b12db38bd61"

# step -> (the public call that makes the recorded request, error, answered at URL)
ERROR_STEPS: dict[str, tuple[Callable[[V8Client], object], type[ApiError], str]] = {
    "D3": (lambda c: c.get("Accounts", ADMIN_ACCOUNT), AccessDeniedError, ""),
    "D4": (
        lambda c: c.update("Accounts", ADMIN_ACCOUNT, {"description": "hacked"}),
        AccessDeniedError,
        "",
    ),
    "E19": (
        lambda c: c.list("Accounts", filters={"deleted": {"eq": "1"}}),
        NotFoundError,
        "",
    ),
    "F4": (lambda c: c.list("NoSuchModule"), NotFoundError, ""),
    "F5": (
        lambda c: c.get("Accounts", "95ac224b-31e6-4ffa-926b-edf06776f5d3"),
        NotFoundError,
        "",
    ),
    "F25": (
        lambda c: c.relate("Accounts", ACCOUNT, "nosuchlink", "Contacts", CONTACT),
        NotFoundError,
        "",
    ),
    "F27d": (
        lambda c: c.unrelate("Accounts", ACCOUNT, "contacts", CONTACT),
        NotFoundError,
        "",
    ),
    # Slim's own 404, e.g. a wrong API prefix.
    "F28": (lambda c: c.current_user(), NotFoundError, "/current-user"),
    "F6": (lambda c: c.get("Accounts", "not-an-id"), ApiError, ""),
    "F14": (
        lambda c: c.create("Accounts", {"name": "x", "no_such_field": "y"}),
        ApiError,
        "",
    ),
    "F29": (lambda c: c.update("Accounts", ACCOUNT, {}), ApiError, "/module"),
    "E6": (lambda c: c.list("Accounts", page_size=0), ApiError, ""),
}


@pytest.mark.parametrize("step", list(ERROR_STEPS), ids=list(ERROR_STEPS))
def test_recorded_error_answer_becomes_its_error_with_suitecrm_detail(
    crm: FakeCRM,
    client: V8Client,
    step: str,
) -> None:
    call, error, url = ERROR_STEPS[step]
    exchange = crm.transcript(step)
    add_exchange(
        crm.mock,
        exchange,
        method=None if not url else ("GET" if step == "F28" else "PATCH"),
        url=V8_URL + url if url else None,
    )
    body = exchange["response_body"]
    expected = body["errors"]["detail"] if "errors" in body else body["message"]

    with pytest.raises(ApiError) as caught:
        call(client)

    assert type(caught.value) is error
    assert caught.value.status == exchange["status"]
    assert caught.value.detail == expected.strip()
    assert expected in str(caught.value) or error is AccessDeniedError


def test_access_denied_on_get_by_id_is_access_denied_error(
    crm: FakeCRM, client: V8Client
) -> None:
    crm.replay("D3")

    with pytest.raises(AccessDeniedError) as caught:
        client.get("Accounts", "aa8b0b9e-c873-8b2b-848e-6b12dba5dc5a")

    assert caught.value.detail == "[SuiteCRM] [AccessDeniedException]"
    assert (
        caught.value.path == "/V8/module/Accounts/aa8b0b9e-c873-8b2b-848e-6b12dba5dc5a"
    )


def test_errors_given_as_an_array_are_all_kept(crm: FakeCRM, client: V8Client) -> None:
    recorded = crm.transcript.body("F14")["errors"]
    second = {**recorded, "detail": "Property other in Account module is invalid"}
    crm.mock.add(
        responses.POST,
        V8_URL + "/module",
        json={"errors": [recorded, second]},
        status=400,
    )

    with pytest.raises(ApiError) as caught:
        client.create("Accounts", {"name": "x", "no_such_field": "y"})

    assert caught.value.detail == (
        "Property no_such_field in Account module is invalid; "
        "Property other in Account module is invalid"
    )


def test_html_error_page_is_reduced_to_its_text(crm: FakeCRM, client: V8Client) -> None:
    page = (
        "<html><head><title>Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>"
        "<p>upstream &amp; php-fpm</p></body></html>"
    )
    crm.mock.add(
        responses.GET,
        V8_URL + "/module/Accounts",
        body=page,
        status=400,
        content_type="text/html",
    )

    with pytest.raises(ApiError) as caught:
        client.list("Accounts")

    assert caught.value.detail == "Bad Gateway 502 Bad Gateway upstream & php-fpm"


def test_empty_500_body_is_retried_then_reported_without_detail(
    crm: FakeCRM,
    client: V8Client,
    sleeps: list[float],
) -> None:
    crm.replay("F46")

    with pytest.raises(ApiError) as caught:
        client._call("GET", "/V8/listview/columns/Accounts")  # noqa: SLF001

    assert caught.value.status == 500 and caught.value.detail == ""
    assert caught.value.retriable is True
    assert len(crm.api_calls()) == 4 and len(sleeps) == 3


def test_success_answer_that_is_not_json_is_an_api_error(
    crm: FakeCRM, client: V8Client
) -> None:
    # Server fact 4: the legacy UI answers 200 with an HTML page.
    page = "<html><body>Possible Cross Site Request Forgery (XSRF) Attack Detected"
    crm.mock.add(responses.GET, V8_URL + "/current-user", body=page, status=200)

    with pytest.raises(ApiError) as caught:
        client.current_user()

    assert "not JSON" in str(caught.value)
    assert (
        caught.value.detail
        == "Possible Cross Site Request Forgery (XSRF) Attack Detected"
    )


def test_created_user_answer_with_trailing_text_is_a_success(
    crm: FakeCRM,
    client: V8Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    exchange = crm.replay("B8a")
    assert exchange["response_body"].endswith(
        "Provide both a User Name and an Email Address."
    )

    with caplog.at_level(logging.WARNING):
        user = client.create("Users", exchange["request_body"]["data"]["attributes"])

    assert user.id == "145a0e9f-3176-c90f-a994-6b12dbf3ab56"
    assert user.type == "User" and user.attributes["last_name"] == "NoEmail"
    assert "Provide both a User Name and an Email Address." in caplog.text


def _v8_error(detail: str, status: int = 400) -> dict[str, object]:
    """Q10's error shape: ``errors`` is one object, not an array."""
    return {"errors": {"status": status, "title": None, "detail": detail}}


DB_FAILURE = "Database failure. Please refer to suitecrm.log for details."


def _fail_listing_once(crm: FakeCRM, detail: str) -> None:
    crm.mock.add(
        responses.GET, V8_URL + "/module/Accounts", json=_v8_error(detail), status=400
    )


def test_database_failure_in_a_400_is_retried_then_reported_as_retriable(
    crm: FakeCRM, client: V8Client, sleeps: list[float]
) -> None:
    _fail_listing_once(crm, DB_FAILURE)

    with pytest.raises(ApiError) as caught:
        client.list("Accounts")

    assert type(caught.value) is ApiError
    assert caught.value.status == 400 and caught.value.retriable is True
    assert caught.value.detail == DB_FAILURE
    assert "suitecrm.log" in str(caught.value)
    assert len(crm.api_calls()) == 4 and len(sleeps) == 3


def test_database_failure_that_clears_is_a_success(
    crm: FakeCRM, client: V8Client
) -> None:
    _fail_listing_once(crm, DB_FAILURE)
    crm.replay("E9", url=V8_URL + "/module/Accounts")

    page = client.list("Accounts")

    assert len(page.records) == len(crm.transcript.body("E9")["data"])


def test_sql_error_of_a_custom_field_filter_is_fatal_and_explained(
    crm: FakeCRM, client: V8Client, sleeps: list[float]
) -> None:
    crm.replay("E22")

    with pytest.raises(ApiError) as caught:
        client.list("Accounts", fields=["name"], filters={"jjwg_maps_lat_c": "0"})

    assert caught.value.retriable is False and sleeps == []
    assert "custom" in str(caught.value)
    assert "accounts_cstm.jjwg_maps_lat_c" in str(caught.value)
    assert not isinstance(caught.value, NotFoundError)


def test_emoji_refused_by_a_utf8mb3_column_names_the_field(
    crm: FakeCRM, client: V8Client, sleeps: list[float]
) -> None:
    # What MariaDB says when 4-byte text meets a utf8mb3 column (server fact 2).
    detail = (
        "Incorrect string value: '\\xF0\\x9F\\x98\\x80' for column "
        "`suitecrm`.`accounts`.`name` at row 1"
    )
    crm.mock.add(responses.POST, V8_URL + "/module", json=_v8_error(detail), status=400)

    with pytest.raises(ApiError) as caught:
        client.create("Accounts", {"name": "大盛 😀"})

    assert "name" in str(caught.value) and "utf8mb4" in str(caught.value)
    assert caught.value.retriable is False and sleeps == []


def test_empty_error_body_is_an_error_without_detail(
    crm: FakeCRM, client: V8Client
) -> None:
    crm.mock.add(responses.GET, V8_URL + "/module/Accounts", body="", status=400)

    with pytest.raises(ApiError) as caught:
        client.list("Accounts")

    assert caught.value.detail == "" and caught.value.retriable is False
    assert "no details given" in str(caught.value)


def test_error_json_followed_by_text_keeps_the_json_detail(
    crm: FakeCRM, client: V8Client
) -> None:
    body = json.dumps(_v8_error("Module NoSuchModule does not exist"))
    crm.mock.add(
        responses.GET,
        V8_URL + "/module/NoSuchModule",
        body=body + "\nWarning: something in index.php",
        status=400,
    )

    with pytest.raises(NotFoundError) as caught:
        client.list("NoSuchModule")

    assert caught.value.detail == "Module NoSuchModule does not exist"


def test_database_failure_of_a_write_with_emoji_names_the_fields(
    crm: FakeCRM, client: V8Client
) -> None:
    # Server fact 2 on a strict utf8mb3 server: SuiteCRM only says it failed.
    crm.mock.add(
        responses.POST, V8_URL + "/module", json=_v8_error(DB_FAILURE), status=400
    )

    with pytest.raises(ApiError) as caught:
        client.create("Accounts", {"name": "大盛 😀", "industry": "Technology"})

    assert "name" in str(caught.value) and "industry" not in str(caught.value)
    assert "utf8mb4" in str(caught.value) and caught.value.retriable is False
    assert caught.value.detail == DB_FAILURE
