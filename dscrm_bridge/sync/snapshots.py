"""Compact snapshots of mirrored records and the field differences between two.

Which fields a snapshot holds, which hold user ids, and which changes SuiteCRM
posts to its own sugarfeed are data in ``mappings/feed_fields.yaml``, not code.
Values are kept as text, normalised so that the SQL and the API source give
the same snapshot of the same record (Q12: the API sends strings, "" for unset).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from dscrm_bridge.errors import ConfigError
from dscrm_bridge.feed.entry import FieldChange
from dscrm_bridge.i18n import _

FEED_FIELDS_FILE = Path(__file__).resolve().parents[2] / "mappings" / "feed_fields.yaml"

Snapshot = dict[str, str | None]


@dataclass(frozen=True)
class FeedFields:
    """The contents of ``mappings/feed_fields.yaml``."""

    modules: Mapping[str, tuple[str, ...]]
    user_fields: frozenset[str] = frozenset()
    native_sugarfeed: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def fields_of(self, module: str) -> tuple[str, ...]:
        return self.modules.get(module, ())


@functools.lru_cache(maxsize=1)
def feed_fields() -> FeedFields:
    """The shipped field mapping, read once.

    Raises:
        ConfigError: the file is missing or not shaped as documented in it.
    """
    try:
        with FEED_FIELDS_FILE.open(encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle) or {}
        modules = {
            str(module): tuple(str(name) for name in names)
            for module, names in (loaded.get("modules") or {}).items()
        }
        return FeedFields(
            modules=modules,
            user_fields=frozenset(str(f) for f in loaded.get("user_fields") or ()),
            native_sugarfeed=dict(loaded.get("native_sugarfeed") or {}),
        )
    except (OSError, yaml.YAMLError, AttributeError, TypeError) as exc:
        raise ConfigError(
            _("The field mapping {path} cannot be read: {reason}").format(
                path=FEED_FIELDS_FILE, reason=exc
            )
        ) from exc


def normalize_value(value: Any) -> str | None:
    """A column value as snapshot text; empty means None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float | Decimal):
        number = Decimal(str(value)).normalize()
        text = format(number, "f")
        return text if text not in ("-0", "") else "0"
    text = str(value)
    return text if text != "" else None


def snapshot_of(module: str, row: Mapping[str, Any]) -> Snapshot:
    """The fields of ``row`` worth comparing, as text."""
    return {
        name: normalize_value(row.get(name)) for name in feed_fields().fields_of(module)
    }


def digest(snapshot: Snapshot) -> str:
    """A short fingerprint of a snapshot, part of an update's change key."""
    text = json.dumps(snapshot, sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def differences(
    module: str,
    old: Snapshot,
    new: Snapshot,
    *,
    user_names: Mapping[str, str] | None = None,
) -> tuple[FieldChange, ...]:
    """Fields of ``module`` whose value differs, in the mapping's order."""
    names = user_names or {}
    users = feed_fields().user_fields
    changes = []
    for name in feed_fields().fields_of(module):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if name in users:
            changes.append(
                FieldChange(
                    name,
                    before,
                    after,
                    old_text=names.get(before or ""),
                    new_text=names.get(after or ""),
                )
            )
        else:
            changes.append(FieldChange(name, before, after))
    return tuple(changes)


def user_ids_in(snapshots: list[Snapshot]) -> set[str]:
    """User ids held by user fields of ``snapshots`` (to look their names up)."""
    users = feed_fields().user_fields
    return {
        value
        for snapshot in snapshots
        for name, value in snapshot.items()
        if name in users and value
    }
