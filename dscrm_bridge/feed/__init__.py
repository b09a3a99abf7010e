"""The feed: the bridge's own store of record changes, rendered in zh_CN and en."""

from __future__ import annotations

from dscrm_bridge.feed.entry import FeedChange, FieldChange
from dscrm_bridge.feed.migrate import current_revision, head_revision, pending, upgrade
from dscrm_bridge.feed.schema import FeedAction
from dscrm_bridge.feed.store import FeedStore, entry_dict

__all__ = [
    "FeedAction",
    "FeedChange",
    "FeedStore",
    "FieldChange",
    "current_revision",
    "entry_dict",
    "head_revision",
    "pending",
    "upgrade",
]
