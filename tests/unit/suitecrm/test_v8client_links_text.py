"""Links resolved from vardefs, parents of activities, text and filters as meant."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from dscrm_bridge.errors import ApiError, InputError
from dscrm_bridge.suitecrm.v8client import V8Client

from .conftest import BASE_URL, V8_URL, FakeCRM, sent_json

ACCOUNT = "c9bff6d9-3f0f-7fdd-d07f-6b12dba2de9f"
CONTACT = "b11a22c7-25b8-e6f4-aa3e-6b12db38bd61"
NOTE = "5f1c9a1e-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("related", "link"),
    [
        ("Contacts", "contacts"),
        ("Notes", "notes"),
        ("Opportunities", "opportunities"),
        ("Documents", "documents"),
        ("AOS_Quotes", "aos_quotes"),
    ],
    ids=["contacts", "notes", "opportunities", "documents", "by-relationship"],
)
def test_link_name_is_read_from_the_vardefs(
    crm: FakeCRM, client: V8Client, related: str, link: str
) -> None:
    crm.replay("A7")  # meta/fields/Accounts: 26 fields of type link

    assert client.link_name("Accounts", related) == link


def test_vardefs_are_read_once_for_many_resolutions(
    crm: FakeCRM, client: V8Client
) -> None:
    crm.replay("A7")

    client.link_name("Accounts", "Contacts")
    client.link_name("Accounts", "Documents")
    client.link_name("Accounts", "Contacts")

    assert len(crm.api_calls()) == 1


def test_unknown_link_target_is_refused_listing_the_links(
    crm: FakeCRM, client: V8Client
) -> None:
    crm.replay("A7")

    with pytest.raises(InputError) as caught:
        client.link_name("Accounts", "Spaceships")

    assert "contacts" in str(caught.value) and "Spaceships" in str(caught.value)


def test_relate_records_posts_to_the_resolved_link(
    crm: FakeCRM, client: V8Client
) -> None:
    crm.replay("A7")
    exchange = crm.replay("F27b")

    client.relate_records("Accounts", ACCOUNT, "Contacts", CONTACT)

    call = crm.api_calls()[-1]
    assert call.request.url == (
        f"{BASE_URL}/Api/V8/module/Accounts/{ACCOUNT}/relationships/contacts"
    )
    assert sent_json(call) == exchange["request_body"]


@pytest.mark.parametrize(
    ("module", "record", "related", "related_id"),
    [
        ("Accounts", ACCOUNT, "Notes", NOTE),
        ("Notes", NOTE, "Accounts", ACCOUNT),
    ],
    ids=["parent-first", "child-first"],
)
def test_note_is_related_by_parent_type_and_parent_id(
    crm: FakeCRM,
    client: V8Client,
    module: str,
    record: str,
    related: str,
    related_id: str,
) -> None:
    # C9/C10: a Note carrying parent_type/parent_id shows under the parent's notes.
    answer = crm.transcript.body("C9")
    answer["data"]["id"] = NOTE
    crm.mock.add(responses.PATCH, V8_URL + "/module", json=answer, status=201)

    client.relate_records(module, record, related, related_id)

    call = crm.api_calls()[-1]
    assert call.request.method == "PATCH"
    assert sent_json(call)["data"] == {
        "type": "Notes",
        "id": NOTE,
        "attributes": {"parent_type": "Accounts", "parent_id": ACCOUNT},
    }


TRICKY = "北京 \"大盛\" & 'A=B' 😀"


def test_tricky_text_goes_out_unchanged_and_comes_back_equal(
    crm: FakeCRM, client: V8Client
) -> None:
    # Q13: the server answers with &quot; and &#039; (not &amp;); decoded once.
    encoded = TRICKY.replace('"', "&quot;").replace("'", "&#039;")
    answer = {"data": {"type": "Account", "id": "x", "attributes": {"name": encoded}}}
    crm.mock.add(responses.POST, V8_URL + "/module", json=answer, status=201)
    crm.mock.add(
        responses.GET, V8_URL + "/module/Accounts", json={"data": [answer["data"]]}
    )

    record = client.create("Accounts", {"name": TRICKY})
    page = client.list("Accounts", filters={"name": TRICKY})

    sent = crm.api_calls()[0].request.body
    assert json.loads(sent)["data"]["attributes"]["name"] == TRICKY
    assert "😀".encode() in sent  # raw UTF-8, no \\u escapes
    query = dict(parse_qsl(urlsplit(crm.api_calls()[1].request.url).query))
    assert query["filter[name][eq]"] == TRICKY
    assert record.attributes["name"] == TRICKY == page.records[0].attributes["name"]


def _answer_with(name: str) -> dict[str, Any]:
    return {"data": {"type": "Account", "id": "x", "attributes": {"name": name}}}


def test_text_cut_at_the_first_emoji_is_an_error_naming_the_field(
    crm: FakeCRM, client: V8Client
) -> None:
    # A utf8mb3 column in non-strict mode keeps the text up to the emoji only.
    crm.mock.add(
        responses.POST, V8_URL + "/module", json=_answer_with("大盛 "), status=201
    )

    with pytest.raises(ApiError) as caught:
        client.create("Accounts", {"name": "大盛 😀 科技"})

    assert "name" in str(caught.value) and "utf8mb4" in str(caught.value)


def test_text_cut_to_the_column_length_is_an_error(
    crm: FakeCRM, client: V8Client
) -> None:
    crm.mock.add(
        responses.POST, V8_URL + "/module", json=_answer_with("x" * 150), status=201
    )

    with pytest.raises(ApiError) as caught:
        client.create("Accounts", {"name": "x" * 200})

    assert "name" in str(caught.value) and "150" in str(caught.value)


def test_tags_stripped_by_suitecrm_are_not_an_error(
    crm: FakeCRM, client: V8Client
) -> None:
    # Q13/H2: tags vanish from varchar fields on save; that is SuiteCRM's rule.
    crm.mock.add(
        responses.POST, V8_URL + "/module", json=_answer_with("A B"), status=201
    )

    record = client.create("Accounts", {"name": "A <x>B"})

    assert record.attributes["name"] == "A B"


def test_broken_surrogate_is_refused_naming_the_field(
    crm: FakeCRM, client: V8Client
) -> None:
    with pytest.raises(InputError) as caught:
        client.create("Accounts", {"name": "ok", "description": "bad \ud83d"})

    assert "description" in str(caught.value)
    assert crm.api_calls() == []


@pytest.mark.parametrize(
    "condition",
    [None, ["a", "b"], {"eq": None}, {"eq": {"nested": 1}}, {"in": "a"}],
    ids=["null", "list", "eq-null", "nested", "in"],
)
def test_filters_suitecrm_cannot_run_are_refused_before_sending(
    crm: FakeCRM, client: V8Client, condition: Any
) -> None:
    with pytest.raises(InputError) as caught:
        client.list("Accounts", filters={"industry": condition})

    assert "industry" in str(caught.value)
    assert crm.api_calls() == []


def test_filter_operator_other_than_and_or_is_refused(
    crm: FakeCRM, client: V8Client
) -> None:
    with pytest.raises(InputError):
        client.list("Accounts", filters={"name": "x"}, operator="xor")

    assert crm.api_calls() == []
