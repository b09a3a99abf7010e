"""The sandbox's HTTP app: SuiteCRM 7.13's V8 routes over SuiteCRM-shaped tables.

One catch-all route hands each request to a small route table, so unknown paths
and wrong verbs answer exactly as Slim does (Q10: 404 ``Not found``, 405 with the
allowed verbs).  Each request runs in one transaction; on SQLite requests are
serialised so that writers never meet a locked database.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import threading
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import sqlalchemy as sa
from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from dscrm_bridge.plugin.signing import ChangeEvent, event_now
from dscrm_bridge.sandbox import acl, query, relations
from dscrm_bridge.sandbox.auth import TokenService
from dscrm_bridge.sandbox.events import EventSender, WebhookTarget
from dscrm_bridge.sandbox.modules import Module, find, meta_modules
from dscrm_bridge.sandbox.protocol import (
    DATABASE_FAILURE,
    OAuthError,
    V8Error,
    error_response,
    jsonapi,
    no_result,
    oauth_response,
    plain_json,
)
from dscrm_bridge.sandbox.records import (
    Context,
    create,
    delete,
    fetch,
    require,
    resource,
    update,
)
from dscrm_bridge.suitecrm.gateway import open_engine

logger = logging.getLogger(__name__)

UNEXPECTED_FAILURE = "The request could not be processed"


def log_failure(method: str, path: str, exc: BaseException) -> None:
    """Log a failed request at ERROR: where it failed, never the values involved.

    Only the exception's type and the code lines of its traceback are logged: a
    database error's text holds the statement's parameters (passwords, tokens).
    """
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error(
        "sandbox request %s %s failed: %s\n%s",
        method,
        path,
        type(exc).__name__,
        frames,
    )


def parse_json(body: bytes, empty: bytes = b"null") -> Any:
    """The JSON value of a request body; None when it is not JSON (Q20)."""
    try:
        return json.loads(body or empty)
    except (ValueError, RecursionError):
        # Too deeply nested bodies read as invalid JSON too.
        return None


@dataclass
class Call:
    """What a route handler gets: the parsed request and the app's state."""

    method: str
    params: query.Params
    body: bytes
    content_type: str
    authorization: str | None
    path_args: dict[str, str]
    path: str = ""
    #: change events of this request, sent once its transaction committed
    events: list[ChangeEvent] = field(default_factory=list)


Handler = Callable[["Sandbox", Call, sa.Connection], Response]


class Sandbox:
    """State shared by the requests of one app: engine, token service, upload dir."""

    def __init__(
        self,
        engine: sa.Engine,
        tokens: TokenService,
        upload_dir: Path,
        events: EventSender | None = None,
    ) -> None:
        self.engine = engine
        self.tokens = tokens
        self.upload_dir = upload_dir
        self.events = events
        self._lock = threading.Lock() if engine.dialect.name == "sqlite" else None

    def handle(self, handler: Handler, call: Call) -> Response:
        guard = self._lock if self._lock is not None else nullcontext()
        with guard:
            try:
                with self.engine.begin() as conn:
                    response = handler(self, call, conn)
            except V8Error as exc:
                return error_response(exc)
            except OAuthError as exc:
                return oauth_response(exc)
            except sa.exc.DBAPIError as exc:
                # The database refused the statement (value too long, a 4-byte
                # character in a utf8mb3 table ...): SuiteCRM answers 400.
                log_failure(call.method, call.path, exc)
                return error_response(V8Error(DATABASE_FAILURE))
        # As the plugin's after_* hooks: only writes that were stored.
        if self.events is not None and call.events and response.status_code < 400:
            self.events.send(call.events)
        return response

    def close(self) -> None:
        """Send the events still queued and stop sending."""
        if self.events is not None:
            self.events.close()

    def context(self, call: Call, conn: sa.Connection) -> tuple[Context, str]:
        """Check the bearer token; the request's context and token id."""
        grant = self.tokens.verify(conn, call.authorization)
        actor = acl.load_actor(conn, grant.user_id)
        return Context(
            conn=conn, actor=actor, upload_dir=self.upload_dir
        ), grant.token_id


# --- handlers ----------------------------------------------------------------


def _token(app: Sandbox, call: Call, conn: sa.Connection) -> Response:
    params = _body_params(call)
    body = app.tokens.issue(conn, params)
    # Q1: the JSON type with charset and the no-cache headers.
    return Response(
        json.dumps(body).encode("utf-8"),
        status_code=200,
        headers={
            "Access-Control-Allow-Origin": "*",
            "pragma": "no-cache",
            "cache-control": "no-store",
        },
        media_type="application/json; charset=UTF-8",
    )


def _body_params(call: Call) -> dict[str, Any]:
    """Q1: JSON (vnd.api+json or json) or form-encoded token requests."""
    if "json" in call.content_type:
        parsed = parse_json(call.body, b"{}")
        return parsed if isinstance(parsed, dict) else {}
    return dict(parse_qsl(call.body.decode("utf-8", "replace")))


def _logout(app: Sandbox, call: Call, conn: sa.Connection) -> Response:
    _, token_id = app.context(call, conn)
    app.tokens.revoke(conn, token_id)
    return jsonapi(
        {"meta": {"message": "You have been successfully logged out"}, "data": []}
    )


def _current_user(app: Sandbox, call: Call, conn: sa.Connection) -> Response:
    ctx, _ = app.context(call, conn)
    users = _module("Users")
    row = fetch(ctx, users, ctx.actor.id)
    # Q14: hidden fields included, dates in the user's display format.
    body = resource(
        ctx, users, row, links="current_user", include_hidden=True, display_dates=True
    )
    return jsonapi({"data": body})


def _meta_modules(app: Sandbox, call: Call, conn: sa.Connection) -> Response:
    app.context(call, conn)
    return jsonapi({"data": {"type": "modules", "attributes": meta_modules()}})


def _meta_fields(app: Sandbox, call: Call, conn: sa.Connection) -> Response:
    app.context(call, conn)
    module = _module(call.path_args["module"])
    return jsonapi({"data": {"type": "fields", "attributes": _vardefs(module)}})


def _vardefs(module: Module) -> dict[str, Any]:
    if module.vardefs is not None:
        return dict(module.vardefs)  # recorded (A7)
    fields: dict[str, Any] = {"id": {"type": "id", "required": True, "dbType": "id"}}
    for name, spec in module.attributes.items():
        if name == "id":
            continue
        column = module.column(name)
        if column is None:
            kind = (
                "relate"
                if isinstance(spec, str) and spec.startswith("@")
                else ("bool" if spec is False else "link")
            )
            fields[name] = {
                "type": kind,
                "source": "non-db",
                "required": False,
                "dbType": kind,
            }
            continue
        fields[name] = _column_vardef(name, column)
    return fields


# Column types as SuiteCRM names them in vardefs, most specific first.
_DB_TYPES: tuple[tuple[type[Any], str], ...] = (
    (sa.DateTime, "datetime"),
    (sa.Date, "date"),
    (sa.Text, "text"),
    (sa.SmallInteger, "bool"),
    (sa.Integer, "int"),
    (sa.Float, "double"),
    (sa.CHAR, "id"),
)


def _column_vardef(name: str, column: sa.Column[Any]) -> dict[str, Any]:
    kind = column.type
    db_type = next(
        (label for cls, label in _DB_TYPES if isinstance(kind, cls)),
        "id" if name.endswith("_id") else "varchar",
    )
    vardef: dict[str, Any] = {
        "type": "name" if name == "name" else db_type,
        "dbType": db_type,
        "required": name == "name",
    }
    if db_type == "varchar" and getattr(kind, "length", None):
        vardef["len"] = kind.length  # type: ignore[attr-defined]
    if column.server_default is not None:
        vardef["default"] = str(column.server_default.arg)  # type: ignore[attr-defined]
    return vardef


def _module(name: str) -> Module:
    module = find(name)
    if module is None:
        raise V8Error(f"Module {name} does not exist", validation=True)
    return module


def _json_body(call: Call) -> dict[str, Any]:
    body = parse_json(call.body)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        # Q20: invalid JSON reads as a missing "data".
        raise V8Error('The required option "data" is missing.', validation=True)
    return data


def _write(app: Sandbox, call: Call, conn: sa.Connection) -> Response:
    ctx, _ = app.context(call, conn)
    data = _json_body(call)
    if not data.get("type"):
        raise V8Error('The required option "type" is missing.', validation=True)
    module = _module(str(data["type"]))
    attrs = data.get("attributes") or {}
    if not isinstance(attrs, dict):
        raise V8Error('The option "attributes" is invalid.', validation=True)
    if call.method == "POST":
        record_id = str(data["id"]) if data.get("id") else None
        row = create(ctx, module, record_id, attrs)
    else:
        if not data.get("id"):
            raise V8Error('The required option "id" is missing.', validation=True)
        row = update(ctx, module, str(data["id"]), attrs)
    call.events.append(event_now(module.name, str(row.id), "after_save", ctx.actor.id))
    # Q11: both create and PATCH answer 201; Q8: short relationship links.
    return jsonapi({"data": resource(ctx, module, row, links="short")}, 201)


def _list(app: Sandbox, call: Call, conn: sa.Connection) -> Response:
    ctx, _ = app.context(call, conn)
    module = _module(call.path_args["module"])
    params = call.params
    names = query.parse_fields(module, params)
    where = query.parse_filter(module, params, ctx.actor)
    order = query.parse_sort(module, params, ctx.actor)
    page = query.parse_page(params)

    table = module.table
    conditions: list[Any] = [] if where.clause is None else [where.clause]
    if not where.touches_deleted:
        conditions.append(table.c.deleted == 0)
    visible = acl.record_clause(ctx.actor, module, "list")
    stmt = sa.select(table).where(*conditions, visible).order_by(*order)
    if page is not None:
        stmt = stmt.offset(page.offset).limit(page.size)
    rows = conn.execute(stmt).all()
    for row in rows:
        if row.deleted:
            # Q30: a filter that reaches a deleted row fails on loading it.
            raise V8Error(f"{module.name} module with id {row.id} is not found")
    if not rows:
        return no_result()

    data = [resource(ctx, module, row, names=names) for row in rows]
    if page is None:
        return jsonapi({"data": data})
    # Q28: total-pages counts every matching row, whatever the ACL says.
    count = conn.execute(
        sa.select(sa.func.count()).select_from(table).where(*conditions)
    ).scalar_one()
    pages = query.total_pages(count, page)
    return jsonapi(
        {
            "meta": {"total-pages": pages, "records-on-this-page": len(rows)},
            "data": data,
            "links": query.page_links(f"V8/module/{module.name}", params, page, pages),
        }
    )


def _get(app: Sandbox, call: Call, conn: sa.Connection) -> Response:
    ctx, _ = app.context(call, conn)
    module = _module(call.path_args["module"])
    row = fetch(ctx, module, call.path_args["id"])
    require(ctx, module, "view", str(row.id))
    names = query.parse_fields(module, call.params)
    return jsonapi({"data": resource(ctx, module, row, names=names)})


def _delete(app: Sandbox, call: Call, conn: sa.Connection) -> Response:
    ctx, _ = app.context(call, conn)
    module = _module(call.path_args["module"])
    record_id = call.path_args["id"]
    delete(ctx, module, record_id)
    call.events.append(event_now(module.name, record_id, "after_delete", ctx.actor.id))
    return jsonapi(
        {"meta": {"message": f"Record with id {record_id} is deleted"}, "data": []}
    )


def _related(app: Sandbox, call: Call, conn: sa.Connection) -> Response:
    ctx, _ = app.context(call, conn)
    args = call.path_args
    module = _module(args["module"])
    return relations.list_related(ctx, module, args["id"], args["link"], call.params)


def _relate(app: Sandbox, call: Call, conn: sa.Connection) -> Response:
    ctx, _ = app.context(call, conn)
    args = call.path_args
    module = _module(args["module"])
    body = parse_json(call.body)
    response = relations.relate(ctx, module, args["id"], args.get("link"), body)
    data = body["data"]  # relate() checked its shape
    _relationship_events(
        call,
        ctx.actor.id,
        "after_relationship_add",
        (module.name, args["id"]),
        (str(data["type"]), str(data["id"])),
    )
    return response


def _unrelate(app: Sandbox, call: Call, conn: sa.Connection) -> Response:
    ctx, _ = app.context(call, conn)
    args = call.path_args
    module = _module(args["module"])
    response = relations.unrelate(
        ctx, module, args["id"], args["link"], args["related"]
    )
    _relationship_events(
        call,
        ctx.actor.id,
        "after_relationship_delete",
        (module.name, args["id"]),
        (module.links[args["link"]].module, args["related"]),
    )
    return response


def _relationship_events(
    call: Call,
    user_id: str,
    event: str,
    one: tuple[str, str],
    other: tuple[str, str],
) -> None:
    """SuiteCRM calls a relationship hook on the beans at both ends."""
    for (module, record_id), (related_module, related_id) in (
        (one, other),
        (other, one),
    ):
        call.events.append(
            event_now(
                module,
                record_id,
                event,
                user_id,
                related_module=related_module,
                related_id=related_id,
            )
        )


_SEG = r"([^/]+)"
ROUTES: list[tuple[re.Pattern[str], tuple[str, ...], dict[str, Handler]]] = [
    (re.compile(r"^/Api/access_token$"), (), {"POST": _token}),
    (re.compile(r"^/Api/V8/logout$"), (), {"POST": _logout}),
    (re.compile(r"^/Api/V8/current-user$"), (), {"GET": _current_user}),
    (re.compile(r"^/Api/V8/meta/modules$"), (), {"GET": _meta_modules}),
    (re.compile(rf"^/Api/V8/meta/fields/{_SEG}$"), ("module",), {"GET": _meta_fields}),
    (re.compile(r"^/Api/V8/module$"), (), {"POST": _write, "PATCH": _write}),
    (re.compile(rf"^/Api/V8/module/{_SEG}$"), ("module",), {"GET": _list}),
    (
        re.compile(rf"^/Api/V8/module/{_SEG}/{_SEG}$"),
        ("module", "id"),
        {"GET": _get, "DELETE": _delete},
    ),
    (
        re.compile(rf"^/Api/V8/module/{_SEG}/{_SEG}/relationships$"),
        ("module", "id"),
        {"POST": _relate},
    ),
    (
        re.compile(rf"^/Api/V8/module/{_SEG}/{_SEG}/relationships/{_SEG}$"),
        ("module", "id", "link"),
        {"GET": _related, "POST": _relate},
    ),
    (
        re.compile(rf"^/Api/V8/module/{_SEG}/{_SEG}/relationships/{_SEG}/{_SEG}$"),
        ("module", "id", "link", "related"),
        {"DELETE": _unrelate},
    ),
]


def _resolve(
    path: str, method: str
) -> tuple[Handler | None, dict[str, str], Response | None]:
    for pattern, names, handlers in ROUTES:
        match = pattern.match(path)
        if match is None:
            continue
        handler = handlers.get(method)
        if handler is None:
            allowed = ", ".join(handlers)
            return (
                None,
                {},
                plain_json(
                    {"message": f"Method not allowed. Must be one of: {allowed}"},
                    405,
                    {"Allow": allowed},
                ),
            )
        return handler, dict(zip(names, match.groups(), strict=True)), None
    return None, {}, plain_json({"message": "Not found"}, 404)


def create_app(
    engine_or_url: sa.Engine | str,
    *,
    upload_dir: Path | None = None,
    signing_key: bytes | None = None,
    webhook: WebhookTarget | None = None,
) -> FastAPI:
    """A FastAPI app answering like SuiteCRM 7.13's V8 API over ``engine_or_url``.

    The database must already hold the tables and seed rows (see :func:`seed`).
    ``upload_dir`` receives uploaded files (a new temporary directory when
    omitted); ``signing_key`` signs access tokens (random per app when omitted).
    With ``webhook``, every committed write is also posted there as the bridge's
    SuiteCRM plugin would (see :mod:`dscrm_bridge.sandbox.events`); call
    ``app.state.sandbox.close()`` when done to flush them.
    """
    engine = (
        make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    )
    if upload_dir is None:
        upload_dir = Path(tempfile.mkdtemp(prefix="dscrm-sandbox-upload-"))
        logger.info("sandbox uploads go to %s", upload_dir)
    sender = EventSender(webhook) if webhook is not None else None
    sandbox = Sandbox(engine, TokenService(signing_key), upload_dir, sender)
    app = FastAPI(
        title="dscrm sandbox (SuiteCRM V8)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.sandbox = sandbox

    async def dispatch(request: Request, path: str) -> Response:
        try:
            return await _dispatch(request, path)
        except Exception as exc:  # noqa: BLE001 - no request may end in a bare 500
            log_failure(request.method, request.url.path, exc)
            return error_response(V8Error(UNEXPECTED_FAILURE))

    async def _dispatch(request: Request, path: str) -> Response:
        handler, args, refusal = _resolve("/" + path, request.method)
        if handler is None:
            assert refusal is not None
            return refusal
        call = Call(
            method=request.method,
            params=list(request.query_params.multi_items()),
            body=await request.body(),
            content_type=request.headers.get("content-type", ""),
            authorization=request.headers.get("authorization"),
            path_args=args,
            path=request.url.path,
        )
        logger.debug("%s %s", request.method, request.url.path)
        return await run_in_threadpool(sandbox.handle, handler, call)

    app.add_api_route(
        "/{path:path}",
        dispatch,
        methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
        include_in_schema=False,
    )
    return app


def make_engine(url: str) -> sa.Engine:
    """An engine for ``url`` (see :func:`dscrm_bridge.suitecrm.gateway.open_engine`)."""
    return open_engine(url)
