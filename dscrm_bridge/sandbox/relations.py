"""Relationship endpoints of the sandbox: list, relate and unrelate by link (Q33)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from starlette.responses import Response

from dscrm_bridge.sandbox import acl, query
from dscrm_bridge.sandbox.modules import EMPTY, Link, Module, find
from dscrm_bridge.sandbox.protocol import (
    AccessDenied,
    V8Error,
    check_id,
    jsonapi,
    no_result,
    utc_now,
)
from dscrm_bridge.sandbox.records import (
    Context,
    add_join_row,
    fetch,
    related_clause,
    require,
    resource,
)
from dscrm_bridge.suitecrm import tables as t


def _link(module: Module, name: str, *, writing: bool = False) -> Link:
    link = module.links.get(name)
    if link is None or (writing and link.kind == EMPTY):
        raise V8Error(
            f"Cannot load relationship {name} for {module.object_name} module",
            validation=True,
        )
    return link


def _target(link: Link) -> Module:
    target = find(link.module)
    assert target is not None, f"link {link.name} names an unknown module"
    return target


def list_related(
    ctx: Context, module: Module, record_id: str, link_name: str, params: query.Params
) -> Response:
    """``GET .../relationships/{link}`` with paging, filter and sort (Q33)."""
    link = _link(module, link_name)
    fetch(ctx, module, record_id)
    require(ctx, module, "view", record_id)
    if link.kind == EMPTY:
        return no_result()
    target = _target(link)
    names = query.parse_fields(target, params)
    where = query.parse_filter(target, params, ctx.actor)
    order = query.parse_sort(target, params, ctx.actor)
    page = query.parse_page(params)

    table = target.table
    conditions = [
        related_clause(module, record_id, link.name, target),
        table.c.deleted == 0,
        acl.record_clause(ctx.actor, target, "list"),
    ]
    if where.clause is not None:
        conditions.append(where.clause)
    total = ctx.conn.execute(
        sa.select(sa.func.count()).select_from(table).where(*conditions)
    ).scalar_one()
    stmt = sa.select(table).where(*conditions).order_by(*order)
    if page is not None:
        stmt = stmt.offset(page.offset).limit(page.size)
    rows = ctx.conn.execute(stmt).all()
    if not rows:
        return no_result()

    pages = query.total_pages(total, page) if page else 1
    body: dict[str, Any] = {
        "meta": {
            "total-records": total,
            "total-pages": pages,
            "records-on-this-page": len(rows),
        },
        "data": [resource(ctx, target, row, names=names, links="self") for row in rows],
    }
    if page is not None:
        base = f"V8/module/{module.name}/{record_id}/relationships/{link.name}"
        body["links"] = query.page_links(base, params, page, pages)
    return jsonapi(body)


def _related_from_body(body: Any) -> tuple[str, str]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise V8Error('The required option "data" is missing.', validation=True)
    for key in ("type", "id"):
        if not data.get(key):
            raise V8Error(f'The required option "{key}" is missing.', validation=True)
    return str(data["type"]), check_id(str(data["id"]))


def relate(
    ctx: Context, module: Module, record_id: str, link_name: str | None, body: Any
) -> Response:
    """``POST .../relationships[/{link}]``: by name, or the first link to the type."""
    related_type, related_id = _related_from_body(body)
    related_module = find(related_type)
    if related_module is None:
        raise V8Error(f"Module {related_type} does not exist", validation=True)
    if link_name is None:
        link = _first_link(module, related_module)
    else:
        link = _link(module, link_name, writing=True)
    fetch(ctx, module, record_id)
    fetch(ctx, related_module, related_id)
    _require_relate(ctx, module, record_id, link, related_id)

    _add(ctx, module, record_id, link, related_id)
    if link_name is None:
        message = (
            f"{related_module.object_name} with id {related_id} has been added to "
            f"{module.object_name} with id {record_id}"
        )
        return jsonapi({"meta": {"message": message}, "data": []}, 201)
    meta = {
        "message": (
            f"{related_module.label} record with id {related_id} has been related to "
            f"{module.label} record with id {record_id} using link {link.name}"
        ),
        "sourceModule": module.name,
        "sourceModuleLabel": module.label,
        "sourceId": record_id,
        "relatedModule": related_module.name,
        "relatedModuleLabel": related_module.label,
        "relatedId": related_id,
        "relationshipLink": link.name,
    }
    return jsonapi({"meta": meta, "data": []}, 201)


def _first_link(module: Module, related: Module) -> Link:
    for link in module.links.values():
        if link.module == related.name:
            return link
    raise V8Error(
        f"Relationship between {module.name} and {related.name} is not found",
        validation=True,
    )


def _require_relate(
    ctx: Context, module: Module, record_id: str, link: Link, related_id: str
) -> None:
    actor = ctx.actor
    if actor.is_admin:
        return
    if module.admin_only_write or module.read_only:
        raise AccessDenied()
    require(ctx, module, "edit", record_id)
    # A member may file records only under groups they belong to.
    if link.kind == "records" and related_id not in actor.group_ids:
        raise AccessDenied()
    target = _target(link)
    if not target.admin_only_write:
        require(ctx, target, "view", related_id)


def _add(
    ctx: Context, module: Module, record_id: str, link: Link, related_id: str
) -> None:
    target = _target(link)
    if link.kind == "own":
        table = module.table
        ctx.conn.execute(
            table.update()
            .where(table.c.id == record_id)
            .values({str(link.field): related_id})
        )
        return
    if link.kind in ("parent", "field"):
        table = target.table
        values = (
            {"parent_type": module.name, "parent_id": record_id}
            if link.kind == "parent"
            else {str(link.field): record_id}
        )
        ctx.conn.execute(
            table.update().where(table.c.id == related_id).values(**values)
        )
        return
    if link.kind == "records":
        if related_id in acl.record_groups(ctx.conn, module.name, record_id):
            return
        ctx.conn.execute(
            t.securitygroups_records.insert().values(
                id=str(uuid.uuid4()),
                securitygroup_id=related_id,
                record_id=record_id,
                module=module.name,
                date_modified=dt.datetime.combine(utc_now().date(), dt.time()),
                deleted=0,
            )
        )
        return
    join = t.metadata.tables[str(link.table)]
    mine = sa.and_(
        join.c[str(link.self_column)] == record_id,
        join.c[str(link.other_column)] == related_id,
        join.c.deleted == 0,
    )
    if ctx.conn.execute(sa.select(join.c.id).where(mine)).first() is not None:
        return
    add_join_row(
        ctx,
        join,
        {str(link.self_column): record_id, str(link.other_column): related_id},
    )


def unrelate(
    ctx: Context, module: Module, record_id: str, link_name: str, related_id: str
) -> Response:
    """``DELETE .../relationships/{link}/{id}``: soft-deletes the join row (Q33)."""
    link = _link(module, link_name, writing=True)
    check_id(related_id)
    fetch(ctx, module, record_id)
    _require_relate(ctx, module, record_id, link, related_id)
    target = _target(link)

    if not _remove(ctx, module, record_id, link, target, related_id):
        raise V8Error(
            f"Module with {related_id} id is not related to {module.object_name}"
        )
    message = (
        f"Relationship has been deleted between {module.object_name} with id "
        f"{record_id} and {target.object_name} with id {related_id}"
    )
    return jsonapi({"meta": {"message": message}, "data": []})


def _remove(
    ctx: Context,
    module: Module,
    record_id: str,
    link: Link,
    target: Module,
    related_id: str,
) -> bool:
    now = utc_now()
    if link.kind == "own":
        table = module.table
        result = ctx.conn.execute(
            table.update()
            .where(table.c.id == record_id, table.c[str(link.field)] == related_id)
            .values({str(link.field): None})
        )
        return result.rowcount > 0
    if link.kind in ("parent", "field"):
        table = target.table
        related = related_clause(module, record_id, link.name, target)
        cleared = (
            {"parent_type": None, "parent_id": None}
            if link.kind == "parent"
            else {str(link.field): None}
        )
        result = ctx.conn.execute(
            table.update().where(table.c.id == related_id, related).values(**cleared)
        )
        return result.rowcount > 0
    if link.kind == "records":
        sgr = t.securitygroups_records
        result = ctx.conn.execute(
            sgr.update()
            .where(
                sgr.c.record_id == record_id,
                sgr.c.module == module.name,
                sgr.c.securitygroup_id == related_id,
                sgr.c.deleted == 0,
            )
            .values(deleted=1, date_modified=now)
        )
        return result.rowcount > 0
    join = t.metadata.tables[str(link.table)]
    result = ctx.conn.execute(
        join.update()
        .where(
            join.c[str(link.self_column)] == record_id,
            join.c[str(link.other_column)] == related_id,
            join.c.deleted == 0,
        )
        .values(deleted=1, date_modified=now)
    )
    return result.rowcount > 0
