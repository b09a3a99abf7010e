"""The change event the SuiteCRM plugin sends, and its HMAC-SHA256 signature.

One definition shared by the three parties: the PHP hook class in the package
(which mirrors it, see ``php/DscrmBridgeHook.php``), the sandbox acting as a
SuiteCRM with the plugin installed, and the webhook receiver of ``dscrm serve``.

An event is a small JSON object (module, record id, event name, acting user, time
and, for relationship events, the other record).  It is signed over
``<timestamp>.<raw body>`` with the shared secret; the timestamp (Unix seconds)
and the hex digest travel in the :data:`TIMESTAMP_HEADER` and
:data:`SIGNATURE_HEADER` headers (``sha256=<hex>``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

TIMESTAMP_HEADER = "X-Dscrm-Timestamp"
SIGNATURE_HEADER = "X-Dscrm-Signature"
SIGNATURE_PREFIX = "sha256="

# The logic hook events SuiteCRM calls and the package subscribes to.
EVENTS: tuple[str, ...] = (
    "after_save",
    "after_delete",
    "after_relationship_add",
    "after_relationship_delete",
)


@dataclass(frozen=True)
class ChangeEvent:
    """What one hook call tells the bridge; a nudge, never the data itself."""

    module: str
    record_id: str
    event: str
    user_id: str
    time: str
    related_module: str | None = None
    related_id: str | None = None

    def to_json(self) -> bytes:
        """The body as the PHP hook writes it (compact JSON, UTF-8)."""
        body: dict[str, Any] = {
            "module": self.module,
            "id": self.record_id,
            "event": self.event,
            "user_id": self.user_id,
            "time": self.time,
        }
        if self.related_module:
            body["related_module"] = self.related_module
            body["related_id"] = self.related_id or ""
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def event_now(
    module: str,
    record_id: str,
    event: str,
    user_id: str,
    *,
    related_module: str | None = None,
    related_id: str | None = None,
) -> ChangeEvent:
    """An event stamped with the current UTC time (ISO 8601, seconds)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ChangeEvent(
        module, record_id, event, user_id, stamp, related_module, related_id
    )


def parse_event(body: bytes) -> ChangeEvent:
    """Read a received body; raises ValueError when it is not an event."""
    data = json.loads(body.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("the body is not a JSON object")
    fields = {key: data.get(key) for key in ("module", "id", "event")}
    missing = [key for key, value in fields.items() if not isinstance(value, str)]
    if missing or not fields["module"] or not fields["id"]:
        raise ValueError(f"the event lacks {', '.join(missing) or 'module/id'}")
    if fields["event"] not in EVENTS:
        raise ValueError(f"unknown event {fields['event']!r}")
    related = data.get("related_module")
    return ChangeEvent(
        module=str(fields["module"]),
        record_id=str(fields["id"]),
        event=str(fields["event"]),
        user_id=str(data.get("user_id") or ""),
        time=str(data.get("time") or ""),
        related_module=str(related) if related else None,
        related_id=str(data.get("related_id") or "") if related else None,
    )


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``<timestamp>.<body>``."""
    message = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def signed_headers(
    secret: str, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    """The headers of a signed POST of ``body`` (now, unless ``timestamp``)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(stamp),
        SIGNATURE_HEADER: signature(secret, stamp, body),
    }


def signature_matches(secret: str, timestamp: str, body: bytes, given: str) -> bool:
    """Whether ``given`` signs ``body`` at ``timestamp`` (compared in constant time)."""
    expected = signature(secret, timestamp, body)
    return hmac.compare_digest(
        expected.encode("ascii"), given.encode("ascii", "replace")
    )
