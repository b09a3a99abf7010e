"""What the sandbox knows about each SuiteCRM module, loaded from data.

``data/modules.json`` describes every module the sandbox serves: its table in
:mod:`dscrm_bridge.suitecrm.tables`, the bean object name used as ``data.type``
(Q7), the ordered attribute list a real 7.13 answered with (taken from the
recorded transcript), the ``relationships`` object it shows and the links that
can be read and written.  Adding a module is adding an entry there.

NOTE: the transcript holds no answer of Calls, Tasks, Leads or Cases; their
attribute lists are the table's columns in table order after the usual stamps,
plus the computed names (parent, contact, account) a client reads, not a
recorded 7.13 answer.

An attribute entry is ``null`` for a column of the module's table, ``"@..."``
for a value computed from other rows (see :mod:`dscrm_bridge.sandbox.records`)
and any other JSON value for a constant that SuiteCRM answers for a non-db field.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dscrm_bridge.suitecrm import tables

DATA_DIR = Path(__file__).parent / "data"
EMPTY = "empty"


@dataclass(frozen=True)
class Link:
    """One link (relationship name) of a module."""

    name: str
    module: str
    # join: a join table; parent: parent_type/parent_id of the related row;
    # records: securitygroups_records; field: a column of the related row holds
    # this record's id; own: a column of this record holds the related id;
    # empty: a module outside the sandbox, never related to anything.
    kind: str
    table: str | None = None
    self_column: str | None = None
    other_column: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class Module:
    """One module: its table, object name, attributes and links."""

    name: str
    object_name: str
    label: str
    table: sa.Table
    acl_category: str | None
    attributes: dict[str, Any]
    relationships: dict[str, str]
    links: dict[str, Link]
    hidden: frozenset[str] = field(default_factory=frozenset)
    security_module: bool = False
    admin_only_write: bool = False
    read_only: bool = False
    feed: str | None = None
    vardefs: dict[str, Any] | None = None

    def column(self, name: str) -> sa.Column[Any] | None:
        """The table column called ``name``, if there is one."""
        return self.table.c.get(name)

    def output_attributes(self, *, include_hidden: bool = False) -> list[str]:
        """Attribute names in answer order; hidden ones only when asked (Q14)."""
        return [
            name
            for name in self.attributes
            if include_hidden or name not in self.hidden
        ]

    def writable(self, name: str) -> bool:
        """Whether ``name`` is accepted in a create or update body (Q20)."""
        return name in self.attributes or name in self.table.c


def _link(name: str, raw: dict[str, Any]) -> Link:
    return Link(
        name=name,
        module=raw["module"],
        kind=raw["kind"],
        table=raw.get("table"),
        self_column=raw.get("self"),
        other_column=raw.get("other"),
        field=raw.get("field"),
    )


def _module(name: str, raw: dict[str, Any]) -> Module:
    links = {key: _link(key, value) for key, value in raw.get("links", {}).items()}
    for related, link in raw["relationships"].items():
        # A recorded link to a module the sandbox does not have (AOS_*, Emails
        # ...) is shown as SuiteCRM shows it and answers that nothing is related.
        links.setdefault(link, Link(name=link, module=related, kind=EMPTY))
    return Module(
        name=name,
        object_name=raw["object"],
        label=raw["label"],
        table=tables.metadata.tables[raw["table"]],
        acl_category=raw.get("acl_category"),
        attributes=dict(raw["attributes"]),
        relationships=dict(raw["relationships"]),
        links=links,
        hidden=frozenset(raw.get("hidden", [])),
        security_module=bool(raw.get("security_module")),
        admin_only_write=bool(raw.get("admin_only_write")),
        read_only=bool(raw.get("read_only")),
        feed=raw.get("feed"),
        vardefs=raw.get("vardefs"),
    )


@functools.cache
def _load() -> dict[str, Any]:
    with (DATA_DIR / "modules.json").open(encoding="utf-8") as handle:
        return json.load(handle)  # type: ignore[no-any-return]


@functools.cache
def registry() -> dict[str, Module]:
    """Every module the sandbox serves, by module name."""
    raw = _load()["modules"]
    return {name: _module(name, entry) for name, entry in raw.items()}


def meta_modules() -> dict[str, Any]:
    """The fixed module list of ``GET /V8/meta/modules`` (Q36)."""
    return dict(_load()["meta_modules"])


def find(name: str) -> Module | None:
    """The module called ``name`` (module name, as in requests), if served."""
    return registry().get(name)


def by_table(table_name: str) -> Module | None:
    """The module stored in ``table_name``."""
    for module in registry().values():
        if module.table.name == table_name:
            return module
    return None


@functools.cache
def default_acl_actions() -> list[tuple[str, str, int]]:
    """The installer's ``acl_actions`` rows as ``(category, action, aclaccess)``."""
    with (DATA_DIR / "acl_actions.json").open(encoding="utf-8") as handle:
        raw = json.load(handle)
    return [(row[0], row[1], int(row[2])) for row in raw["acl_actions"]]


@functools.cache
def default_config() -> list[tuple[str, str, str]]:
    """The installer's ``config`` rows, sugarfeed settings included (Q38)."""
    with (DATA_DIR / "acl_actions.json").open(encoding="utf-8") as handle:
        raw = json.load(handle)
    return [(row[0], row[1], row[2]) for row in raw["config"]]
