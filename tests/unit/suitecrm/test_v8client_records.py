"""Records, relationships and meta: requests as recorded, answers decoded once."""

from __future__ import annotations

import base64
import datetime as dt
from urllib.parse import parse_qsl, urlsplit

import pytest

from dscrm_bridge.errors import ApiError, InputError
from dscrm_bridge.suitecrm.v8client import (
    V8Client,
    decode_entities,
    format_datetime,
    parse_datetime,
)

from .conftest import (
    BASE_URL,
    FakeCRM,
    Transcript,
    sent_json,
)

ACCOUNT = "c9bff6d9-3f0f-7fdd-d07f-6b12dba2de9f"


def test_create_sends_the_recorded_body_with_a_client_chosen_id(
    crm: FakeCRM, client: V8Client
) -> None:
    exchange = crm.replay("A3")
    attributes = exchange["request_body"]["data"]["attributes"]

    record = client.create("Accounts", attributes)

    sent = sent_json(crm.api_calls()[0])["data"]
    assert sent["type"] == "Accounts" and sent["attributes"] == attributes
    assert len(sent["id"]) == 36  # Q21: SuiteCRM keeps a client-chosen id
    assert (
        crm.api_calls()[0].request.headers["Content-Type"] == "application/vnd.api+json"
    )
    assert (
        record.type == "Account" and record.attributes["name"] == "北京大盛科技有限公司"
    )


def test_update_accepts_suitecrm_answering_201(crm: FakeCRM, client: V8Client) -> None:
    exchange = crm.replay("C5")
    data = exchange["request_body"]["data"]

    record = client.update(data["type"], data["id"], data["attributes"])

    assert exchange["status"] == 201
    assert sent_json(crm.api_calls()[0]) == exchange["request_body"]
    assert record.id == data["id"]
    assert (
        record.attributes["assigned_user_id"] == data["attributes"]["assigned_user_id"]
    )


def test_delete_sends_delete_of_the_record(crm: FakeCRM, client: V8Client) -> None:
    exchange = crm.replay("E18")

    client.delete("Accounts", "a5839289-6f60-cdf0-1698-6b12db6ac3ad")

    assert crm.api_calls()[0].request.method == "DELETE"
    assert crm.api_calls()[0].request.url == BASE_URL + exchange["path"]


def test_html_entities_in_attributes_are_decoded_exactly_once(
    crm: FakeCRM, client: V8Client
) -> None:
    crm.replay("H2b")

    record = client.get(
        "Accounts",
        "940aff0a-7981-e3c5-e53d-6b12db02beeb",
        fields=["name", "description"],
    )

    # Q13: tags were stripped from the varchar name on save; the text field keeps them.
    assert record.attributes["name"] == 'A&B "Q"  丁\'s 😀'
    assert record.attributes["description"] == "<b>bold</b> & 5 > 3"
    assert crm.query() == {"fields[Accounts]": "name,description"}


@pytest.mark.parametrize(
    ("sent", "decoded"),
    [
        ("Tom &amp; Jerry", "Tom &amp; Jerry"),
        ("&amp;lt;", "&amp;lt;"),
        ("&lt;b&gt; &quot;x&quot; &#039;y&#039;", "<b> \"x\" 'y'"),
        ("&#39; &nbsp;", "&#39; &nbsp;"),
    ],
    ids=["typed-amp-survives", "no-double-decoding", "four-entities", "others-kept"],
)
def test_decode_entities_decodes_only_what_suitecrm_encodes(
    sent: str, decoded: str
) -> None:
    assert decode_entities({"name": sent, "list": [sent]}) == {
        "name": decoded,
        "list": [decoded],
    }


def test_datetime_goes_out_as_utc_database_format() -> None:
    beijing = dt.timezone(dt.timedelta(hours=8))

    assert format_datetime(dt.datetime(2026, 12, 4, 23, 26, 30, tzinfo=beijing)) == (
        "2026-12-04 15:26:30"
    )
    with pytest.raises(InputError):
        format_datetime(dt.datetime(2026, 12, 4, 15, 26, 30))


def test_api_datetime_output_is_parsed_as_utc(transcript: Transcript) -> None:
    value = transcript.body("E12")["data"]["attributes"]["date_modified"]

    parsed = parse_datetime(value)

    assert parsed == dt.datetime(2026, 12, 4, 15, 26, tzinfo=dt.UTC)
    assert parse_datetime("") is None
    with pytest.raises(ApiError):
        parse_datetime("12/04/2026 15:26")


def test_datetime_filter_is_sent_in_database_format(
    crm: FakeCRM, client: V8Client
) -> None:
    exchange = crm.replay("E14")
    since = dt.datetime(2026, 12, 4, 15, 26, 30, tzinfo=dt.UTC)

    page = client.list(
        "Accounts",
        fields=["name", "date_modified"],
        filters={"date_modified": {"gt": since}},
    )

    recorded = dict(parse_qsl(urlsplit(exchange["path"]).query))
    assert crm.query() == {**recorded, "filter[operator]": "and"}
    assert [r.id for r in page.records] == [
        r["id"] for r in exchange["response_body"]["data"]
    ]


def test_or_filter_matches_the_recorded_query(crm: FakeCRM, client: V8Client) -> None:
    exchange = crm.replay("E9")

    client.list(
        "Accounts",
        fields=["name", "industry"],
        operator="or",
        filters={"name": "Acme Corp", "industry": {"eq": "Finance"}},
    )

    assert crm.query() == dict(parse_qsl(urlsplit(exchange["path"]).query))


def test_unknown_filter_operation_is_refused_before_sending(
    crm: FakeCRM, client: V8Client
) -> None:
    with pytest.raises(InputError):
        client.list("Accounts", filters={"name": {"in": "x"}})  # Q29: no "in"

    assert len(crm.mock.calls) == 0


def test_relate_posts_to_the_named_link(crm: FakeCRM, client: V8Client) -> None:
    exchange = crm.replay("F27b")
    related = exchange["request_body"]["data"]

    meta = client.relate(
        "Accounts", ACCOUNT, "contacts", related["type"], related["id"]
    )

    call = crm.api_calls()[0]
    assert (
        call.request.url
        == f"{BASE_URL}/Api/V8/module/Accounts/{ACCOUNT}/relationships/contacts"
    )
    assert sent_json(call) == exchange["request_body"]
    assert meta["relatedId"] == related["id"]


def test_unrelate_deletes_the_link_of_the_related_record(
    crm: FakeCRM, client: V8Client
) -> None:
    crm.replay("F27c")

    client.unrelate(
        "Accounts", ACCOUNT, "contacts", "b11a22c7-25b8-e6f4-aa3e-6b12db38bd61"
    )

    call = crm.api_calls()[0]
    assert call.request.method == "DELETE"
    assert call.request.url == (
        f"{BASE_URL}/Api/V8/module/Accounts/{ACCOUNT}/relationships/contacts/"
        "b11a22c7-25b8-e6f4-aa3e-6b12db38bd61"
    )


def test_relationships_page_carries_related_records(
    crm: FakeCRM, client: V8Client
) -> None:
    crm.replay("E21")

    page = client.relationships(
        "Accounts", ACCOUNT, "contacts", page_size=1, page_number=1
    )

    assert [r.id for r in page.records] == ["5de18f26-0d54-de68-f1f3-6b12db70b7d5"]
    assert page.meta["total-records"] == 1
    assert crm.query() == {"page[size]": "1", "page[number]": "1"}


def test_create_document_sends_filename_and_base64_contents(
    crm: FakeCRM, client: V8Client
) -> None:
    exchange = crm.replay("C13")
    recorded = exchange["request_body"]["data"]["attributes"]
    content = base64.b64decode(recorded["filecontents"])

    document = client.create_document(
        recorded["filename"],
        content,
        attributes={"document_name": recorded["document_name"]},
    )

    sent = sent_json(crm.api_calls()[0])["data"]
    assert sent["type"] == "Documents"
    assert sent["attributes"]["filecontents"] == recorded["filecontents"]
    assert sent["attributes"]["filename"] == "技术方案书.txt"
    assert document.attributes["document_name"] == "技术方案书"


def test_meta_modules_and_fields_return_their_attributes(
    crm: FakeCRM, client: V8Client
) -> None:
    crm.replay("A6")
    crm.replay("A7")

    modules = client.meta_modules()
    fields = client.meta_fields("Accounts")

    assert modules["Accounts"]["access"][0] == "access"
    assert fields["name"]["dbType"] == "varchar"


def test_current_user_is_the_signed_in_user(crm: FakeCRM, client: V8Client) -> None:
    crm.replay("C2")

    user = client.current_user()

    assert user.id == "1c41e1c9-e7f2-746b-4a45-6b12dbb0dd69"
    assert user.attributes["user_name"] == "user1"
