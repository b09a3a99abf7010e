"""A change as the sync hands it to the feed store, before it is rendered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dscrm_bridge.feed.schema import FeedAction


@dataclass(frozen=True)
class FieldChange:
    """One field of an update: SuiteCRM's stored values, old and new.

    ``old_text`` / ``new_text`` replace the raw value when it is shown (a user id
    shown as the user's name); None shows the raw value.
    """

    field: str
    old: str | None
    new: str | None
    old_text: str | None = None
    new_text: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "old": self.old,
            "new": self.new,
            "old_text": self.old_text,
            "new_text": self.new_text,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldChange:
        return cls(
            field=str(data["field"]),
            old=data.get("old"),
            new=data.get("new"),
            old_text=data.get("old_text"),
            new_text=data.get("new_text"),
        )


@dataclass(frozen=True)
class FeedChange:
    """One change of one record, or of a link between two records.

    ``change_key`` identifies the change itself: the store appends a change
    whose key it already holds at most once.  Names are SuiteCRM's raw text.
    ``occurred_at`` is naive UTC, as SuiteCRM stores its datetimes.
    ``field_changes`` lists, for an update, the fields worth showing that
    changed (empty when the previous version was never seen).
    """

    change_key: str
    module: str
    record_id: str
    record_name: str
    action: FeedAction
    actor_id: str | None
    actor_name: str
    occurred_at: datetime
    related_module: str | None = None
    related_id: str | None = None
    related_name: str | None = None
    field_changes: tuple[FieldChange, ...] = ()
