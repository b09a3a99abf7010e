"""A change as the sync hands it to the feed store, before it is rendered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dscrm_bridge.feed.schema import FeedAction


@dataclass(frozen=True)
class FeedChange:
    """One change of one record, or of a link between two records.

    ``change_key`` identifies the change itself: the store appends a change
    whose key it already holds at most once.  Names are SuiteCRM's raw text.
    ``occurred_at`` is naive UTC, as SuiteCRM stores its datetimes.
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
