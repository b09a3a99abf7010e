"""Leases in the bridge's database: one runner per sync job at a time.

A lease is a row of ``sync_leases`` naming its holder and when it expires.  A
runner takes a lease that is free or expired, keeps it by renewing it well
before it expires, and gives it up when it stops.  Taking and renewing are
single conditional statements (insert; update ... where expired or mine), so
MySQL's row locks and SQLite's database lock both make them atomic: two
runners never hold one lease.  A runner that dies stops renewing, and another
takes the lease once it expires (within ``ttl_s``).

Every write of a job checks :meth:`Lease.fence` inside its own transaction, so
a runner that lost its lease (paused past its expiry) cannot write after the
new holder started.

NOTE: expiry uses the runners' clocks (naive UTC); runners on several hosts
need clocks in step to well under ``ttl_s``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dscrm_bridge.errors import SyncError
from dscrm_bridge.feed.schema import sync_leases
from dscrm_bridge.feed.store import utc_now
from dscrm_bridge.i18n import _
from dscrm_bridge.suitecrm.gateway import translate_errors

logger = logging.getLogger(__name__)

DEFAULT_LEASE_TTL_S = 20.0


def runner_id() -> str:
    """A name for this process that no other runner shares."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:128]


class LeaseLostError(SyncError):
    """The lease of a job passed to another runner while this one worked."""


class Lease:
    """The lease on one job name, as seen by one holder."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        *,
        holder: str,
        ttl_s: float = DEFAULT_LEASE_TTL_S,
    ) -> None:
        self.engine = engine
        self.name = name
        self.holder = holder
        self.ttl_s = ttl_s
        # A runner's job thread and its heartbeat share this object: one at a
        # time, or the holder could race itself into a refused insert.
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        """Take or renew the lease; False when another runner holds it."""
        with self._lock:
            return self._acquire()

    def _acquire(self) -> bool:
        now = utc_now()
        expires = now + timedelta(seconds=self.ttl_s)
        with translate_errors(self.engine), self.engine.begin() as conn:
            taken = conn.execute(
                sync_leases.update()
                .where(
                    sync_leases.c.name == self.name,
                    sa.or_(
                        sync_leases.c.holder == self.holder,
                        sync_leases.c.expires_at < now,
                    ),
                )
                .values(holder=self.holder, acquired_at=now, expires_at=expires)
            ).rowcount
            if taken:
                return True
            exists = conn.execute(
                sa.select(sync_leases.c.name).where(sync_leases.c.name == self.name)
            ).first()
        if exists is not None:
            return False
        return self._insert(now, expires)

    def release(self) -> None:
        """Give the lease up at once, so another runner need not wait for expiry."""
        with self._lock, translate_errors(self.engine), self.engine.begin() as conn:
            conn.execute(
                sync_leases.delete().where(
                    sync_leases.c.name == self.name,
                    sync_leases.c.holder == self.holder,
                )
            )

    def fence(self, conn: Connection) -> None:
        """Inside a write's transaction: refuse it unless the lease is still ours."""
        row = conn.execute(
            sa.select(sync_leases.c.holder, sync_leases.c.expires_at).where(
                sync_leases.c.name == self.name
            )
        ).first()
        if row is None or row.holder != self.holder or row.expires_at < utc_now():
            raise LeaseLostError(
                _(
                    "Sync job {job} was taken over by another runner; this runner "
                    "stops writing"
                ).format(job=self.name)
            )

    def _insert(self, now: object, expires: object) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sync_leases.insert().values(
                        name=self.name,
                        holder=self.holder,
                        acquired_at=now,
                        expires_at=expires,
                    )
                )
        except sa.exc.IntegrityError:
            # Another runner inserted it first.
            return False
        except sa.exc.SQLAlchemyError as exc:
            with translate_errors(self.engine):
                raise exc
        return True


def lease_holders(engine: Engine) -> dict[str, tuple[str, object]]:
    """Job name -> (holder, expires_at) of every lease row."""
    with translate_errors(engine), engine.connect() as conn:
        rows = conn.execute(sa.select(sync_leases)).mappings().all()
    return {row["name"]: (row["holder"], row["expires_at"]) for row in rows}
