"""The wire format of SuiteCRM 7.13's V8 API: headers, error bodies, value encoding.

Everything here mimics what the recorded SuiteCRM answered; its texts are protocol,
not user-facing messages, so they are not translated.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from starlette.responses import Response

from dscrm_bridge.suitecrm import text as suitecrm_text

# Q9: every V8 answer carries these, success or error.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, GET, OPTIONS, PUT, DELETE",
    "Access-Control-Allow-Headers": (
        "Content-Type, Access-Control-Allow-Headers, Authorization, X-Requested-With"
    ),
}
JSONAPI = "application/vnd.api+json"
NO_RESULT = "Request was successful, but there is no result"  # Q11
# The database refused a value (too long, a 4-byte character in a utf8mb3 table).
DATABASE_FAILURE = "Database failure"
# TEXT columns hold at most this many bytes on MariaDB.
TEXT_MAX_BYTES = 65535

_GUID = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_SHORT_ID = re.compile(r"^[0-9A-Za-z_]{1,36}$")


class V8Error(Exception):
    """An error answered as ``{"errors": {...}}`` with status 400 (Q10).

    ``validation`` errors come from parameter checks and are sent as plain
    ``application/json``; the others come from the controllers (JSON:API type).
    """

    def __init__(self, detail: str, *, validation: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.validation = validation


class AccessDenied(V8Error):
    """SuiteCRM's ACL refusal (Q10, Q36)."""

    def __init__(self) -> None:
        super().__init__("[SuiteCRM] [AccessDeniedException] ")


class OAuthError(Exception):
    """An OAuth2 error in the ``{"error","message"[,"hint"]}`` shape (Q2, Q5)."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.hint = hint
        self.headers = headers or {}


def dumps(body: Any) -> bytes:
    """JSON as PHP's json_encode writes it with unescaped unicode and slashes."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def jsonapi(body: Any, status: int = 200) -> Response:
    """A controller answer (Q9: vnd.api+json and the bogus ``Accept`` header)."""
    headers = dict(CORS_HEADERS, Accept=JSONAPI)
    return Response(
        dumps(body), status_code=status, headers=headers, media_type=JSONAPI
    )


def plain_json(
    body: Any, status: int, headers: dict[str, str] | None = None
) -> Response:
    """A parameter-check, OAuth or Slim answer (``application/json``)."""
    merged = dict(CORS_HEADERS, **(headers or {}))
    return Response(
        dumps(body), status_code=status, headers=merged, media_type="application/json"
    )


def error_response(exc: V8Error) -> Response:
    body = {"errors": {"status": 400, "title": None, "detail": exc.detail}}
    if exc.validation:
        return plain_json(body, 400)
    return jsonapi(body, 400)


def oauth_response(exc: OAuthError) -> Response:
    body: dict[str, Any] = {"error": exc.error, "message": exc.message}
    if exc.hint is not None:
        body["hint"] = exc.hint
    return plain_json(body, exc.status, exc.headers)


def no_result() -> Response:
    return jsonapi({"meta": {"message": NO_RESULT}, "data": []})


def valid_id(value: str) -> bool:
    """A GUID, or a short id such as the admin's ``1`` (Q10: else 400)."""
    return bool(_GUID.match(value) or _SHORT_ID.match(value))


def check_id(value: str) -> str:
    if not valid_id(value):
        raise V8Error(
            f'The option "id" with value "{value}" is invalid.', validation=True
        )
    return value


def encode_text(value: str) -> str:
    """Q13: ``"``, ``'``, ``<``, ``>`` are entity-encoded on output; ``&`` is not."""
    return (
        value.replace('"', "&quot;")
        .replace("'", "&#039;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def strip_tags(value: str) -> str:
    """Q13: tags inside varchar fields vanish on save."""
    return suitecrm_text.strip_tags(value)


def format_datetime(value: dt.datetime) -> str:
    """Q16: ISO 8601 with ``+00:00`` and the seconds always ``:00``."""
    return value.strftime("%Y-%m-%dT%H:%M:00+00:00")


def format_display_datetime(value: dt.datetime) -> str:
    """The user's display format (``m/d/Y H:i``), as ``/current-user`` shows (Q14)."""
    return value.strftime("%m/%d/%Y %H:%M")


def format_date(value: dt.date) -> str:
    return value.strftime("%Y-%m-%d")


def parse_input_datetime(value: str) -> dt.datetime | None:
    """Q17: DB format (UTC) or the display format ``m/d/Y H:i``; else NULL."""
    for pattern in ("%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M", "%Y-%m-%d %H:%M"):
        try:
            return dt.datetime.strptime(value.strip(), pattern)
        except ValueError:
            continue
    return None


def parse_input_date(value: str) -> dt.date | None:
    """Q17: ``Y-m-d`` or ``m/d/Y``; anything else (ISO with time) is stored NULL."""
    for pattern in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return dt.datetime.strptime(value.strip(), pattern).date()
        except ValueError:
            continue
    return None


def parse_filter_datetime(value: str) -> dt.datetime | None:
    """Q18: filters compare as strings; the offset of ISO input is ignored."""
    text = value.strip().replace("T", " ")
    text = re.sub(r"(Z|[+-]\d{2}:?\d{2})$", "", text)
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def utc_now() -> dt.datetime:
    """Now in UTC, naive, full seconds: how SuiteCRM stores date_modified."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
