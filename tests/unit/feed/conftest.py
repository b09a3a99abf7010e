"""A migrated SQLite feed store of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dscrm_bridge.feed import FeedStore, upgrade


@pytest.fixture()
def feed_store(tmp_path: Path) -> Iterator[FeedStore]:
    url = f"sqlite:///{tmp_path / 'feed.db'}"
    upgrade(url)
    store = FeedStore(url)
    yield store
    store.engine.dispose()
