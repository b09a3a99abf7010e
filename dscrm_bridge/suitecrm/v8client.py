"""The one HTTP path to SuiteCRM: a V8 JSON:API client over one requests.Session.

It owns signing in (OAuth2, see :mod:`dscrm_bridge.suitecrm.oauth`), retries with
backoff, decoding every answer SuiteCRM gives - records, pages and each error body
shape - and the translation of failures into :mod:`dscrm_bridge.errors`::

    TransportError      no answer (refused, timeout, TLS), after retries
    AuthError           a credential or token was rejected; names which one
    AccessDeniedError   SuiteCRM's AccessDeniedException (Q10: HTTP 400)
    NotFoundError       "... is not found" / "does not exist" / Slim's 404
    IdentityError       the token acts as another user than the one named (Q3)
    ApiError            any other error answer, with SuiteCRM's ``detail``;
                        ``retriable`` is decided by what the answer means
    InputError          a request SuiteCRM could not carry out as meant, refused
                        before sending (unknown filter operation, broken text)

No text leaving this module carries a password, client secret or token.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import html
import json
import logging
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import requests

from dscrm_bridge.errors import (
    AccessDeniedError,
    ApiError,
    AuthError,
    IdentityError,
    InputError,
    NotFoundError,
    TransportError,
)
from dscrm_bridge.i18n import _
from dscrm_bridge.suitecrm.oauth import (
    Token,
    TokenKeeper,
    TokenReply,
    make_credentials,
)
from dscrm_bridge.suitecrm.redact import Redactor
from dscrm_bridge.suitecrm.text import strip_tags

if TYPE_CHECKING:
    from dscrm_bridge.config import SuiteCRMConfig

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_RETRIES = 3
DEFAULT_BACKOFF_BASE_S = 0.5
DEFAULT_BACKOFF_MAX_S = 8.0
# All retries of one request together may wait at most this long (Retry-After too).
DEFAULT_RETRY_BUDGET_S = 60.0
DEFAULT_PAGE_SIZE = 100
JSON_API = "application/vnd.api+json"
FILTER_OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "like")  # Q29
DB_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
AUTO_PREFIX = "auto"
# SuiteCRM 7 serves the API under /Api, SuiteCRM 8 under /legacy/Api.
PREFIX_CANDIDATES = ("/Api", "/legacy/Api")
# Q26: these modules hang off one parent record through parent_type/parent_id.
PARENT_CHILD_MODULES = frozenset({"Notes", "Meetings", "Calls", "Tasks"})

_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_NOT_FOUND = re.compile(
    r"is not found|does not exist|cannot load relationship|is not related",
    re.IGNORECASE,
)
# A database that failed for the moment: worth another try whatever the status.
_DB_TRANSIENT = re.compile(
    r"database failure|deadlock|lock wait timeout|server has gone away|"
    r"lost connection|too many connections",
    re.IGNORECASE,
)
# SQL the server built is wrong (Q10: raw SQL errors in a 400): retrying cannot help.
_DB_FATAL = re.compile(
    r"unknown column|error in your sql syntax|doesn't exist|incorrect string value|"
    r"data too long",
    re.IGNORECASE,
)
_COLUMN = re.compile(r"column (?:[`']?\w+[`']?\.)*[`']?(\w+)", re.IGNORECASE)
_INCORRECT_STRING = re.compile(r"incorrect string value", re.IGNORECASE)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Q13: SuiteCRM encodes only these four on output; "&" itself is left alone.
_ENTITIES = {"&quot;": '"', "&#039;": "'", "&lt;": "<", "&gt;": ">"}
_ENTITY = re.compile("|".join(map(re.escape, _ENTITIES)))
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
        api_prefix: str = AUTO_PREFIX,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        verify_tls: bool = True,
        session: requests.Session | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_base_s: float = DEFAULT_BACKOFF_BASE_S,
        backoff_max_s: float = DEFAULT_BACKOFF_MAX_S,
        retry_budget_s: float = DEFAULT_RETRY_BUDGET_S,
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
        self._prefix = None if _is_auto(api_prefix) else _normalize_prefix(api_prefix)
        self._verified = False
        self._timeout_s = timeout_s
        self._verify_tls = verify_tls
        self._session = session or requests.Session()
        self._max_retries = max(0, max_retries)
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._retry_budget_s = retry_budget_s
        self._sleep = sleep
        self._clock = clock
        self._redact = Redactor(self._credentials.secrets())
        self._fields: dict[str, dict[str, Any]] = {}
        self._links: dict[tuple[str, str], str] = {}
        self._tokens = TokenKeeper(
            self._credentials,
            post=self._post_token,
            clock=clock,
            on_token=self._remember_secrets,
        )

    @classmethod
    def from_settings(cls, settings: SuiteCRMConfig, **options: Any) -> V8Client:
        """A client of the configured SuiteCRM (``suitecrm.*``, secrets from env).

        The password grant signs in as ``suitecrm.username``; client_credentials
        needs neither user nor password.  ``options`` are passed on (retries ...).
        """
        password_grant = settings.grant_type == "password"
        return cls(
            settings.url,
            client_id=settings.client_id,
            client_secret=settings.client_secret.reveal(),
            grant_type=settings.grant_type,
            username=settings.username if password_grant else None,
            password=settings.password.reveal() if password_grant else None,
            api_prefix=settings.api_prefix,
            timeout_s=settings.timeout_s,
            verify_tls=settings.verify_tls,
            **options,
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

    @property
    def grant(self) -> str:
        """The OAuth2 grant this client signs in with."""
        return self._credentials.grant.value

    @property
    def username(self) -> str | None:
        """The user named in the configuration (password grant), if any."""
        return self._credentials.username

    @property
    def token(self) -> Token | None:
        """The current token, None before signing in; its repr shows no secret."""
        return self._tokens.token

    # -- where the API lives ---------------------------------------------------

    @property
    def api_prefix(self) -> str:
        """``/Api`` or ``/legacy/Api``: configured, or probed once per base URL."""
        if self._prefix is None:
            self._prefix = _PREFIXES.find(self.base_url, self._probe_prefix)
            self._verified = True
        return self._prefix

    @property
    def api_root(self) -> str:
        return self.base_url + self.api_prefix

    def reachable_prefix(self) -> str:
        """The API prefix, after making sure a V8 API answers under it.

        A probed prefix has just answered; a configured one is asked once here.
        """
        if self._prefix is not None and not self._verified:
            reply = self._send("GET", self.api_root + "/V8/meta/modules")
            if not _is_v8_answer(reply):
                raise ApiError(
                    _(
                        "No SuiteCRM V8 API answers at {url} (HTTP {status}); check "
                        "suitecrm.url and suitecrm.api_prefix, or set it to auto"
                    ).format(url=self.api_root, status=reply.status),
                    status=reply.status,
                    path="/V8/meta/modules",
                    detail=self._detail(reply),
                )
        self._verified = True
        return self.api_prefix

    def sign_in(self) -> Token:
        """Sign in now with the configured grant and return the new token."""
        self._tokens.sign_in()
        token = self._tokens.token
        assert token is not None
        return token

    def _probe_prefix(self) -> str:
        """The first candidate prefix under which a V8 API answers.

        An unauthenticated request to a V8 route answers 401 in the OAuth shape
        (Q5, F1); anything else (Slim's 404, a web page) means no API there.
        """
        for prefix in PREFIX_CANDIDATES:
            url = self.base_url + prefix + "/V8/meta/modules"
            reply = self._send("GET", url)
            if _is_v8_answer(reply):
                logger.info("SuiteCRM's V8 API answers under %s", prefix)
                return prefix
            logger.debug("no V8 API under %s (HTTP %d)", prefix, reply.status)
        raise ApiError(
            _(
                "No SuiteCRM V8 API answers at {url} under {prefixes}; check the URL "
                "or set suitecrm.api_prefix"
            ).format(url=self.base_url, prefixes=" / ".join(PREFIX_CANDIDATES)),
            path="/V8/meta/modules",
        )

    # -- records ---------------------------------------------------------------

    def current_user(self) -> Record:
        """The signed-in user; NOTE: its dates come in the display format (Q14)."""
        return self._record(self._call("GET", "/V8/current-user"))

    def verify_identity(self, user_name: str | None = None) -> Record:
        """The user the token acts as, after checking it is ``user_name``.

        ``user_name`` defaults to the configured user.  Q3/F35: a client_credentials
        client used with the password grant gets a token acting as its assigned
        user, and client_credentials tokens always do; so before acting on
        someone's behalf, ask SuiteCRM who the token is (``/V8/current-user``).
        With no name to compare (client_credentials), the acting user is returned.

        Raises:
            IdentityError: the token acts as somebody else.
        """
        expected = user_name or self._credentials.username
        user = self.current_user()
        # Q14: current-user does carry user_name, unlike GET /module/Users/{id}.
        actual = str(user.get("user_name") or "")
        if expected is None or actual.casefold() == expected.casefold():
            return user
        raise IdentityError(
            _(
                "The SuiteCRM token acts as user {actual}, not as {expected}: OAuth2 "
                "client {client_id} issues tokens for its assigned user; use a "
                "password-grant client for {expected}"
            ).format(
                actual=actual or "?",
                expected=expected,
                client_id=self._credentials.client_id,
            ),
            expected=expected,
            actual=actual,
        )

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
        data = {
            "type": module,
            "id": record_id,
            "attributes": _wire_attributes(module, attributes),
        }
        reply = self._exchange("POST", "/V8/module", body={"data": data})
        if _already_created(reply, self._detail(reply)):
            logger.warning(
                "create of %s %s was retried and had already succeeded; reading it",
                module,
                record_id,
            )
            record = self.get(module, record_id)
        else:
            with _explaining_text_failures(module, attributes):
                record = self._record(self._checked("POST", "/V8/module", reply))
        return _verify_text(module, attributes, record)

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
        data = {
            "type": module,
            "id": record_id,
            "attributes": _wire_attributes(module, attributes),
        }
        with _explaining_text_failures(module, attributes):
            body = self._call("PATCH", "/V8/module", body={"data": data})
        return _verify_text(module, attributes, self._record(body))

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
        """Every record of ``module``, page by page, each id once (Q27/Q28).

        A sort is always sent (``id`` when none is given): without one SuiteCRM's
        order is unspecified (Q31) and page boundaries shift between requests.
        """
        sort = sort or "id"

        def fetch(number: int, size: int) -> Page:
            return self.list(
                module,
                fields=fields,
                filters=filters,
                operator=operator,
                sort=sort,
                page_size=size,
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

    def link_name(self, module: str, related_module: str) -> str:
        """The link of ``module`` that leads to ``related_module``, from its vardefs.

        Read from ``/V8/meta/fields/{module}`` (fields of type ``link``), once per
        module; the answer is kept.  V8 shows a link's relationship name but not
        the module it leads to (A7), so the link named like the related module
        wins, then the one whose relationship names it.

        Raises:
            InputError: no link, or several, lead there; name the link instead.
        """
        key = (module, related_module)
        if key in self._links:
            return self._links[key]
        links = {
            name: spec
            for name, spec in self.meta_fields(module).items()
            if isinstance(spec, Mapping) and spec.get("type") == "link"
        }
        found = _pick_link(links, related_module)
        if len(found) != 1:
            raise InputError(
                _(
                    "Cannot tell which link of {module} leads to {related}; name one "
                    "of: {links}"
                ).format(
                    module=module,
                    related=related_module,
                    links=", ".join(found or sorted(links)) or "-",
                )
            )
        self._links[key] = found[0]
        return found[0]

    def relate_records(
        self,
        module: str,
        record_id: str,
        related_module: str,
        related_id: str,
        *,
        link: str | None = None,
    ) -> None:
        """Relate two records the way SuiteCRM itself relates them.

        A Note, Meeting, Call or Task hangs off its parent through ``parent_type``
        and ``parent_id`` on the child (Q26), so that is what is written; any other
        pair goes through the named ``link``, looked up in the vardefs when not
        given (see :meth:`link_name`).
        """
        if link is None:
            child = _parent_child(module, related_module)
            if child is not None:
                child_module, child_id, parent_module, parent_id = (
                    (related_module, related_id, module, record_id)
                    if child == related_module
                    else (module, record_id, related_module, related_id)
                )
                self.update(
                    child_module,
                    child_id,
                    {"parent_type": parent_module, "parent_id": parent_id},
                )
                return
            link = self.link_name(module, related_module)
        self.relate(module, record_id, link, related_module, related_id)

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
        """The field definitions (vardefs) of ``module``; read once, then kept."""
        if module not in self._fields:
            body = self._call("GET", _path("V8", "meta", "fields", module))
            self._fields[module] = _attributes_of(body)
        return dict(self._fields[module])

    def logout(self) -> None:
        """Revoke the current access token (Q6); nothing to do when not signed in."""
        token = self._tokens.forget()
        if token is None:
            return
        url = self.api_root + "/V8/logout"
        reply = self._send("POST", url, bearer=token.access_token, idempotent=False)
        if reply.status not in (200, 401):
            raise self._api_error("POST", "/V8/logout", reply)

    # -- signing in ------------------------------------------------------------

    def _post_token(self, body: Mapping[str, str]) -> TokenReply:
        reply = self._send("POST", self.api_root + "/access_token", body=body)
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
        url = self.api_root + path
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
        """The error for a refused V8 request, chosen by what the answer says.

        Q10: nearly every failure is HTTP 400 with a detail text, so the status
        alone decides little: the detail tells access denied, not found, a
        database that failed for the moment (retriable) or SQL that cannot work.
        """
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
        if reply.status == 404 or (
            _NOT_FOUND.search(detail) and not _DB_FATAL.search(detail)
        ):
            return NotFoundError(
                _(
                    "SuiteCRM found no such module, record or link for "
                    "{method} {path}: {detail}"
                ).format(method=method, path=path, detail=shown),
                **fields,
            )
        if _DB_FATAL.search(detail):
            return ApiError(_sql_failure_message(detail), **fields)
        if _DB_TRANSIENT.search(detail):
            return ApiError(
                _(
                    "SuiteCRM's database failed while answering {method} {path}; "
                    "try again later, and if it persists look at suitecrm.log on "
                    "the server: {detail}"
                ).format(method=method, path=path, detail=shown),
                retriable=True,
                **fields,
            )
        if reply.status == 429:
            return ApiError(
                _(
                    "SuiteCRM is limiting the rate of requests; try again in "
                    "{seconds} seconds"
                ).format(
                    seconds=int(_retry_after_s(reply.headers.get("Retry-After")) or 60)
                ),
                retriable=True,
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

        Bounded twice: at most ``max_retries`` repeats, and no more waiting than
        ``retry_budget_s`` in all; a Retry-After beyond that budget ends it at
        once.  Every request this client makes is safe to repeat (creates carry
        their id, deletes and unlinks accept "already gone" after a retry) except
        logout.
        """
        attempts = 1 + (self._max_retries if idempotent else 0)
        deadline = self._clock() + self._retry_budget_s
        attempt = 0
        while True:
            attempt += 1
            retry_after: str | None = None
            try:
                reply = self._attempt(method, url, params, body, bearer, attempt > 1)
            except TransportError as exc:
                if attempt >= attempts:
                    raise
                failure: TransportError | _Reply = exc
                reason = exc.message
            else:
                if attempt >= attempts or not _should_retry(reply):
                    return reply
                failure = reply
                retry_after = reply.headers.get("Retry-After")
                reason = f"HTTP {reply.status}"
            delay_s = self._backoff_s(attempt, retry_after)
            if self._clock() + delay_s > deadline:
                logger.warning(
                    "%s %s failed (%s); a retry in %.1f s would exceed the budget "
                    "of %.0f s; giving up",
                    method,
                    urlsplit(url).path,
                    reason,
                    delay_s,
                    self._retry_budget_s,
                )
                if isinstance(failure, TransportError):
                    raise failure
                return failure
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
        """Exponential backoff with jitter up to the cap; Retry-After, when longer."""
        ceiling_s = min(self._backoff_max_s, self._backoff_base_s * 2 ** (attempt - 1))
        delay_s = random.uniform(ceiling_s / 2, ceiling_s)
        hinted_s = _retry_after_s(retry_after)
        if hinted_s is not None:
            # The server said how long to wait: waiting less only earns another 429.
            delay_s = max(delay_s, hinted_s)
        return delay_s

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
    fetch: Callable[[int, int], Page], *, page_size: int, max_pages: int | None
) -> Iterator[Record]:
    """Yield records page after page; ``fetch(number, size)`` reads one page.

    ``total-pages`` is never trusted (Q28: it counts rows the user may not see; it
    is 0 when filtering on a custom field), nor is a ``next`` link alone (E4: it
    can point at the same page).  Paging ends at an empty page, a short page, or
    a missing ``next`` link on a page that ``total-pages`` also calls the last.
    A first page shorter than asked that still announces a next page means the
    server caps the page size: the size is lowered to that cap and paging goes
    on.  Each id is yielded once, so rows shifting between pages do no harm.
    """
    if page_size < 1:
        # Q27: SuiteCRM refuses page[size]=0 with a 400.
        raise InputError(
            _("The page size must be at least 1, not {value}").format(value=page_size)
        )
    seen: set[str] = set()
    size = page_size
    number = 1
    while True:
        page = fetch(number, size)
        fresh = [record for record in page.records if record.id not in seen]
        for record in fresh:
            seen.add(record.id)
            yield record
        count = len(page.records)
        if count == 0:
            return
        if number == 1 and count < size and page.links.get("next"):
            logger.warning(
                "SuiteCRM returned %d records where %d were asked and announced "
                "more: it caps the page size; going on with pages of %d",
                count,
                size,
                count,
            )
            size = count
        elif count < size:
            return
        elif not fresh:
            logger.warning("page %d repeated records already seen; stopping", number)
            return
        elif _last_page(page, number):
            return
        if max_pages is not None and number >= max_pages:
            logger.warning("stopped after %d pages (the configured cap)", number)
            return
        number += 1


def _last_page(page: Page, number: int) -> bool:
    """True when links and meta agree that ``number`` is the last page."""
    if not page.links or page.links.get("next"):
        return False
    # A null next link is derived from total-pages, which can be 0 while rows
    # exist (Q28 note); only a consistent pair ends the paging.
    return page.total_pages is not None and 0 < page.total_pages <= number


class _PrefixCache:
    """The API prefix found for each base URL, shared by all clients of a process."""

    def __init__(self) -> None:
        self._found: dict[str, str] = {}
        self._lock = threading.Lock()

    def find(self, base_url: str, probe: Callable[[], str]) -> str:
        with self._lock:
            if base_url not in self._found:
                self._found[base_url] = probe()
            return self._found[base_url]

    def forget(self) -> None:
        with self._lock:
            self._found.clear()


_PREFIXES = _PrefixCache()


def forget_probed_prefixes() -> None:
    """Forget every probed API prefix (after a server moved, and in tests)."""
    _PREFIXES.forget()


def _is_auto(prefix: str | None) -> bool:
    return prefix is None or prefix.strip().lower() == AUTO_PREFIX


def _is_v8_answer(reply: _Reply) -> bool:
    """F1: V8 routes answer an unauthenticated request 401 in the OAuth shape."""
    if not isinstance(reply.body, Mapping):
        return False
    if reply.status == 401:
        return "error" in reply.body  # league/oauth2, not a proxy's own 401
    return reply.status == 200 and "data" in reply.body


def _pick_link(links: Mapping[str, Mapping[str, Any]], related: str) -> list[str]:
    """Links of a vardefs map that lead to module ``related``, best first."""
    wanted = {related.lower(), related.lower().rstrip("s")}
    exact = [name for name in links if name.lower() in wanted]
    if exact:
        return exact[:1]
    # The relationship name carries both modules: accounts_contacts, account_notes.
    named = [
        name
        for name, spec in links.items()
        if wanted & set(str(spec.get("relationship") or "").lower().split("_"))
    ]
    return sorted(named)


def _parent_child(module: str, related_module: str) -> str | None:
    """Which of the two is a child hanging off the other by parent_type (Q26)."""
    if related_module in PARENT_CHILD_MODULES and module not in PARENT_CHILD_MODULES:
        return related_module
    if module in PARENT_CHILD_MODULES and related_module not in PARENT_CHILD_MODULES:
        return module
    return None


def _wire_attributes(module: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes ready to send; text that cannot travel is refused by field."""
    for name, value in attributes.items():
        if isinstance(value, str) and _SURROGATE.search(value):
            raise InputError(
                _(
                    "The value of {field} for {module} holds a broken character (a "
                    "lone UTF-16 surrogate) that cannot be sent as UTF-8; fix the "
                    "source text"
                ).format(field=name, module=module)
            )
    return dict(_wire(attributes))


@contextmanager
def _explaining_text_failures(
    module: str, attributes: Mapping[str, Any]
) -> Iterator[None]:
    """A failed write that carried 4-byte characters says which fields held them.

    Server fact 2: a utf8mb3 database refuses emoji; SuiteCRM then answers only
    "Database failure" (or the web server a bare 500), which alone would read as
    a passing outage.  Repeating such a write cannot help, so it is not retriable.
    """
    try:
        yield
    except ApiError as exc:
        fields = [
            name
            for name, value in attributes.items()
            if isinstance(value, str) and _ASTRAL.search(value)
        ]
        if type(exc) is not ApiError or not fields or not _server_side(exc):
            raise
        if _INCORRECT_STRING.search(exc.detail or ""):
            raise  # already names the column and the character set
        raise ApiError(
            _(
                "SuiteCRM failed to store {module}: {fields} hold emoji or other "
                "4-byte characters, which a database that is not utf8mb4 cannot "
                "keep (see dscrm check); remove them or convert the database: "
                "{detail}"
            ).format(
                module=module,
                fields=", ".join(fields),
                detail=exc.detail or _("no details given"),
            ),
            status=exc.status,
            path=exc.path,
            detail=exc.detail,
        ) from exc


def _server_side(exc: ApiError) -> bool:
    """The server or its database failed (not a refusal of the request itself)."""
    if exc.status is not None and exc.status >= 500:
        return True
    detail = exc.detail or ""
    return bool(_DB_TRANSIENT.search(detail) or _DB_FATAL.search(detail))


def _verify_text(module: str, sent: Mapping[str, Any], record: Record) -> Record:
    """``record`` after checking SuiteCRM kept the text that was sent.

    A database whose columns are utf8mb3 (server fact 2) cannot hold emoji: the
    text is cut at the first one, or the write fails.  A cut or lost text is an
    error naming the field, never silently accepted.  Other rewrites SuiteCRM is
    known for (Q13: tags stripped from varchar fields; trailing spaces) pass.
    """
    for name, value in sent.items():
        stored = record.attributes.get(name)
        if not isinstance(value, str) or not isinstance(stored, str):
            continue
        if stored == value or not value.startswith(stored):
            continue
        lost = value[len(stored) :]
        if not lost.strip():
            continue
        if _ASTRAL.match(lost):
            raise ApiError(
                _(
                    "SuiteCRM stored {field} of {module} {id} only up to the first "
                    "emoji or other 4-byte character: its database is not utf8mb4. "
                    "Convert the database to utf8mb4 (see dscrm check) or remove "
                    "those characters"
                ).format(field=name, module=module, id=record.id),
                detail=stored,
            )
        if not stored:
            continue  # write-only fields (filecontents, Q25) come back empty
        raise ApiError(
            _(
                "SuiteCRM cut {field} of {module} {id} to {length} characters; "
                "the field is shorter than the text sent"
            ).format(field=name, module=module, id=record.id, length=len(stored)),
            detail=stored,
        )
    return record


def _sql_failure_message(detail: str) -> str:
    """What a raw SQL error from SuiteCRM (Q10) means for the user."""
    match = _COLUMN.search(detail)
    column = match.group(1) if match else "?"
    if _INCORRECT_STRING.search(detail):
        return _(
            "SuiteCRM's database cannot store the text of {field}: it holds emoji or "
            "other 4-byte characters and the column is not utf8mb4 (see dscrm check)"
        ).format(field=column)
    if re.search(r"data too long", detail, re.IGNORECASE):
        return _("The text of {field} is longer than SuiteCRM's column allows").format(
            field=column
        )
    return _(
        "SuiteCRM built SQL its database refused ({detail}); filters and sorts work "
        "only on columns of the module's own table, not on custom or non-db fields"
    ).format(detail=detail)


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
            params[f"filter[{name}][{op}]"] = _filter_value(name, value)
    return params


def _filter_value(name: str, value: Any) -> str:
    """One filter value as text; what SuiteCRM cannot compare is refused (Q29)."""
    if value is None or isinstance(value, Mapping | list | tuple | set | frozenset):
        raise InputError(
            _(
                "SuiteCRM cannot filter {field} on {value!r}: it compares with one "
                "plain value (no lists, no NULL, no nested conditions); use one "
                "condition per value joined with or"
            ).format(field=name, value=value)
        )
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
    text = html.unescape(strip_tags(raw, replacement=" "))
    return " ".join(text.split())[:300]


def _should_retry(reply: _Reply) -> bool:
    """Worth repeating: by status, or by meaning for a failed database (Q10)."""
    if reply.status in _RETRY_STATUSES:
        return True
    if reply.status >= 400:
        detail = _error_detail(reply.body, reply.raw)
        if _DB_TRANSIENT.search(detail) and not _DB_FATAL.search(detail):
            return True
    # A 500 with a JSON error (OAuth unknown_error, server fact 1) is a decision,
    # not a hiccup; only a 500 without one is repeated.
    return reply.status >= 500 and reply.body is None


def _retry_after_s(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
