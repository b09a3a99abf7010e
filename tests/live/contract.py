"""The V8 client's contract with a SuiteCRM server, as plain functions of a target.

Each contract takes a :class:`Scratch`: a signed-in client of the target that
names every record it creates with one unique prefix and deletes them all when
closed.  The same contracts run against a real SuiteCRM (``-m live``) and the
sandbox (every normal run).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from dscrm_bridge.errors import ApiError, InputError, NotFoundError
from dscrm_bridge.suitecrm.check import Status, run_checks
from dscrm_bridge.suitecrm.v8client import (
    PREFIX_CANDIDATES,
    Record,
    V8Client,
    parse_datetime,
)

# Chinese, spaces, quotes, &, =, ' and a 4-byte emoji (the issue's list).
TRICKY = "大盛 \"引号\" & A=B 'x' 😀"


@dataclass(frozen=True)
class LiveTarget:
    """A SuiteCRM to test against. Holds secrets: never log it."""

    base_url: str
    client_id: str
    client_secret: str
    username: str
    password: str
    db_url: Any = None
    api_prefix: str = "auto"

    def __repr__(self) -> str:
        return f"LiveTarget({self.base_url!r}, username={self.username!r})"

    def client(self) -> V8Client:
        return V8Client(
            self.base_url,
            client_id=self.client_id,
            client_secret=self.client_secret,
            username=self.username,
            password=self.password,
            api_prefix=self.api_prefix,
        )


@dataclass
class Scratch:
    """A client plus the records it made, all named ``<prefix> ...``."""

    target: LiveTarget
    client: V8Client
    prefix: str = field(default_factory=lambda: f"dscrm-live-{uuid.uuid4().hex[:10]}")
    created: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    @contextmanager
    def opened(cls, target: LiveTarget) -> Iterator[Scratch]:
        with target.client() as client:
            scratch = cls(target, client)
            try:
                yield scratch
            finally:
                scratch.clean_up()

    def name(self, text: str) -> str:
        return f"{self.prefix} {text}"

    def create(self, module: str, attributes: dict[str, Any]) -> Record:
        """Create under a chosen id, remembered first so that it is always deleted."""
        record_id = str(uuid.uuid4())
        self.created.append((module, record_id))
        return self.client.create(module, attributes, record_id=record_id)

    def clean_up(self) -> None:
        for module, record_id in reversed(self.created):
            try:
                self.client.delete(module, record_id)
            except NotFoundError:
                pass  # never stored (a refused create) or already gone


def signs_in_as_the_named_user(scratch: Scratch) -> None:
    user = scratch.client.verify_identity()

    assert str(user.get("user_name")).casefold() == scratch.target.username.casefold()
    assert scratch.client.reachable_prefix() in PREFIX_CANDIDATES


def text_round_trips_or_fails_naming_the_field(scratch: Scratch) -> None:
    name = scratch.name(TRICKY)
    try:
        created = scratch.create("Accounts", {"name": name, "description": TRICKY})
    except ApiError as exc:
        # A utf8mb3 server cannot keep the emoji: the error must say where.
        assert "name" in str(exc) or "description" in str(exc)
        return

    read = scratch.client.get("Accounts", created.id, fields=["name", "description"])
    found = scratch.client.list(
        "Accounts", fields=["name"], filters={"name": {"eq": name}}
    )

    assert created.attributes["name"] == read.attributes["name"] == name
    assert read.attributes["description"] == TRICKY
    assert [r.id for r in found.records] == [created.id]


def update_answers_with_the_changed_record(scratch: Scratch) -> None:
    account = scratch.create("Accounts", {"name": scratch.name("更新前")})

    updated = scratch.client.update(
        "Accounts", account.id, {"name": scratch.name("更新后")}
    )

    assert updated.id == account.id
    assert scratch.client.get("Accounts", account.id).get("name") == scratch.name(
        "更新后"
    )


def paging_yields_every_record_once(scratch: Scratch) -> None:
    made = {
        scratch.create("Accounts", {"name": scratch.name(f"分页 {n}")}).id
        for n in range(5)
    }

    seen = [
        record.id
        for record in scratch.client.iter_records(
            "Accounts",
            fields=["name"],
            filters={"name": {"like": scratch.prefix + "%"}},
            sort="name",
            page_size=2,
        )
    ]

    assert sorted(seen) == sorted(made)


def datetimes_are_written_in_utc_and_read_to_the_minute(scratch: Scratch) -> None:
    beijing = dt.timezone(dt.timedelta(hours=8))
    start = dt.datetime(2027, 1, 15, 10, 30, 45, tzinfo=beijing)

    meeting = scratch.create(
        "Meetings",
        {
            "name": scratch.name("方案交流会"),
            "date_start": start,
            "duration_hours": "1",
            "duration_minutes": "0",
        },
    )
    read = scratch.client.get("Meetings", meeting.id, fields=["date_start"])

    # Q16: the API zeroes the seconds; Q17: anything but UTC Y-m-d H:i:s is NULL.
    assert parse_datetime(read.get("date_start")) == start.replace(second=0)


def relationships_follow_suitecrm(scratch: Scratch) -> None:
    account = scratch.create("Accounts", {"name": scratch.name("客户")})
    contact = scratch.create(
        "Contacts", {"first_name": "五", "last_name": scratch.name("王")}
    )
    note = scratch.create("Notes", {"name": scratch.name("拜访记录")})

    scratch.client.relate_records("Accounts", account.id, "Contacts", contact.id)
    scratch.client.relate_records("Accounts", account.id, "Notes", note.id)

    contacts = scratch.client.relationships("Accounts", account.id, "contacts")
    notes = scratch.client.relationships("Accounts", account.id, "notes")
    stored = scratch.client.get("Notes", note.id, fields=["parent_type", "parent_id"])
    assert [r.id for r in contacts.records] == [contact.id]
    assert [r.id for r in notes.records] == [note.id]
    assert (stored.get("parent_type"), stored.get("parent_id")) == (
        "Accounts",
        account.id,
    )


def errors_are_typed(scratch: Scratch) -> None:
    with pytest.raises(NotFoundError):
        scratch.client.get("Accounts", str(uuid.uuid4()))
    with pytest.raises(NotFoundError):
        scratch.client.list("NoSuchModule")
    with pytest.raises(InputError):
        scratch.client.list("Accounts", filters={"name": {"in": "x"}})


def database_checks_pass(scratch: Scratch) -> None:
    if not scratch.target.db_url:
        pytest.skip("no database given for the SQL checks")

    report = run_checks(scratch.target.client, database_url=scratch.target.db_url)

    found = {result.key: result.status for result in report.results}
    assert found["api"] is Status.OK and found["token"] is Status.OK
    assert found["identity"] is Status.OK
    assert found["database"] is Status.OK and found["tables"] is Status.OK
    assert found["charset"] is not Status.FAIL


CONTRACTS: dict[str, Callable[[Scratch], None]] = {
    contract.__name__: contract
    for contract in (
        signs_in_as_the_named_user,
        text_round_trips_or_fails_naming_the_field,
        update_answers_with_the_changed_record,
        paging_yields_every_record_once,
        datetimes_are_written_in_utc_and_read_to_the_minute,
        relationships_follow_suitecrm,
        errors_are_typed,
        database_checks_pass,
    )
}
