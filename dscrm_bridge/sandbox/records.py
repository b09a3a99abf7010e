"""Records of the sandbox: reading them as V8 resources and writing them as a bean save.

A write does what SuiteCRM's save does around the row itself: timestamps and
acting user (Q19: client values win), security-group inheritance (Q37), the
SugarFeed row of Contacts and Opportunities (Q38), document revisions and
uploaded files (Q25), the account link of an Opportunity (Q26), the next case
number of a Case.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import decimal
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dscrm_bridge.sandbox import acl
from dscrm_bridge.sandbox.acl import Actor
from dscrm_bridge.sandbox.modules import Module, find
from dscrm_bridge.sandbox.protocol import (
    DATABASE_FAILURE,
    TEXT_MAX_BYTES,
    AccessDenied,
    V8Error,
    check_id,
    encode_text,
    format_date,
    format_datetime,
    format_display_datetime,
    parse_input_date,
    parse_input_datetime,
    strip_tags,
    utc_now,
)
from dscrm_bridge.suitecrm import tables as t

logger = logging.getLogger(__name__)

FEED_PREFIX = "<b>{this.CREATED_BY}</b> "
FEED_NAME_LEN = 255
FEED_DESCRIPTION_LEN = 510
BASE_CURRENCY = ("-99", "US Dollars", "$")


@dataclass
class Context:
    """One request's connection, acting user, upload directory and caches."""

    conn: sa.Connection
    actor: Actor
    upload_dir: Path
    # F38/F40: a PATCH answer shows some flags as text, unlike create and read.
    after_update: bool = False
    _names: dict[tuple[str, str], str] = field(default_factory=dict)


# --- reading -----------------------------------------------------------------


def fetch(ctx: Context, module: Module, record_id: str) -> sa.Row[Any]:
    """The live row ``record_id`` of ``module`` (Q30: deleted rows do not exist)."""
    check_id(record_id)
    table = module.table
    row = ctx.conn.execute(
        sa.select(table).where(table.c.id == record_id, table.c.deleted == 0)
    ).first()
    if row is None:
        raise V8Error(f"{module.name} module with id {record_id} is not found")
    return row


def require(ctx: Context, module: Module, action: str, record_id: str) -> None:
    """Raise AccessDenied unless the actor may ``action`` the record (Q36)."""
    if not acl.can(ctx.conn, ctx.actor, module, action, record_id):
        raise AccessDenied()


def resource(
    ctx: Context,
    module: Module,
    row: sa.Row[Any],
    *,
    names: list[str] | None = None,
    links: str = "module",
    include_hidden: bool = False,
    display_dates: bool = False,
) -> dict[str, Any]:
    """One record as a JSON:API resource object.

    ``links`` picks the URL style of Q8: ``module`` for reads, ``short`` for the
    answer of a create or update, ``current_user`` and ``self`` (relationship items).
    """
    record_id = str(row.id)
    wanted = (
        names
        if names is not None
        else module.output_attributes(include_hidden=include_hidden)
    )
    attributes = {
        name: _attribute(ctx, module, row, name, display_dates) for name in wanted
    }
    body: dict[str, Any] = {
        "type": module.object_name,
        "id": record_id,
        "attributes": attributes,
    }
    if links == "self":
        body["links"] = {"self": f"V8/module/{module.object_name}/{record_id}"}
        return body
    prefix = {
        "module": f"V8/module/{module.name}/{record_id}/relationships/",
        "short": f"V8/module/{record_id}/relationships/",
        "current_user": "V8/current-user/relationships/",
    }[links]
    # H3: a module without relationships shows an empty array (PHP's []).
    body["relationships"] = {
        related: {"links": {"related": prefix + link}}
        for related, link in module.relationships.items()
    } or []
    return body


def _attribute(
    ctx: Context, module: Module, row: sa.Row[Any], name: str, display: bool
) -> Any:
    spec = module.attributes.get(name)
    if spec is None and name in row._mapping:
        value = _column_text(row._mapping[name], display)
    elif isinstance(spec, str) and spec.startswith("@"):
        value = _computed(ctx, module, row, name, spec[1:], display)
    else:
        return copy.deepcopy(spec)
    return encode_text(value) if isinstance(value, str) else value


def _column_text(value: Any, display: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return format_display_datetime(value) if display else format_datetime(value)
    if isinstance(value, dt.date):
        return format_date(value)
    if isinstance(value, (float, decimal.Decimal)):
        return f"{value:.15g}"
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _computed(
    ctx: Context,
    module: Module,
    row: sa.Row[Any],
    name: str,
    spec: str,
    display: bool,
) -> Any:
    kind, _, arg = spec.partition(":")
    values = row._mapping
    if kind == "bool":
        return bool(values[name])
    if kind == "bool_or_text":
        # /current-user and PATCH answers show the flag as text, others a boolean.
        if display or ctx.after_update:
            return _column_text(values[name])
        return bool(values[name])
    if kind == "link_or_object":
        # Recorded: an Opportunity's "accounts" is "" when linked, {} when not.
        return "" if _first_related(ctx, module, str(values["id"]), arg) else {}
    if kind == "id":
        return str(values["id"])
    if kind == "column":
        return _column_text(values[arg])
    if kind == "user_name":
        return display_name(ctx, "Users", values[arg])
    if kind == "person_name":
        return _person_name(values)
    if kind == "parent_name":
        return display_name(ctx, values["parent_type"] or "", values["parent_id"])
    if kind == "field_name":
        column, _, target = arg.partition(":")
        return display_name(ctx, target, values[column])
    if kind in ("related_name", "related_id"):
        related = _first_related(ctx, module, str(values["id"]), arg)
        if kind == "related_id":
            return related or ""
        return display_name(ctx, module.links[arg].module, related)
    if kind in ("currency_name", "currency_symbol"):
        if (values["currency_id"] or "-99") != BASE_CURRENCY[0]:
            return ""
        return BASE_CURRENCY[1] if kind == "currency_name" else BASE_CURRENCY[2]
    if kind.startswith("revision"):
        return _revision_value(ctx, values["document_revision_id"], kind, arg)
    raise ValueError(f"unknown computed attribute {spec!r} of {module.name}.{name}")


def _person_name(values: Any) -> str:
    # Q15: the locale format "s f l" gives "first last".
    return " ".join(p for p in (values["first_name"], values["last_name"]) if p)


def display_name(ctx: Context, module_name: str, record_id: Any) -> str:
    """The shown name of a record (person name, document name or name)."""
    module = find(module_name)
    if not record_id or module is None:
        return ""
    key = (module_name, str(record_id))
    if key not in ctx._names:
        table = module.table
        row = ctx.conn.execute(
            sa.select(table).where(table.c.id == str(record_id))
        ).first()
        ctx._names[key] = _row_name(row) if row is not None else ""
    return ctx._names[key]


def _row_name(row: sa.Row[Any]) -> str:
    values = row._mapping
    if "first_name" in values:
        return _person_name(values)
    for column in ("name", "document_name"):
        if column in values:
            return str(values[column] or "")
    return ""


def _first_related(
    ctx: Context, module: Module, record_id: str, link: str
) -> str | None:
    target = find(module.links[link].module)
    assert target is not None
    table = target.table
    found = ctx.conn.execute(
        sa.select(table.c.id)
        .where(related_clause(module, record_id, module.links[link].name, target))
        .where(table.c.deleted == 0)
        .order_by(table.c.id)
    ).first()
    return str(found.id) if found else None


def _revision_value(ctx: Context, revision_id: Any, kind: str, column: str) -> str:
    if not revision_id:
        return ""
    rev = ctx.conn.execute(
        sa.select(t.document_revisions).where(t.document_revisions.c.id == revision_id)
    ).first()
    if rev is None:
        return ""
    if kind == "revision_creator":
        return display_name(ctx, "Users", rev.created_by)
    if kind == "revision_date":
        return format_display_datetime(rev.date_entered) if rev.date_entered else ""
    return _column_text(rev._mapping[column])


def related_clause(
    module: Module, record_id: str, link_name: str, target: Module
) -> sa.ColumnElement[bool]:
    """A WHERE clause on ``target``'s table: rows related to the record by link."""
    link = module.links[link_name]
    table = target.table
    if link.kind == "parent":
        return sa.and_(
            table.c.parent_type == module.name, table.c.parent_id == record_id
        )
    if link.kind == "field":
        assert link.field is not None
        return table.c[link.field] == record_id
    if link.kind == "own":
        # The record's own column names the related row (created_by ...).
        assert link.field is not None
        mine = module.table
        own = sa.select(mine.c[link.field]).where(mine.c.id == record_id)
        return table.c.id.in_(own.scalar_subquery())
    if link.kind == "records":
        sgr = t.securitygroups_records
        ids = sa.select(sgr.c.securitygroup_id).where(
            sgr.c.record_id == record_id,
            sgr.c.module == module.name,
            sgr.c.deleted == 0,
        )
        return table.c.id.in_(ids.scalar_subquery())
    join = t.metadata.tables[str(link.table)]
    ids = sa.select(join.c[str(link.other_column)]).where(
        join.c[str(link.self_column)] == record_id, join.c.deleted == 0
    )
    return table.c.id.in_(ids.scalar_subquery())


# --- writing -----------------------------------------------------------------


def column_values(module: Module, attributes: dict[str, Any]) -> dict[str, Any]:
    """Convert V8 attribute values to column values (Q13 tags, Q17 dates)."""
    for name in attributes:
        if not module.writable(name):
            raise V8Error(
                f"Property {name} in {module.object_name} module is invalid",
                validation=True,
            )
    values: dict[str, Any] = {}
    for name, raw in attributes.items():
        column = module.column(name)
        if column is None or name == "id":
            continue
        values[name] = _to_column(column, raw)
    return values


def _to_column(column: sa.Column[Any], raw: Any) -> Any:
    if raw is None:
        return None
    if isinstance(raw, bool):
        raw = "1" if raw else "0"
    text = raw if isinstance(raw, str) else str(raw)
    kind = column.type
    if isinstance(kind, sa.DateTime):
        return parse_input_datetime(text)
    if isinstance(kind, sa.Date):
        return parse_input_date(text)
    if isinstance(kind, (sa.Integer, sa.Float)):
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if isinstance(kind, sa.Integer) else number
    if isinstance(kind, sa.Text):
        return _fitting(text, len(text.encode("utf-8")), TEXT_MAX_BYTES)
    cleaned = strip_tags(text)
    length = getattr(kind, "length", None)
    return _fitting(cleaned, len(cleaned), length) if length else cleaned


def _fitting(value: str, size: int, limit: int) -> str:
    """``value`` if it fits its column; else the 400 MariaDB's strict mode causes.

    MariaDB (strict mode, its default) refuses a value longer than its column
    (1406 Data too long); SQLite would store it whole.  The transcript shows no
    truncation, so both refuse it.
    """
    if size > limit:
        raise V8Error(DATABASE_FAILURE)
    return value


def create(
    ctx: Context, module: Module, record_id: str | None, attrs: dict[str, Any]
) -> sa.Row[Any]:
    """Insert a record as a V8 create does; returns the stored row."""
    _require_write(ctx, module, "edit")
    values = column_values(module, attrs)
    if record_id is not None:
        check_id(record_id)
        if _exists(ctx, module, record_id):
            raise V8Error(f"Bean {module.name} with id {record_id} is already exist")
    new_id = record_id or str(uuid.uuid4())
    _refuse_duplicate_user_name(ctx, module, new_id, values)
    now = utc_now()
    stamped = {
        "date_entered": now,
        "date_modified": now,
        "created_by": ctx.actor.id,
        "modified_user_id": ctx.actor.id,
        "deleted": 0,
    }
    row_values = {key: value for key, value in stamped.items() if key in module.table.c}
    row_values.update(values)  # Q19: client-supplied stamps are honoured
    row_values["id"] = new_id
    _before_save(ctx, module, new_id, row_values, attrs, creating=True)
    ctx.conn.execute(module.table.insert().values(**row_values))

    _after_save(ctx, module, new_id, attrs, creating=True, old=None)
    return fetch(ctx, module, new_id)


def update(
    ctx: Context, module: Module, record_id: str, attrs: dict[str, Any]
) -> sa.Row[Any]:
    """Update a record as a V8 PATCH does; returns the stored row."""
    _require_write(ctx, module, "edit")
    old = fetch(ctx, module, record_id)
    require(ctx, module, "edit", record_id)
    values = column_values(module, attrs)
    _refuse_duplicate_user_name(ctx, module, record_id, values)
    stamped = {"date_modified": utc_now(), "modified_user_id": ctx.actor.id}
    row_values = {k: v for k, v in stamped.items() if k in module.table.c}
    row_values.update(values)
    _before_save(ctx, module, record_id, row_values, attrs, creating=False, old=old)
    table = module.table
    ctx.conn.execute(table.update().where(table.c.id == record_id).values(**row_values))

    _after_save(ctx, module, record_id, attrs, creating=False, old=old)
    ctx.after_update = True
    return fetch(ctx, module, record_id)


def delete(ctx: Context, module: Module, record_id: str) -> None:
    """Soft-delete a record (``deleted=1``), as SuiteCRM's mark_deleted."""
    _require_write(ctx, module, "delete")
    fetch(ctx, module, record_id)
    require(ctx, module, "delete", record_id)
    table = module.table
    values: dict[str, Any] = {"deleted": 1}
    if "date_modified" in table.c:
        values["date_modified"] = utc_now()
    if "modified_user_id" in table.c:
        values["modified_user_id"] = ctx.actor.id
    ctx.conn.execute(table.update().where(table.c.id == record_id).values(**values))
    if module.name == "ACLRoles":
        # acl-notes 2: deleting a role soft-deletes its matrix rows.
        rra = t.acl_roles_actions
        ctx.conn.execute(
            rra.update().where(rra.c.role_id == record_id).values(deleted=1)
        )


def _require_write(ctx: Context, module: Module, action: str) -> None:
    if module.read_only:
        raise AccessDenied()
    if module.admin_only_write and not ctx.actor.is_admin:
        # Not copied from Q24: only admins create or change users, groups, roles.
        raise AccessDenied()
    if not acl.allowed(ctx.actor, module, action):
        raise AccessDenied()


def _refuse_duplicate_user_name(
    ctx: Context, module: Module, record_id: str, values: dict[str, Any]
) -> None:
    """One live user per ``user_name``, as SuiteCRM's user save insists.

    SuiteCRM's Users module refuses to save a user whose name another
    non-deleted user holds (``User::verify_data()`` in modules/Users/User.php,
    salesagility/SuiteCRM, its ERR_USER_NAME_EXISTS_1/2 message); V8 skips that
    check, and a duplicate ``admin`` then breaks the real admin's login.
    """
    if module.name != "Users" or not values.get("user_name"):
        return
    users = t.users
    taken = ctx.conn.execute(
        sa.select(users.c.id).where(
            users.c.user_name == values["user_name"],
            users.c.deleted == 0,
            users.c.id != record_id,
        )
    ).first()
    if taken is not None:
        raise V8Error(
            f"The user name {values['user_name']} is already used by another user",
            validation=True,
        )


def _exists(ctx: Context, module: Module, record_id: str) -> bool:
    table = module.table
    return (
        ctx.conn.execute(sa.select(table.c.id).where(table.c.id == record_id)).first()
        is not None
    )


def _before_save(
    ctx: Context,
    module: Module,
    record_id: str,
    values: dict[str, Any],
    attrs: dict[str, Any],
    *,
    creating: bool,
    old: sa.Row[Any] | None = None,
) -> None:
    if module.name == "Meetings":
        _meeting_end(values, old)
    if module.name == "Opportunities" and ("amount" in values or creating):
        currency = values.get("currency_id") or (old.currency_id if old else None)
        if (currency or "-99") == BASE_CURRENCY[0]:
            values["amount_usdollar"] = values.get(
                "amount", old.amount if old else None
            )
    if module.name == "Documents" and creating and "active_date" not in values:
        values["active_date"] = utc_now().date()
    if module.name == "Notes" and attrs.get("filecontents"):
        _store_file(ctx, record_id, attrs["filecontents"])
    if module.name == "Cases" and creating and values.get("case_number") is None:
        values["case_number"] = _next_case_number(ctx)


def _next_case_number(ctx: Context) -> int:
    """SuiteCRM numbers cases with AUTO_INCREMENT; the shared table cannot say so."""
    cases = t.cases
    highest = ctx.conn.execute(sa.select(sa.func.max(cases.c.case_number))).scalar()
    return int(highest or 0) + 1


def _meeting_end(values: dict[str, Any], old: sa.Row[Any] | None) -> None:
    """Q26: ``date_end`` is computed from the start and the duration."""
    start = values.get("date_start", old.date_start if old else None)
    if start is None:
        return
    hours = values.get("duration_hours", old.duration_hours if old else 0) or 0
    minutes = values.get("duration_minutes", old.duration_minutes if old else 0) or 0
    values["date_end"] = start + dt.timedelta(hours=int(hours), minutes=int(minutes))


def _store_file(ctx: Context, name: str, contents: str) -> None:
    try:
        data = base64.b64decode(contents, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise V8Error("The file contents are not valid base64") from exc
    ctx.upload_dir.mkdir(parents=True, exist_ok=True)
    (ctx.upload_dir / name).write_bytes(data)
    logger.debug("stored upload %s (%d bytes)", name, len(data))


def _after_save(
    ctx: Context,
    module: Module,
    record_id: str,
    attrs: dict[str, Any],
    *,
    creating: bool,
    old: sa.Row[Any] | None,
) -> None:
    if "account_id" in attrs and "accounts" in module.links:
        _relink_account(ctx, module, record_id, str(attrs["account_id"] or ""))
    if module.name == "Documents" and (
        attrs.get("filecontents") or attrs.get("filename")
    ):
        _new_revision(ctx, record_id, attrs)
    row = fetch(ctx, module, record_id)
    if module.security_module:
        _inherit_groups(ctx, module, row, creating=creating)
    if module.feed:
        _write_feed(ctx, module, row, attrs, old)


def _relink_account(
    ctx: Context, module: Module, record_id: str, account_id: str
) -> None:
    """Q26: ``account_id`` on an Opportunity (or Contact) links the account."""
    link = module.links["accounts"]
    join = t.metadata.tables[str(link.table)]
    mine = join.c[str(link.self_column)] == record_id
    current = (
        ctx.conn.execute(
            sa.select(join.c[str(link.other_column)]).where(mine, join.c.deleted == 0)
        )
        .scalars()
        .all()
    )
    if account_id in current:
        return
    now = utc_now()
    ctx.conn.execute(join.update().where(mine).values(deleted=1, date_modified=now))
    if account_id:
        add_join_row(
            ctx,
            join,
            {str(link.self_column): record_id, str(link.other_column): account_id},
        )


def add_join_row(ctx: Context, join: sa.Table, values: dict[str, Any]) -> None:
    ctx.conn.execute(
        join.insert().values(
            id=str(uuid.uuid4()), date_modified=utc_now(), deleted=0, **values
        )
    )


def _new_revision(ctx: Context, document_id: str, attrs: dict[str, Any]) -> None:
    """Q25: a DocumentRevision row and ``upload/<revision id>``; ext/mime stay NULL."""
    revision_id = str(uuid.uuid4())
    now = utc_now()
    if attrs.get("filecontents"):
        _store_file(ctx, revision_id, str(attrs["filecontents"]))
    ctx.conn.execute(
        t.document_revisions.insert().values(
            id=revision_id,
            change_log="Document Created",
            document_id=document_id,
            doc_type="Sugar",
            date_entered=now,
            date_modified=now,
            created_by=ctx.actor.id,
            filename=strip_tags(str(attrs.get("filename") or "")),
            file_ext=None,
            file_mime_type=None,
            revision=str(attrs.get("revision") or "1"),
            deleted=0,
        )
    )
    docs = t.documents
    ctx.conn.execute(
        docs.update()
        .where(docs.c.id == document_id)
        .values(document_revision_id=revision_id)
    )


def _inherit_groups(
    ctx: Context, module: Module, row: sa.Row[Any], *, creating: bool
) -> None:
    """Q37 / acl-notes 2: creator's, assigned user's and parent's groups."""
    groups: list[str] = []
    if creating:
        groups += acl.inheritable_groups(ctx.conn, ctx.actor.id)
    if "assigned_user_id" in row._mapping:
        groups += acl.inheritable_groups(ctx.conn, row.assigned_user_id)
    parent_type = row._mapping.get("parent_type")
    if creating and parent_type and row._mapping.get("parent_id"):
        groups += acl.record_groups(ctx.conn, parent_type, row.parent_id)
    present = set(acl.record_groups(ctx.conn, module.name, row.id))
    today = dt.datetime.combine(utc_now().date(), dt.time())
    for group_id in dict.fromkeys(groups):
        if group_id in present:
            continue
        ctx.conn.execute(
            t.securitygroups_records.insert().values(
                id=str(uuid.uuid4()),
                securitygroup_id=group_id,
                record_id=str(row.id),
                module=module.name,
                date_modified=today,  # Q37: truncated to the date
                modified_user_id=None,
                created_by=None,
                deleted=0,
            )
        )


def _feed_enabled(ctx: Context, module_name: str) -> bool:
    cfg = t.config
    rows = ctx.conn.execute(
        sa.select(cfg.c.name, cfg.c.value).where(
            cfg.c.category == "sugarfeed",
            cfg.c.name.in_(["enabled", f"module_{module_name}"]),
        )
    ).all()
    settings = {name: value for name, value in rows}
    return (
        settings.get("enabled") == "1" and settings.get(f"module_{module_name}") == "1"
    )


def _write_feed(
    ctx: Context,
    module: Module,
    row: sa.Row[Any],
    attrs: dict[str, Any],
    old: sa.Row[Any] | None,
) -> None:
    """Q38 / acl-notes 5: the SugarFeed row in SuiteCRM's stored format."""
    text = _feed_text(module, row, attrs, old)
    if text is None or not _feed_enabled(ctx, module.name):
        return
    full = FEED_PREFIX + strip_tags(text)
    name, overflow = full[:FEED_NAME_LEN], full[FEED_NAME_LEN:]
    now = utc_now()
    ctx.conn.execute(
        t.sugarfeed.insert().values(
            id=str(uuid.uuid4()),
            name=name,
            date_entered=now,
            date_modified=now,
            modified_user_id=ctx.actor.id,
            created_by=ctx.actor.id,
            description=overflow[:FEED_DESCRIPTION_LEN] or None,
            deleted=0,
            assigned_user_id=row.assigned_user_id or None,
            related_module=module.name,
            related_id=str(row.id),
            link_url=None,
            link_type=None,
        )
    )


def _feed_text(
    module: Module, row: sa.Row[Any], attrs: dict[str, Any], old: sa.Row[Any] | None
) -> str | None:
    if module.feed == "contact":
        if old is not None:
            return None
        name = _person_name(row._mapping)
        return f"{{SugarFeed.CREATED_CONTACT}} [Contacts:{row.id}:{name}]"
    if module.feed != "opportunity":
        return None
    won = row.sales_stage == "Closed Won" and (
        old is None or old.sales_stage != "Closed Won"
    )
    if old is not None and not won:
        return None
    label = "{SugarFeed.WON_OPPORTUNITY}" if won else "{SugarFeed.CREATED_OPPORTUNITY}"
    account_id = attrs.get("account_id") or ""
    # acl-notes 5: V8 sends only account_id, so the account name stays empty.
    account_name = attrs.get("account_name") or ""
    amount = f"{float(row.amount or 0):,.2f}"
    return (
        f"{label} [Opportunities:{row.id}:{row.name or ''}] {{SugarFeed.WITH}} "
        f"[Accounts:{account_id}:{account_name}] {{SugarFeed.FOR_AMOUNT}} "
        f"{BASE_CURRENCY[2]}{amount}"
    )
