"""List parameters of the V8 API: sparse fieldsets, filters, sort and paging.

Q27 paging, Q28 the ACL-blind ``total-pages``, Q29 filters, Q30 deleted rows,
Q31 sort, Q32 sparse fieldsets; every error text is the recorded one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from dscrm_bridge.sandbox.acl import Actor
from dscrm_bridge.sandbox.modules import Module
from dscrm_bridge.sandbox.protocol import (
    AccessDenied,
    V8Error,
    parse_filter_datetime,
    parse_input_date,
)

_FILTER_KEY = re.compile(r"^filter\[([^\]]*)\](?:\[([^\]]*)\])?$")
# filter[<field>][<op>][...]: a value nested deeper than the operator.
_FILTER_TOO_DEEP = re.compile(r"^filter\[([^\]]*)\]\[([^\]]*)\]\[")
_OPERATORS = {
    "eq": lambda c, v: c == v,
    "neq": lambda c, v: c != v,
    "gt": lambda c, v: c > v,
    "gte": lambda c, v: c >= v,
    "lt": lambda c, v: c < v,
    "lte": lambda c, v: c <= v,
    "like": lambda c, v: c.like(v),
}

Params = list[tuple[str, str]]

# Larger page sizes or numbers are refused like malformed ones: their offset
# would not fit the database's integers.
PAGE_MAX = 2**31 - 1


@dataclass(frozen=True)
class Page:
    size: int
    number: int

    @property
    def offset(self) -> int:
        # Q27: page[number] 0 and 1 both give the first page.
        return max(self.number - 1, 0) * self.size


def parse_fields(module: Module, params: Params) -> list[str] | None:
    """Q32: ``fields[<Module>]=a,b`` in the module's attribute order; else all."""
    raw = next((v for k, v in params if k == f"fields[{module.name}]"), None)
    if raw is None:
        return None
    wanted = [name.strip() for name in raw.split(",") if name.strip()]
    # Q14: api-visible=false fields (user_hash ...) are known, just never shown;
    # B6b: other columns that are no field of the module are not found.
    missing = [
        name
        for name in wanted
        if name not in module.attributes and name not in module.hidden
    ]
    if len(missing) == 1:
        raise V8Error(
            f"The following field in {module.object_name} module is not found: "
            f"{missing[0]}",
            validation=True,
        )
    if missing:
        raise V8Error(
            f"The following fields in {module.object_name} module are not found: "
            + ", ".join(missing),
            validation=True,
        )
    # Q14: api-visible=false fields are silently dropped.
    return [n for n in module.output_attributes() if n in wanted]


def _column_for(
    module: Module, name: str, actor: Actor, clause: str, unknown: str
) -> sa.Column[Any]:
    column = module.column(name)
    if module.hidden and not actor.is_admin and name != "id":
        # Not copied from Q14/Q24: a non-admin may not probe hidden user fields.
        if column is not None and name not in module.output_attributes():
            raise AccessDenied()
    if column is not None:
        return column
    if name not in module.attributes:
        raise V8Error(unknown, validation=True)
    # Q29: non-db and custom fields reach the SQL and fail there.
    table = f"{module.table.name}_cstm" if name.endswith("_c") else module.table.name
    raise V8Error(f"Unknown column '{table}.{name}' in '{clause}'")


def _filter_value(column: sa.Column[Any], value: str) -> Any:
    if isinstance(column.type, sa.DateTime):
        parsed = parse_filter_datetime(value)
        if parsed is None:
            raise V8Error(f"Incorrect DATETIME value: '{value}'")
        return parsed
    if isinstance(column.type, sa.Date):
        parsed_date = parse_input_date(value[:10])
        if parsed_date is None:
            raise V8Error(f"Incorrect DATE value: '{value}'")
        return parsed_date
    if isinstance(column.type, (sa.Integer, sa.Float)):
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return value
    return value


@dataclass(frozen=True)
class Filter:
    clause: sa.ColumnElement[bool] | None
    touches_deleted: bool


def parse_filter(module: Module, params: Params, actor: Actor) -> Filter:
    """Q29: ``filter[<field>][<op>]=v``, ``filter[operator]=and|or`` over all."""
    conditions: list[sa.ColumnElement[bool]] = []
    operator = "and"
    touches_deleted = False
    for key, value in params:
        match = _FILTER_KEY.match(key)
        if not match:
            deep = _FILTER_TOO_DEEP.match(key)
            if deep:
                # Q29 answers a value that is not nested enough with a 400; one
                # nested too deep is refused the same way, not ignored.
                raise V8Error(
                    f"Filter operator {deep.group(2)} of field {deep.group(1)} "
                    "must have a single value",
                    validation=True,
                )
            continue
        name, op = match.group(1), match.group(2)
        if name == "operator" and op is None:
            operator = value.lower()
            continue
        if op is None:
            raise V8Error(f"Filter field {name} must be an array", validation=True)
        column = _column_for(
            module,
            name,
            actor,
            "WHERE",
            f"Filter field {name} in {module.object_name} module is not found",
        )
        builder = _OPERATORS.get(op.lower())
        if builder is None:
            raise V8Error(f"Filter operator {op} is invalid", validation=True)
        touches_deleted = touches_deleted or name == "deleted"
        conditions.append(builder(column, _filter_value(column, value)))
    if not conditions:
        return Filter(None, False)
    joined = sa.or_(*conditions) if operator == "or" else sa.and_(*conditions)
    return Filter(joined, touches_deleted)


def parse_sort(module: Module, params: Params, actor: Actor) -> list[Any]:
    """Q31: one field, ``-`` for descending; default order is by id."""
    raw = next((v for k, v in params if k == "sort"), None)
    table = module.table
    if not raw:
        return [table.c.id]
    name = raw.lstrip("-")
    column = _column_for(
        module,
        name,
        actor,
        "order clause",
        f"Sort field {name} in {module.object_name} module is not found",
    )
    ordered = column.desc() if raw.startswith("-") else column.asc()
    return [ordered, table.c.id]


def parse_page(params: Params) -> Page | None:
    """Q27: paging only with ``page[size]``; size 0 is refused."""
    values = dict(params)
    if "page[size]" not in values:
        return None
    size = _page_int("size", values["page[size]"], minimum=1)
    number = _page_int("number", values.get("page[number]", "0"), minimum=0)
    return Page(size=size, number=number)


def _page_int(name: str, value: str, *, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = minimum - 1
    if number < minimum or number > PAGE_MAX:
        raise V8Error(
            f'The option "{name}" with value "{value}" is invalid.', validation=True
        )
    return number


def total_pages(count: int, page: Page) -> int:
    return math.ceil(count / page.size) if count else 0


def page_links(
    base: str, params: Params, page: Page, pages: int
) -> dict[str, str | None]:
    """Q27: relative links without ``/Api/`` and with raw brackets (E1-E4)."""

    def link(number: int) -> str:
        parts: list[str] = []
        seen_page = False
        for key, value in params:
            if key.startswith("page["):
                if not seen_page:
                    parts.append(f"page[size]={page.size}")
                    parts.append(f"page[number]={number}")
                    seen_page = True
                continue
            parts.append(f"{key}={value}")
        return f"{base}?" + "&".join(parts)

    after = page.number < pages
    return {
        "first": link(1) if page.number > 1 else None,
        "prev": link(page.number - 1) if page.number > 1 else None,
        "next": link(page.number + 1) if after else None,
        "last": link(pages) if after else None,
    }
