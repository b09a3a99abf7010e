"""The sync: mirrors SuiteCRM's record changes into the feed store."""

from __future__ import annotations

from dscrm_bridge.sync.engine import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_OVERLAP_S,
    Progress,
    SyncResult,
    sync_once,
)
from dscrm_bridge.sync.sources import DEFAULT_MODULES

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MODULES",
    "DEFAULT_OVERLAP_S",
    "Progress",
    "SyncResult",
    "sync_once",
]
