"""The HTTP app of ``dscrm serve``: JSON API, timeline page, login, health, metrics.

Routes stay thin: they parse, ask :class:`~dscrm_bridge.web.service.FeedService`
and shape the answer.  Who is asking comes from a ``Authorization: Bearer``
API token or from the signed session cookie; a state-changing request with the
cookie must also carry the session's CSRF token (form field ``csrf_token`` or
header ``X-CSRF-Token``).  Every answer carries a Content-Security-Policy that
allows no script at all.

    /api/v1/entries            GET   timeline (filters, cursor)
    /api/v1/entries/{id}       GET   one entry with its replies
    /api/v1/entries/{id}/replies POST  reply (mentions with @user_name)
    /api/v1/mentions           GET   replies that mention me (「@我」)
    /api/v1/me                 GET   who I am
    /healthz, /openapi.json
    /metrics                   GET   Prometheus text (an admin's session or token)
    /, /entries/{id}, /mentions, /login, /logout   the page
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from pydantic import BaseModel, Field

from dscrm_bridge.errors import (
    AuthError,
    BridgeError,
    DatabaseError,
    InputError,
    NotFoundError,
    SuiteCRMError,
)
from dscrm_bridge.feed.render import module_label
from dscrm_bridge.feed.schema import FeedAction
from dscrm_bridge.feed.timeline import FeedFilter
from dscrm_bridge.i18n import N_, _, normalize_language, translator
from dscrm_bridge.web import page
from dscrm_bridge.web.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    LoginRefusedError,
    Session,
    TooManyAttemptsError,
    Viewer,
    csrf_ok,
)
from dscrm_bridge.web.service import FeedService, parse_time

logger = logging.getLogger(__name__)

API = "/api/v1"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


# --- API shapes (the OpenAPI document is built from these) ------------------------


class FieldChangeOut(BaseModel):
    field: str
    label: str
    old: str | None
    new: str | None
    old_text: str
    new_text: str


class MentionOut(BaseModel):
    user_id: str
    name: str


class ReplyOut(BaseModel):
    id: int
    entry_id: int
    author_id: str
    author: str
    body: str
    created_at: str = Field(description="ISO 8601, UTC")
    mentions: list[MentionOut]
    sugarfeed_id: str | None = Field(
        None, description="The row in SuiteCRM's sugarfeed, when written back"
    )


class EntryOut(BaseModel):
    id: int
    module: str
    module_label: str
    action: str
    record_id: str
    record_name: str
    record_url: str | None
    actor: str
    actor_id: str | None
    text_zh: str
    text_en: str
    occurred_at: str = Field(description="ISO 8601, UTC")
    related_module: str | None
    related_id: str | None
    related_name: str | None
    field_changes: list[FieldChangeOut]
    replies: list[ReplyOut]


class PageOut(BaseModel):
    entries: list[EntryOut]
    next_cursor: str | None = Field(
        None, description="Pass as ?cursor= for the next (older) page; null: no more"
    )


class MentionItemOut(BaseModel):
    id: int
    reply: ReplyOut
    entry: EntryOut


class MentionsOut(BaseModel):
    mentions: list[MentionItemOut]
    next_before: int | None


class ReplyIn(BaseModel):
    body: str = Field(
        ..., min_length=1, max_length=2000, description="@user_name mentions a user"
    )


class MeOut(BaseModel):
    id: str
    user_name: str
    name: str
    is_admin: bool


class ErrorOut(BaseModel):
    error: str


class FieldProblemOut(BaseModel):
    field: str
    reason: str


class ValidationErrorOut(BaseModel):
    error: str
    fields: list[FieldProblemOut]


# --- who is asking ----------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    viewer: Viewer
    session: Session | None  # None: an API token, no CSRF needed


class NotSignedInError(AuthError):
    """No valid session cookie or API token."""


class CsrfError(AuthError):
    """A cookie-authenticated write without the session's CSRF token."""


class ForbiddenError(AuthError):
    """Signed in, but not allowed here (``/metrics`` for a non-admin)."""


def _service(request: Request) -> FeedService:
    service: FeedService = request.app.state.feed
    return service


def _caller(request: Request) -> Caller | None:
    service = _service(request)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        viewer = service.token_viewer(header[7:].strip())
        return Caller(viewer, None) if viewer else None
    found = service.session_viewer(request.cookies.get(SESSION_COOKIE))
    return Caller(*found) if found else None


def api_caller(request: Request) -> Caller:
    caller = _caller(request)
    if caller is None:
        raise NotSignedInError(
            _("Sign in first, or send an API token as Authorization: Bearer ...")
        )
    return caller


def _require_csrf(caller: Caller, presented: str | None) -> None:
    if caller.session is not None and not csrf_ok(caller.session, presented):
        raise CsrfError(
            _("The form has expired or did not come from this site; reload the page.")
        )


CallerDep = Annotated[Caller, Depends(api_caller)]


# --- the app ----------------------------------------------------------------------


def create_app(
    service: FeedService, *, extra_routers: Iterable[APIRouter] = ()
) -> FastAPI:
    """The FastAPI app over ``service``; ``extra_routers`` (the webhook) are mounted."""
    app = FastAPI(
        title="dscrm-bridge feed",
        version="1",
        description="The SuiteCRM change feed: entries, replies, mentions.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.feed = service
    lang = normalize_language(service.settings.language)
    app.state.templates = page.environment(lang)
    app.state.gettext = translator(lang)
    app.state.lang = lang
    app.include_router(_api_router())
    app.include_router(_page_router())
    for router in extra_routers:
        app.include_router(router)
    _install_errors(app)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if request.url.path != "/static/feed.css":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app


def _install_errors(app: FastAPI) -> None:
    statuses: list[tuple[type[BridgeError], int]] = [
        (TooManyAttemptsError, 429),
        (CsrfError, 403),
        (ForbiddenError, 403),
        (AuthError, 401),
        (NotFoundError, 404),
        (InputError, 400),
        (DatabaseError, 503),
        (SuiteCRMError, 502),
    ]

    async def handle(request: Request, exc: Exception) -> Response:
        status = next(code for kind, code in statuses if isinstance(exc, kind))
        if status >= 500:
            logger.error("%s %s failed: %s", request.method, request.url.path, exc)
        if not _answers_json(request) and isinstance(exc, NotSignedInError):
            return _to_login(request)
        if not _answers_json(request):
            return _page_problem(request, exc, status)
        headers = {}
        if isinstance(exc, TooManyAttemptsError):
            headers["Retry-After"] = str(exc.retry_after_s)
        return JSONResponse({"error": str(exc)}, status_code=status, headers=headers)

    for kind, _status in statuses:
        app.add_exception_handler(kind, handle)
    app.add_exception_handler(RequestValidationError, _invalid_request)


def _answers_json(request: Request) -> bool:
    return request.url.path.startswith(API) or request.url.path == "/metrics"


# Why a request's field was refused, by pydantic's error type; {limit} comes from
# the route's own constraint, never from what the client sent.
_REASONS = {
    "missing": N_("{field} is required."),
    "greater_than_equal": N_("{field} must be at least {limit}."),
    "greater_than": N_("{field} must be greater than {limit}."),
    "less_than_equal": N_("{field} must be at most {limit}."),
    "less_than": N_("{field} must be less than {limit}."),
    "int_parsing": N_("{field} must be a whole number."),
    "int_type": N_("{field} must be a whole number."),
    "string_too_short": N_("{field} needs at least {limit} characters."),
    "string_too_long": N_("{field} may have at most {limit} characters."),
    "string_type": N_("{field} must be text."),
    "json_invalid": N_("The request body is not valid JSON."),
    "model_attributes_type": N_("The request body must be a JSON object."),
    "dict_type": N_("The request body must be a JSON object."),
}
_INVALID = N_("{field} has a value that is not allowed.")
_LIMIT_KEYS = ("ge", "gt", "le", "lt", "min_length", "max_length")
_PLACES = ("body", "query", "path", "header", "cookie", "form")


def validation_problems(
    errors: Iterable[dict[str, Any]], gettext: Callable[[str], str]
) -> list[dict[str, str]]:
    """Each refused field with a short reason in ``gettext``'s language.

    Only the field's name and the route's own limit are shown: what the client
    sent is never repeated back.
    """
    problems = []
    for error in errors:
        path = [str(part) for part in error.get("loc", ())]
        named = path[1:] if path[:1] and path[0] in _PLACES else path
        field = ".".join(named) or (path[0] if path else "")
        ctx = error.get("ctx") or {}
        limit = next((ctx[key] for key in _LIMIT_KEYS if key in ctx), "")
        template = _REASONS.get(str(error.get("type")), _INVALID)
        reason = gettext(template).format(field=field, limit=limit)
        problems.append({"field": field, "reason": reason})
    return problems


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    gettext = request.app.state.gettext
    problems = validation_problems(exc.errors(), gettext)
    message = " ".join(p["reason"] for p in problems)
    if not _answers_json(request):
        return _page_problem(request, InputError(message), 400)
    return JSONResponse({"error": message, "fields": problems}, status_code=422)


# --- API --------------------------------------------------------------------------


def _filter(
    module: list[str],
    actor: list[str],
    record: str | None,
    action: list[str],
    since: str | None,
    until: str | None,
) -> FeedFilter:
    actions = []
    for value in (a for a in action if a):
        try:
            actions.append(FeedAction(value))
        except ValueError as exc:
            raise InputError(
                _(
                    "action={value!r} is not a kind of change; use one of {kinds}."
                ).format(value=value, kinds=", ".join(a.value for a in FeedAction))
            ) from exc
    return FeedFilter(
        modules=tuple(m for m in module if m),
        actor_ids=tuple(a for a in actor if a),
        record_id=record or None,
        actions=tuple(actions),
        since=parse_time(since, "since"),
        until=parse_time(until, "until"),
    )


ListParam = Annotated[list[str], Query()]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut},
    401: {"model": ErrorOut},
    404: {"model": ErrorOut},
    422: {"model": ValidationErrorOut},
}


def _api_router() -> APIRouter:
    router = APIRouter()

    @router.get(f"{API}/entries", response_model=PageOut, responses=ERRORS)
    def list_entries(
        request: Request,
        caller: CallerDep,
        module: ListParam = [],  # noqa: B006 - FastAPI reads the default
        actor: Annotated[
            list[str], Query(description="SuiteCRM user id of who made the change")
        ] = [],  # noqa: B006
        group: Annotated[
            str | None, Query(description="Security group id: its records")
        ] = None,
        record: Annotated[str | None, Query(description="Record id")] = None,
        action: Annotated[
            list[str], Query(description="create, update, delete, relate, unrelate")
        ] = [],  # noqa: B006
        since: Annotated[str | None, Query(description="From (ISO 8601)")] = None,
        until: Annotated[str | None, Query(description="Before (ISO 8601)")] = None,
        cursor: str | None = None,
        limit: Annotated[int | None, Query(ge=1, le=200)] = None,
    ) -> Response:
        """Entries the caller may see, newest first; replies always included."""
        wanted = _filter(module, actor, record, action, since, until)
        page = _service(request).timeline(
            caller.viewer, wanted, group_id=group, cursor=cursor, limit=limit
        )
        # Already plain JSON types: skip re-validating them against PageOut,
        # which documents the shape (the list is the hot path).
        return JSONResponse(page)

    @router.get(
        f"{API}/entries/{{entry_id}}", response_model=EntryOut, responses=ERRORS
    )
    def get_entry(request: Request, caller: CallerDep, entry_id: int) -> dict[str, Any]:
        """One entry with all of its replies."""
        return _service(request).entry(caller.viewer, entry_id)

    @router.post(
        f"{API}/entries/{{entry_id}}/replies",
        response_model=ReplyOut,
        status_code=201,
        responses={**ERRORS, 403: {"model": ErrorOut}},
    )
    def post_reply(
        request: Request, caller: CallerDep, entry_id: int, reply: ReplyIn
    ) -> dict[str, Any]:
        """Reply under an entry; ``@user_name`` (or ``@张三``) mentions a user."""
        _require_csrf(caller, request.headers.get("x-csrf-token"))
        return _service(request).reply(caller.viewer, entry_id, reply.body)

    @router.get(f"{API}/mentions", response_model=MentionsOut, responses=ERRORS)
    def list_mentions(
        request: Request,
        caller: CallerDep,
        before: int | None = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 30,
    ) -> dict[str, Any]:
        """Replies that mention the caller (「@我」), newest first."""
        return _service(request).mentions(caller.viewer, before=before, limit=limit)

    @router.get(f"{API}/me", response_model=MeOut, responses=ERRORS)
    def me(caller: CallerDep) -> dict[str, Any]:
        """The signed-in user."""
        viewer = caller.viewer
        return {
            "id": viewer.id,
            "user_name": viewer.user_name,
            "name": viewer.name,
            "is_admin": viewer.is_admin,
        }

    @router.get("/healthz")
    def healthz(request: Request) -> JSONResponse:
        """Both databases answer and the bridge's schema is current."""
        report = _service(request).health()
        status = 200 if report["status"] == "ok" else 503
        return JSONResponse(report, status_code=status)

    @router.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}},
    )
    def metrics(request: Request, caller: CallerDep) -> PlainTextResponse:
        """Entries served, replies, failed logins, sync lag (Prometheus text).

        Only for an administrator: their session, or an API token made for them.
        """
        if not caller.viewer.is_admin:
            raise ForbiddenError(_("Only an administrator may read the metrics."))
        return PlainTextResponse(
            _service(request).metrics_text(),
            media_type="text/plain; version=0.0.4; charset=utf-8",
        )

    return router


# --- the page ---------------------------------------------------------------------


def _page_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/static/feed.css")
    def stylesheet() -> FileResponse:
        return FileResponse(
            page.STYLESHEET,
            media_type="text/css; charset=utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @router.get("/", response_class=HTMLResponse)
    def timeline(request: Request) -> Response:
        caller = _page_caller(request)
        if caller is None:
            return _to_login(request)
        params = request.query_params
        chosen: dict[str, Any] = {
            "module": [m for m in params.getlist("module") if m],
            "actor": [a for a in params.getlist("actor") if a],
            "action": [a for a in params.getlist("action") if a],
            "group": params.get("group") or "",
            "record": params.get("record") or "",
            "since": params.get("since") or "",
            "until": params.get("until") or "",
        }
        wanted = _filter(
            chosen["module"],
            chosen["actor"],
            chosen["record"],
            chosen["action"],
            chosen["since"],
            _day_after(chosen["until"]),
        )
        service = _service(request)
        result = service.timeline(
            caller.viewer,
            wanted,
            group_id=chosen["group"] or None,
            cursor=params.get("cursor") or None,
        )
        next_url = None
        if result["next_cursor"]:
            query = [(k, v) for k, v in params.multi_items() if k != "cursor"]
            next_url = "/?" + urlencode([*query, ("cursor", result["next_cursor"])])
        return _render(
            request,
            "timeline.html",
            caller,
            page="timeline",
            entries=result["entries"],
            next_url=next_url,
            chosen=chosen,
            modules=_module_choices(request),
            people=service.people(),
            groups=service.groups(caller.viewer),
        )

    @router.get("/entries/{entry_id}", response_class=HTMLResponse)
    def entry_page(request: Request, entry_id: int) -> Response:
        caller = _page_caller(request)
        if caller is None:
            return _to_login(request)
        entry = _service(request).entry(caller.viewer, entry_id)
        return _render(request, "entry.html", caller, page="entry", entry=entry)

    @router.get("/mentions", response_class=HTMLResponse)
    def mentions_page(request: Request, before: int | None = None) -> Response:
        caller = _page_caller(request)
        if caller is None:
            return _to_login(request)
        found = _service(request).mentions(caller.viewer, before=before)
        next_url = None
        if found["next_before"]:
            next_url = "/mentions?" + urlencode({"before": found["next_before"]})
        return _render(
            request,
            "mentions.html",
            caller,
            page="mentions",
            mentions=found["mentions"],
            next_url=next_url,
        )

    @router.post("/entries/{entry_id}/replies")
    def reply_form(
        request: Request,
        entry_id: int,
        body: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/",  # noqa: A002 - the form field's name
    ) -> Response:
        caller = _page_caller(request)
        if caller is None:
            return _to_login(request)
        _require_csrf(caller, csrf_token)
        _service(request).reply(caller.viewer, entry_id, body)
        return RedirectResponse(_local_path(next), status_code=303)

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> Response:  # noqa: A002
        return _login_form(request, next=_local_path(next))

    @router.post("/login")
    def login(
        request: Request,
        user_name: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/",  # noqa: A002
    ) -> Response:
        service = _service(request)
        target = _local_path(next)
        if not service.sessions.login_form_ok(
            request.cookies.get(LOGIN_COOKIE), csrf_token
        ):
            problem = _(
                "The form has expired or did not come from this site; reload the page."
            )
            return _login_form(request, next=target, problem=problem, status=403)
        address = request.client.host if request.client else "unknown"
        try:
            _viewer, cookie = service.login(user_name, password, address)
        except TooManyAttemptsError as exc:
            response = _login_form(
                request, next=target, problem=str(exc), user_name=user_name, status=429
            )
            response.headers["Retry-After"] = str(exc.retry_after_s)
            return response
        except LoginRefusedError as exc:
            return _login_form(
                request, next=target, problem=str(exc), user_name=user_name, status=401
            )
        redirect = RedirectResponse(target, status_code=303)
        redirect.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=service.settings.session_max_age_s,
            httponly=True,
            samesite="lax",
            secure=service.settings.secure_cookies,
            path="/",
        )
        redirect.delete_cookie(LOGIN_COOKIE, path="/")
        return redirect

    @router.post("/logout")
    def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
        caller = _page_caller(request)
        if caller is not None and caller.session is not None:
            _require_csrf(caller, csrf_token)
            _service(request).logout(caller.session)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return router


def _page_caller(request: Request) -> Caller | None:
    found = _service(request).session_viewer(request.cookies.get(SESSION_COOKIE))
    return Caller(*found) if found else None


def _render(
    request: Request,
    template: str,
    caller: Caller | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    back = request.url.path
    if request.url.query:
        back += "?" + request.url.query
    html = page.render(
        request.app.state.templates,
        template,
        viewer=caller.viewer if caller else None,
        csrf=caller.session.csrf if caller and caller.session else "",
        now=datetime.now(UTC),
        base_path="",
        back=back,
        lang_tag="zh-CN" if request.app.state.lang == "zh_CN" else "en",
        **context,
    )
    return HTMLResponse(html, status_code=status)


def _login_form(
    request: Request,
    *,
    next: str,
    problem: str | None = None,  # noqa: A002
    user_name: str = "",
    status: int = 200,
) -> HTMLResponse:
    token, cookie = _service(request).sessions.new_login_form()
    response = _render(
        request,
        "login.html",
        None,
        status=status,
        page="login",
        next=next,
        problem=problem,
        user_name=user_name,
        login_token=token,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=_service(request).settings.secure_cookies,
        path="/",
    )
    return response


def _page_problem(request: Request, exc: Exception, status: int) -> HTMLResponse:
    caller = _page_caller(request) if status != 503 else None
    return _render(
        request,
        "problem.html",
        caller,
        status=status,
        page="problem",
        problem=str(exc),
    )


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)


def _local_path(value: str) -> str:
    """Only a path of this site may be a redirect target (no //host, no scheme)."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _day_after(value: str) -> str | None:
    """The page's "until" date is inclusive: the API bound is the next midnight."""
    if not value:
        return None
    try:
        day = datetime.fromisoformat(value)
    except ValueError:
        return value
    if len(value) > 10:
        return value
    return (day + timedelta(days=1)).date().isoformat()


def _module_choices(request: Request) -> list[tuple[str, str]]:
    service = _service(request)
    lang = request.app.state.lang
    return [(m, module_label(m, lang)) for m in service.settings.modules]
