"""Paging over all records: total-pages and next links are not trusted (Q27/Q28)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from dscrm_bridge.errors import InputError
from dscrm_bridge.suitecrm.v8client import V8Client

from .conftest import V8_URL, FakeCRM

ACCOUNTS_URL = V8_URL + "/module/Accounts"


def _serve_pages(crm: FakeCRM, pages: dict[str, Any]) -> None:
    """Answer each page[number] with its body; any other number gets E5's no-result."""

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        query = dict(parse_qsl(urlsplit(request.url).query))
        body = pages.get(query.get("page[number]", "missing"), pages["beyond"])
        return 200, {"Content-Type": "application/vnd.api+json"}, json.dumps(body)

    crm.mock.add_callback(responses.GET, ACCOUNTS_URL, callback=answer)


def _page_numbers(crm: FakeCRM) -> list[str | None]:
    return [crm.query(n).get("page[number]") for n in range(len(crm.api_calls()))]


def test_iteration_stops_at_short_page_despite_lying_total_pages(
    crm: FakeCRM, client: V8Client
) -> None:
    first = crm.transcript.body("H11")
    assert first["meta"]["total-pages"] == 8  # Q28: counts rows user1 cannot see
    _serve_pages(crm, {"1": first, "2": crm.transcript.body("H11b"), "beyond": {}})

    records = list(client.iter_records("Accounts", fields=["name"], page_size=1))

    assert [r.attributes["name"] for r in records] == ["上海云启信息技术有限公司"]
    assert _page_numbers(crm) == ["1", "2"]


def test_iteration_walks_every_page_until_the_announced_last_page(
    crm: FakeCRM, client: V8Client
) -> None:
    pages = {
        "1": crm.transcript.body("E1"),
        "2": crm.transcript.body("E2"),
        "3": crm.transcript.body("E3"),
        "beyond": crm.transcript.body("E5"),
    }
    _serve_pages(crm, pages)

    records = list(client.iter_records("Accounts", sort="name", page_size=2))

    expected = [r["id"] for n in ("1", "2", "3") for r in pages[n]["data"]]
    assert [r.id for r in records] == expected
    # E3: next is null on page 3 and total-pages says 3: no fourth request.
    assert _page_numbers(crm) == ["1", "2", "3"]
    query = crm.query()
    assert query["sort"] == "name" and query["page[size]"] == "2"


def test_iteration_always_sends_a_sort_and_a_page_number(
    crm: FakeCRM, client: V8Client
) -> None:
    _serve_pages(
        crm, {"1": crm.transcript.body("H11"), "beyond": crm.transcript.body("E5")}
    )

    list(client.iter_records("Accounts", page_size=1))

    query = crm.query()
    assert query["sort"] == "id" and query["page[number]"] == "1"


def test_iteration_ends_when_server_repeats_the_same_page(
    crm: FakeCRM, client: V8Client
) -> None:
    same = crm.transcript.body("E4")
    # E4: without page[number] the next link points at page[number]=1, the same rows.
    assert same["links"]["next"].endswith("page[number]=1")
    _serve_pages(crm, {"beyond": same})

    records = list(client.iter_records("Accounts", page_size=2))

    assert [r.id for r in records] == [r["id"] for r in same["data"]]
    assert len(crm.api_calls()) == 2


def test_iteration_yields_each_id_once_when_rows_shift_between_pages(
    crm: FakeCRM, client: V8Client
) -> None:
    first, second = crm.transcript.body("E1"), crm.transcript.body("E2")
    second["data"][0] = first["data"][1]  # a row inserted before page 2 shifted it
    _serve_pages(crm, {"1": first, "2": second, "beyond": crm.transcript.body("E5")})

    ids = [r.id for r in client.iter_records("Accounts", page_size=2)]

    assert len(ids) == len(set(ids)) == 3


def test_iteration_stops_at_the_page_cap(crm: FakeCRM, client: V8Client) -> None:
    _serve_pages(
        crm,
        {
            "1": crm.transcript.body("E1"),
            "2": crm.transcript.body("E2"),
            "beyond": crm.transcript.body("E3"),
        },
    )

    records = list(client.iter_records("Accounts", page_size=2, max_pages=2))

    assert len(records) == 4 and _page_numbers(crm) == ["1", "2"]


def test_page_reports_total_pages_and_links_as_sent(
    crm: FakeCRM, client: V8Client
) -> None:
    _serve_pages(crm, {"1": crm.transcript.body("E1"), "beyond": {}})

    page = client.list(
        "Accounts", fields=["name"], sort="name", page_size=2, page_number=1
    )

    assert page.total_pages == 3 and page.number == 1 and page.size == 2
    assert page.links["next"] == crm.transcript.body("E1")["links"]["next"]
    assert [r.attributes["name"] for r in page.records][0] == "Acme Corp"


def test_page_size_below_one_is_refused(client: V8Client) -> None:
    with pytest.raises(InputError):
        list(client.iter_records("Accounts", page_size=0))


def _accounts(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"type": "Account", "id": f"acc-{n:03d}", "attributes": {"name": f"A{n}"}}
        for n in range(start, start + count)
    ]


def _capped_server(crm: FakeCRM, rows: int, cap: int) -> None:
    """A server that never returns more than ``cap`` rows a page (E1's shapes)."""

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        query = dict(parse_qsl(urlsplit(request.url).query))
        size = min(int(query["page[size]"]), cap)
        number = int(query["page[number]"])
        data = _accounts(
            max(0, min(size, rows - (number - 1) * size)), (number - 1) * size
        )
        last = -(-rows // size)
        body: dict[str, Any] = {"data": data}
        if data:
            nxt = f"V8/module/Accounts?page[size]={size}&page[number]={number + 1}"
            body["meta"] = {"total-pages": last, "records-on-this-page": len(data)}
            body["links"] = {"next": nxt if number < last else None}
        return 200, {"Content-Type": "application/vnd.api+json"}, json.dumps(body)

    crm.mock.add_callback(responses.GET, ACCOUNTS_URL, callback=answer)


def test_page_size_cap_is_noticed_and_paging_adapts_to_it(
    crm: FakeCRM, client: V8Client, caplog: pytest.LogCaptureFixture
) -> None:
    _capped_server(crm, rows=7, cap=3)

    records = list(client.iter_records("Accounts", page_size=10))

    assert [r.id for r in records] == [f"acc-{n:03d}" for n in range(7)]
    sizes = [crm.query(n)["page[size]"] for n in range(len(crm.api_calls()))]
    assert sizes == ["10", "3", "3"]
    assert _page_numbers(crm) == ["1", "2", "3"]
    assert "caps the page size" in caplog.text


def test_pages_without_meta_or_links_are_read_until_a_short_page(
    crm: FakeCRM, client: V8Client
) -> None:
    bare = {
        "1": {"data": _accounts(2)},
        "2": {"data": _accounts(2, 2)},
        "3": {"data": _accounts(1, 4)},
        "beyond": {"data": _accounts(2, 9)},  # never asked for
    }
    _serve_pages(crm, bare)

    records = list(client.iter_records("Accounts", page_size=2))

    assert [r.id for r in records] == [f"acc-{n:03d}" for n in range(5)]
    assert _page_numbers(crm) == ["1", "2", "3"]


def test_missing_next_link_is_not_trusted_when_total_pages_is_zero(
    crm: FakeCRM, client: V8Client
) -> None:
    # Q28 note: filtering on a custom field reports total-pages 0, so links
    # carry no next even though full pages keep coming.
    def page(start: int) -> dict[str, Any]:
        return {
            "data": _accounts(2, start),
            "meta": {"total-pages": 0, "records-on-this-page": 2},
            "links": {"first": None, "prev": None, "next": None, "last": None},
        }

    _serve_pages(crm, {"1": page(0), "2": page(2), "beyond": crm.transcript.body("E5")})

    records = list(client.iter_records("Accounts", page_size=2))

    assert len(records) == 4
    assert _page_numbers(crm) == ["1", "2", "3"]
