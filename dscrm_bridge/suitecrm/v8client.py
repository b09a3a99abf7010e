"""The one HTTP path to SuiteCRM: a V8 JSON:API client over one requests.Session.

It owns signing in (OAuth2, see :mod:`dscrm_bridge.suitecrm.oauth`), retries with
backoff, decoding every answer SuiteCRM gives - records, pages and each error body
shape - and the translation of failures into :mod:`dscrm_bridge.errors`::

    TransportError      no answer (refused, timeout, TLS), after retries
    AuthError           a credential or token was rejected; names which one
    AccessDeniedError   SuiteCRM's AccessDeniedException (Q10: HTTP 400)
    NotFoundError       "... is not found" / "does not exist" / Slim's 404
    ApiError            any other error answer, with SuiteCRM's ``detail``

No text leaving this module carries a password, client secret or token.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import logging
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from dscrm_bridge.errors import (
    AccessDeniedError,
    ApiError,
    AuthError,
    InputError,
    NotFoundError,
    TransportError,
)
from dscrm_bridge.i18n import _
from dscrm_bridge.suitecrm.oauth import Token, TokenKeeper, TokenReply, make_credentials
from dscrm_bridge.suitecrm.redact import Redactor

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_RETRIES = 3
DEFAULT_BACKOFF_BASE_S = 0.5
DEFAULT_BACKOFF_MAX_S = 8.0
DEFAULT_PAGE_SIZE = 100
JSON_API = "application/vnd.api+json"
FILTER_OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "like")  # Q29
DB_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"

_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_NOT_FOUND = re.compile(
    r"is not found|does not exist|cannot load relationship|is not related",
    re.IGNORECASE,
)
# Q13: SuiteCRM encodes only these four on output; "&" itself is left alone.
_ENTITIES = {"&quot;": '"', "&#039;": "'", "&lt;": "<", "&gt;": ">"}
_ENTITY = re.compile("|".join(map(re.escape, _ENTITIES)))
_TAG = re.compile(r"<[^>]*>")
_JSON = json.JSONDecoder()


@dataclass(frozen=True)
class Record:
    """One bean as the V8 API returns it; ``type`` is the object name (Q7)."""

    type: str
    id: str
    attributes: Mapping[str, Any]
    relationships: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.attributes.get(name, default)


@dataclass(frozen=True)
class Page:
    """One page of a list; ``total_pages`` ignores ACL and must not be trusted (Q28)."""

    records: tuple[Record, ...]
    number: int | None
    size: int | None
    total_pages: int | None
    links: Mapping[str, str | None]
    meta: Mapping[str, Any]


@dataclass(frozen=True)
class _Reply:
    """A decoded HTTP answer: JSON body (None when there is none) and trailing text."""

    status: int
    body: Any
    trailing: str
    raw: str
    headers: Mapping[str, str]
    retried: bool


def format_datetime(value: dt.datetime) -> str:
    """``value`` as SuiteCRM stores it: UTC ``Y-m-d H:i:s``.

    Q17: ISO 8601 input is silently stored as NULL, so every datetime written or
    filtered on goes out in this form.  A naive datetime is refused: its zone is
    unknown.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(
            _("A datetime sent to SuiteCRM needs a time zone: {value}").format(
                value=value.isoformat()
            )
        )
    return value.astimezone(dt.UTC).strftime(DB_DATETIME_FORMAT)


def parse_datetime(value: str | None) -> dt.datetime | None:
    """An aware UTC datetime from the API's ``...+00:00`` output (Q16); None if empty.

    The database form ``Y-m-d H:i:s`` is read as UTC too.
    """
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(
            _("SuiteCRM sent a datetime that cannot be read: {value}").format(
                value=value
            )
        ) from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def decode_entities(value: Any) -> Any:
    """Undo SuiteCRM's output encoding once, in strings nested anywhere in ``value``.

    Q13: only ``&quot; &#039; &lt; &gt;`` are produced, so only those are decoded;
    an ``&amp;`` the user typed survives.  NOTE: a literal ``&lt;`` typed by a user
    comes back as ``<``: the API's output cannot tell the two apart.
    """
    if isinstance(value, str):
        return _ENTITY.sub(lambda match: _ENTITIES[match.group(0)], value)
    if isinstance(value, Mapping):
        return {key: decode_entities(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_entities(item) for item in value]
    return value


class V8Client:
    """SuiteCRM's V8 JSON:API: sign in, read and write records, relationships, meta."""

    def __init__(
        self,
        base_url: str,
        *,
        client_id: str,
        client_secret: str,
        grant_type: str = "password",
        username: str | None = None,
        password: str | None = None,
        api_prefix: str = "/Api",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        verify_tls: bool = True,
        session: requests.Session | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_base_s: float = DEFAULT_BACKOFF_BASE_S,
        backoff_max_s: float = DEFAULT_BACKOFF_MAX_S,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = make_credentials(
            client_id=client_id,
            client_secret=client_secret,
            grant_type=grant_type,
            username=username,
            password=password,
        )
        self.base_url = base_url.rstrip("/")
        self._api_root = self.base_url + _normalize_prefix(api_prefix)
        self._timeout_s = timeout_s
        self._verify_tls = verify_tls
        self._session = session or requests.Session()
        self._max_retries = max(0, max_retries)
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._redact = Redactor(self._credentials.secrets())
        self._tokens = TokenKeeper(
            self._credentials,
            post=self._post_token,
            clock=clock,
            on_token=self._remember_secrets,
        )

    def __repr__(self) -> str:
        return f"V8Client({self.base_url!r}, client_id={self._credentials.client_id!r})"

    def __enter__(self) -> V8Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    # -- records ---------------------------------------------------------------

    def current_user(self) -> Record:
        """The signed-in user; NOTE: its dates come in the display format (Q14)."""
        return self._record(self._call("GET", "/V8/current-user"))

    def get(
        self, module: str, record_id: str, *, fields: Sequence[str] | None = None
    ) -> Record:
        """One record by id; deleted and unknown ids both raise NotFoundError (Q30)."""
        params = _fields_param(module, fields)
        path = _path("V8", "module", module, record_id)
        return self._record(self._call("GET", path, params=params))

    def create(
        self,
        module: str,
        attributes: Mapping[str, Any],
        *,
        record_id: str | None = None,
    ) -> Record:
        """Create a record under a client-chosen id, so a retry cannot duplicate it.

        Q21: SuiteCRM keeps ``data.id``; when a retried POST meets "already exist",
        the first attempt did succeed and the stored record is returned.
        """
        record_id = record_id or str(uuid.uuid4())
        data = {"type": module, "id": record_id, "attributes": _wire(attributes)}
        reply = self._exchange("POST", "/V8/module", body={"data": data})
        if _already_created(reply, self._detail(reply)):
            logger.warning(
                "create of %s %s was retried and had already succeeded; reading it",
                module,
                record_id,
            )
            return self.get(module, record_id)
        return self._record(self._checked("POST", "/V8/module", reply))

    def create_document(
        self,
        filename: str,
        content: bytes,
        *,
        attributes: Mapping[str, Any] | None = None,
    ) -> Record:
        """Upload ``content`` as a new Document (Q25: filename, base64 contents)."""
        payload = {
            "document_name": filename,
            "revision": "1",
            **(attributes or {}),
            "filename": filename,
            "filecontents": base64.b64encode(content).decode("ascii"),
        }
        return self.create("Documents", payload)

    def update(
        self, module: str, record_id: str, attributes: Mapping[str, Any]
    ) -> Record:
        """Change attributes of a record; SuiteCRM answers 201 (Q11)."""
        data = {"type": module, "id": record_id, "attributes": _wire(attributes)}
        return self._record(self._call("PATCH", "/V8/module", body={"data": data}))

    def delete(self, module: str, record_id: str) -> None:
        """Delete a record; a retried delete that finds it gone has succeeded."""
        path = _path("V8", "module", module, record_id)
        self._call("DELETE", path, done_if_retried=NotFoundError)

    def list(
        self,
        module: str,
        *,
        fields: Sequence[str] | None = None,
        filters: Mapping[str, Any] | None = None,
        operator: str = "and",
        sort: str | None = None,
        page_size: int | None = None,
        page_number: int | None = None,
    ) -> Page:
        """One page of ``module``; without ``page_size`` SuiteCRM returns every row.

        ``filters`` maps a field to ``{op: value}`` (ops of Q29) or to a plain value
        meaning ``eq``; datetimes are sent as UTC ``Y-m-d H:i:s`` (Q17/Q18).
        """
        params = {
            **_fields_param(module, fields),
            **_filter_params(filters, operator),
            **_page_params(sort, page_size, page_number),
        }
        body = self._call("GET", _path("V8", "module", module), params=params)
        return self._page(body, number=page_number, size=page_size)

    def iter_records(
        self,
        module: str,
        *,
        fields: Sequence[str] | None = None,
        filters: Mapping[str, Any] | None = None,
        operator: str = "and",
        sort: str = "id",
        page_size: int = DEFAULT_PAGE_SIZE,
        max_pages: int | None = None,
    ) -> Iterator[Record]:
        """Every record of ``module``, page by page, each id once (Q27/Q28)."""

        def fetch(number: int) -> Page:
            return self.list(
                module,
                fields=fields,
                filters=filters,
                operator=operator,
                sort=sort,
                page_size=page_size,
                page_number=number,
            )

        return iterate_pages(fetch, page_size=page_size, max_pages=max_pages)

    # -- relationships ---------------------------------------------------------

    def relationships(
        self,
        module: str,
        record_id: str,
        link: str,
        *,
        filters: Mapping[str, Any] | None = None,
        operator: str = "and",
        sort: str | None = None,
        page_size: int | None = None,
        page_number: int | None = None,
    ) -> Page:
        """Records related to one record through ``link`` (Q33)."""
        params = {
            **_filter_params(filters, operator),
            **_page_params(sort, page_size, page_number),
        }
        path = _path("V8", "module", module, record_id, "relationships", link)
        body = self._call("GET", path, params=params)
        return self._page(body, number=page_number, size=page_size)

    def relate(
        self,
        module: str,
        record_id: str,
        link: str,
        related_module: str,
        related_id: str,
    ) -> Mapping[str, Any]:
        """Link two records through the named ``link`` (Q33); returns the meta."""
        path = _path("V8", "module", module, record_id, "relationships", link)
        body = {"data": {"type": related_module, "id": related_id}}
        return dict(self._call("POST", path, body=body).get("meta") or {})

    def unrelate(self, module: str, record_id: str, link: str, related_id: str) -> None:
        """Remove one link; a retried unlink that finds nothing to remove succeeded."""
        path = _path(
            "V8", "module", module, record_id, "relationships", link, related_id
        )
        self._call("DELETE", path, done_if_retried=NotFoundError)

    # -- meta and session ------------------------------------------------------

    def meta_modules(self) -> dict[str, Any]:
        """Modules with their labels and verbs; not an ACL probe (Q36)."""
        return _attributes_of(self._call("GET", "/V8/meta/modules"))

    def meta_fields(self, module: str) -> dict[str, Any]:
        """The field definitions (vardefs) of ``module``."""
        body = self._call("GET", _path("V8", "meta", "fields", module))
        return _attributes_of(body)

    def logout(self) -> None:
        """Revoke the current access token (Q6); nothing to do when not signed in."""
        token = self._tokens.forget()
        if token is None:
            return
        url = self._api_root + "/V8/logout"
        reply = self._send("POST", url, bearer=token.access_token, idempotent=False)
        if reply.status not in (200, 401):
            raise self._api_error("POST", "/V8/logout", reply)

    # -- signing in ------------------------------------------------------------

    def _post_token(self, body: Mapping[str, str]) -> TokenReply:
        reply = self._send("POST", self._api_root + "/access_token", body=body)
        return TokenReply(reply.status, reply.body, self._detail(reply))

    def _remember_secrets(self, token: Token) -> None:
        self._redact.add(token.access_token)
        self._redact.add(token.refresh_token)

    # -- one API call ----------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        done_if_retried: type[ApiError] | None = None,
    ) -> dict[str, Any]:
        """Send one V8 request and return its JSON object, or raise the right error."""
        reply = self._exchange(method, path, params=params, body=body)
        try:
            return self._checked(method, path, reply)
        except ApiError as exc:
            if done_if_retried and reply.retried and isinstance(exc, done_if_retried):
                logger.warning(
                    "%s %s was retried and had already succeeded", method, path
                )
                return {}
            raise

    def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> _Reply:
        """Send with the current token; on a 401 sign in again once and repeat."""
        url = self._api_root + path
        reply = self._send(
            method, url, params=params, body=body, bearer=self._tokens.access_token()
        )
        if reply.status != 401:
            return reply

        logger.info(
            "SuiteCRM refused the access token for %s %s; signing in again",
            method,
            path,
        )
        bearer = self._tokens.sign_in()
        reply = self._send(method, url, params=params, body=body, bearer=bearer)
        if reply.status == 401:
            raise AuthError(
                _(
                    "SuiteCRM refused a fresh access token for {method} {path}; "
                    "check that the OAuth2 client and the user are active"
                ).format(method=method, path=path),
                credential="access token",
                status=401,
                path=path,
                detail=self._detail(reply),
            )
        return reply

    def _checked(self, method: str, path: str, reply: _Reply) -> dict[str, Any]:
        if reply.status >= 400:
            raise self._api_error(method, path, reply)
        if not isinstance(reply.body, dict):
            raise ApiError(
                _(
                    "SuiteCRM answered {method} {path} with a body that is not JSON"
                ).format(method=method, path=path),
                status=reply.status,
                path=path,
                detail=self._redact(_html_text(reply.raw)),
            )
        if reply.trailing:
            # Q23: a Users create without email1 appends plain text after the JSON.
            logger.warning(
                "SuiteCRM appended text after its answer to %s %s: %s",
                method,
                path,
                self._redact(reply.trailing[:200]),
            )
        return reply.body

    def _api_error(self, method: str, path: str, reply: _Reply) -> ApiError:
        """The error for a refused V8 request (Q10: nearly everything is HTTP 400)."""
        detail = self._detail(reply)
        fields: dict[str, Any] = {
            "status": reply.status,
            "path": path,
            "detail": detail,
        }
        shown = detail or _("no details given")
        if reply.status == 403 or "AccessDeniedException" in detail:
            return AccessDeniedError(
                _(
                    "SuiteCRM does not allow the signed-in user to {method} {path}"
                ).format(method=method, path=path),
                **fields,
            )
        if reply.status == 404 or _NOT_FOUND.search(detail):
            return NotFoundError(
                _(
                    "SuiteCRM found no such module, record or link for "
                    "{method} {path}: {detail}"
                ).format(method=method, path=path, detail=shown),
                **fields,
            )
        return ApiError(
            _("SuiteCRM answered {method} {path} with HTTP {status}: {detail}").format(
                method=method, path=path, status=reply.status, detail=shown
            ),
            retriable=reply.status in _RETRY_STATUSES or reply.status >= 500,
            **fields,
        )

    def _detail(self, reply: _Reply) -> str:
        return self._redact(_error_detail(reply.body, reply.raw))

    # -- HTTP with retries -----------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        bearer: str | None = None,
        idempotent: bool = True,
    ) -> _Reply:
        """One request, repeated with backoff on transport errors, 5xx and 429.

        Every request this client makes is safe to repeat (creates carry their id,
        deletes and unlinks accept "already gone" after a retry) except logout.
        """
        attempts = 1 + (self._max_retries if idempotent else 0)
        attempt = 0
        while True:
            attempt += 1
            retry_after: str | None = None
            try:
                reply = self._attempt(method, url, params, body, bearer, attempt > 1)
            except TransportError as exc:
                if attempt >= attempts:
                    raise
                reason = exc.message
            else:
                if attempt >= attempts or not _should_retry(reply):
                    return reply
                retry_after = reply.headers.get("Retry-After")
                reason = f"HTTP {reply.status}"
            delay_s = self._backoff_s(attempt, retry_after)
            logger.warning(
                "%s %s failed (%s); retry %d of %d in %.1f s",
                method,
                urlsplit(url).path,
                reason,
                attempt,
                attempts - 1,
                delay_s,
            )
            self._sleep(delay_s)

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        body: Any,
        bearer: str | None,
        retried: bool,
    ) -> _Reply:
        headers = {"Accept": JSON_API}
        data = None
        if body is not None:
            headers["Content-Type"] = JSON_API
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        path = urlsplit(url).path
        started = time.perf_counter()
        try:
            response = self._session.request(
                method,
                url,
                params=dict(params or {}),
                data=data,
                headers=headers,
                timeout=self._timeout_s,
                verify=self._verify_tls,
            )
        except requests.Timeout as exc:
            raise TransportError(
                _("SuiteCRM at {url} did not answer within {seconds} seconds").format(
                    url=self.base_url, seconds=self._timeout_s
                ),
                url=self.base_url,
            ) from exc
        except requests.RequestException as exc:
            raise TransportError(
                _("Could not reach SuiteCRM at {url}: {reason}").format(
                    url=self.base_url, reason=self._redact(type(exc).__name__)
                ),
                url=self.base_url,
            ) from exc
        logger.debug(
            "%s %s -> %d (%.0f ms)",
            method,
            path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        raw = response.content.decode("utf-8", errors="replace")
        parsed, trailing = _parse_json_prefix(raw)
        return _Reply(
            status=response.status_code,
            body=parsed,
            trailing=trailing,
            raw=raw,
            headers=response.headers,
            retried=retried,
        )

    def _backoff_s(self, attempt: int, retry_after: str | None) -> float:
        """Exponential backoff with jitter, at least Retry-After, at most the cap."""
        ceiling_s = min(self._backoff_max_s, self._backoff_base_s * 2 ** (attempt - 1))
        delay_s = random.uniform(ceiling_s / 2, ceiling_s)
        hinted_s = _retry_after_s(retry_after)
        if hinted_s is not None:
            delay_s = max(delay_s, hinted_s)
        return min(delay_s, self._backoff_max_s)

    # -- decoding --------------------------------------------------------------

    def _record(self, body: Mapping[str, Any]) -> Record:
        data = body.get("data")
        if not isinstance(data, Mapping):
            raise ApiError(_("SuiteCRM answered without the expected record"))
        return _to_record(data)

    def _page(
        self, body: Mapping[str, Any], *, number: int | None, size: int | None
    ) -> Page:
        data = body.get("data") or []
        meta = body.get("meta") or {}
        total = meta.get("total-pages") if isinstance(meta, Mapping) else None
        return Page(
            records=tuple(
                _to_record(item) for item in data if isinstance(item, Mapping)
            ),
            number=number,
            size=size,
            total_pages=total if isinstance(total, int) else None,
            links=dict(body.get("links") or {}),
            meta=dict(meta) if isinstance(meta, Mapping) else {},
        )


# -- module helpers ------------------------------------------------------------


def iterate_pages(
    fetch: Callable[[int], Page], *, page_size: int, max_pages: int | None
) -> Iterator[Record]:
    """Yield records page after page, never trusting ``total-pages`` or ``next``.

    Q28: total-pages counts rows the user may not see, so paging stops at the first
    empty or short page.  Q27/E4: a ``next`` link can point at the same page, so
    page numbers are counted here, from 1, and a page bringing no new id ends it.
    """
    if page_size < 1:
        # Q27: SuiteCRM refuses page[size]=0 with a 400.
        raise InputError(
            _("The page size must be at least 1, not {value}").format(value=page_size)
        )
    seen: set[str] = set()
    number = 1
    while True:
        page = fetch(number)
        fresh = [record for record in page.records if record.id not in seen]
        for record in fresh:
            seen.add(record.id)
            yield record
        if len(page.records) < page_size:
            return
        if not fresh:
            logger.warning("page %d repeated records already seen; stopping", number)
            return
        if max_pages is not None and number >= max_pages:
            logger.warning("stopped after %d pages (the configured cap)", number)
            return
        number += 1


def _to_record(data: Mapping[str, Any]) -> Record:
    attributes = data.get("attributes") or {}
    relationships = data.get("relationships") or {}
    return Record(
        type=str(data.get("type") or ""),
        id=str(data.get("id") or ""),
        attributes=decode_entities(dict(attributes)),
        relationships=dict(relationships) if isinstance(relationships, Mapping) else {},
    )


def _attributes_of(body: Mapping[str, Any]) -> dict[str, Any]:
    data = body.get("data") or {}
    attributes = data.get("attributes") if isinstance(data, Mapping) else None
    return dict(attributes or {})


def _normalize_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    return "/" + prefix if prefix else ""


def _path(*segments: str) -> str:
    return "".join("/" + quote(str(segment), safe="") for segment in segments)


def _fields_param(module: str, fields: Sequence[str] | None) -> dict[str, str]:
    """Q32: sparse fieldsets are keyed by the module name."""
    return {f"fields[{module}]": ",".join(fields)} if fields else {}


def _page_params(
    sort: str | None, page_size: int | None, page_number: int | None
) -> dict[str, str]:
    params = {}
    if sort:
        params["sort"] = sort
    if page_size is not None:
        params["page[size]"] = str(page_size)
    if page_number is not None:
        params["page[number]"] = str(page_number)
    return params


def _filter_params(filters: Mapping[str, Any] | None, operator: str) -> dict[str, str]:
    """``filter[field][op]=value`` pairs (Q29); one ``filter[operator]`` joins all."""
    if not filters:
        return {}
    if operator not in ("and", "or"):
        raise InputError(
            _("The filter operator must be and or or, not {operator}").format(
                operator=operator
            )
        )
    params = {"filter[operator]": operator}
    for name, condition in filters.items():
        if not isinstance(condition, Mapping):
            condition = {"eq": condition}
        for op, value in condition.items():
            if str(op).lower() not in FILTER_OPERATORS:
                raise InputError(
                    _(
                        "Unknown filter operation {op} on {field}; use one of {ops}"
                    ).format(op=op, field=name, ops=", ".join(FILTER_OPERATORS))
                )
            params[f"filter[{name}][{op}]"] = _filter_value(value)
    return params


def _filter_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(_wire(value))


def _already_created(reply: _Reply, detail: str) -> bool:
    """Q21/F20: a repeated create of an id that exists answers "is already exist"."""
    return reply.retried and reply.status == 400 and "already exist" in detail


def _wire(value: Any) -> Any:
    """``value`` as SuiteCRM reads it: datetimes as UTC ``Y-m-d H:i:s`` (Q17)."""
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: _wire(item) for key, item in value.items()}
    return value


def _parse_json_prefix(text: str) -> tuple[Any, str]:
    """The JSON value at the start of ``text`` and whatever follows it (Q23)."""
    stripped = text.lstrip()
    if not stripped or stripped[0] not in "{[":
        return None, ""
    try:
        value, end = _JSON.raw_decode(stripped)
    except ValueError:
        return None, ""
    return value, stripped[end:].strip()


def _error_detail(body: Any, raw: str) -> str:
    """SuiteCRM's own explanation from any error body shape it produces."""
    if isinstance(body, Mapping):
        errors = body.get("errors")
        if isinstance(errors, Mapping):  # Q10: an object, not an array
            errors = [errors]
        if isinstance(errors, list):
            texts = [
                str(item.get("detail") or item.get("title") or "").strip()
                for item in errors
                if isinstance(item, Mapping)
            ]
            return "; ".join(text for text in texts if text)
        message = str(body.get("message") or body.get("error") or "")
        hint = body.get("hint")  # Q5: the OAuth shape explains itself in "hint"
        return f"{message} ({hint})".strip() if hint else message.strip()
    return _html_text(raw)


def _html_text(raw: str) -> str:
    """Readable text of an HTML or plain body, shortened for a message."""
    text = html.unescape(_TAG.sub(" ", raw))
    return " ".join(text.split())[:300]


def _should_retry(reply: _Reply) -> bool:
    # A 500 with a JSON error (OAuth unknown_error, server fact 1) is a decision,
    # not a hiccup; only a 500 without one is repeated.
    if reply.status in _RETRY_STATUSES:
        return True
    return reply.status >= 500 and reply.body is None


def _retry_after_s(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
