"""Leases: one holder at a time, takeover after expiry, fenced writes."""

from __future__ import annotations

import time

import pytest

from dscrm_bridge.feed import FeedStore
from dscrm_bridge.sync.lease import Lease, LeaseLostError


def _lease(store: FeedStore, holder: str, ttl_s: float = 30) -> Lease:
    return Lease(store.engine, "job:all", holder=holder, ttl_s=ttl_s)


def test_a_held_lease_is_refused_to_another_holder(feed_store: FeedStore) -> None:
    first, second = _lease(feed_store, "a"), _lease(feed_store, "b")

    assert first.acquire() is True
    assert second.acquire() is False
    assert first.acquire() is True  # renewing


def test_an_expired_lease_passes_to_another_holder_and_fences_the_first(
    feed_store: FeedStore,
) -> None:
    first, second = _lease(feed_store, "a", ttl_s=0.2), _lease(feed_store, "b")
    assert first.acquire() is True
    time.sleep(0.3)

    assert second.acquire() is True
    with pytest.raises(LeaseLostError):
        feed_store.append([], fence=first.fence)
    feed_store.append([], fence=second.fence)
    assert first.acquire() is False


def test_a_released_lease_is_free_at_once(feed_store: FeedStore) -> None:
    first, second = _lease(feed_store, "a"), _lease(feed_store, "b")
    first.acquire()

    first.release()

    assert second.acquire() is True
