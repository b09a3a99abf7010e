"""The sync engine: one pass over SuiteCRM's changed rows into the feed store.

For each source table (see :mod:`dscrm_bridge.sync.sources`) it reads rows in
(date_modified, id) order from a little behind the stored cursor (the overlap
window), one batch at a time, and appends that batch's entries, the records'
snapshots and the new cursor in one transaction: a run that stops half-way
resumes after the last batch written, and rows read twice append nothing new
because the store keeps each change key once.

The overlap catches rows committed late with an older ``date_modified`` than a
row already read (a long transaction), and rows saved in the second of the
previous poll.  It does not catch a change whose ``date_modified`` a client set
further in the past than the window (Q19).

The first run of a source without ``since`` only marks where it starts (the
table's newest row) and records nothing old.  ``since`` makes a run a backfill:
before reading anything it stores the requested start for every source of the
run, then keeps each source's progress; a later run - with the same ``since``
or with none - resumes an unfinished backfill where it stopped.

A cursor never moves past "now" (SuiteCRM's database clock for the SQL source,
the bridge's for the API source): V8 honours a client-supplied
``date_modified`` (Q19), and one row dated in the future would otherwise move
the cursor past every later change.  Such a row is re-read each poll (it stays
after the cursor) and its change keys keep it to one entry.

Changes whose actor is one of ``ignore_user_ids`` (the bridge's own SuiteCRM
users: write-back, provisioning) are not told, though the records' snapshots
follow them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dscrm_bridge.errors import BridgeError, InputError
from dscrm_bridge.feed import FeedAction, FeedChange, FeedStore
from dscrm_bridge.feed.store import Backfill, Fence, SnapshotRow, utc_now
from dscrm_bridge.i18n import _
from dscrm_bridge.suitecrm.gateway import Keyset, RecordInfo, SuiteCRMGateway
from dscrm_bridge.sync.api_source import ApiReader
from dscrm_bridge.sync.snapshots import feed_fields, snapshot_of, user_ids_in
from dscrm_bridge.sync.sources import (
    DEFAULT_MODULES,
    LinkSource,
    RecordSource,
    Row,
    Source,
    actors_wanted,
    after_floor,
    link_actors,
    link_change_key,
    link_changes,
    record_changes,
    related_wanted,
    rows_in_scope,
    sources_for,
    syncable_modules,
)

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500
DEFAULT_OVERLAP_S = 30


@dataclass(frozen=True)
class Progress:
    """How far a run got: after every batch written."""

    source: str
    done: int
    total: int | None
    rate_per_s: float
    remaining_s: float | None
    #: rows read so far by the whole run, all sources together
    rows_read: int


ProgressCallback = Callable[[Progress], None]
StopCheck = Callable[[], bool]


@dataclass
class SyncResult:
    """What one run did."""

    #: entries appended, by the entry's module
    appended: dict[str, int] = field(default_factory=dict)
    #: entries appended, by action (create, update, ...)
    by_action: dict[str, int] = field(default_factory=dict)
    #: rows read from SuiteCRM, all sources together (overlap re-reads included)
    rows_read: int = 0
    #: sources seen for the first time without ``since``: cursor set, nothing read
    started: list[str] = field(default_factory=list)
    #: changes left out because the bridge's own user made them
    ignored: int = 0
    #: the run stopped early when asked to; it resumes where it stopped
    interrupted: bool = False
    #: sources whose unfinished backfill this run resumed without ``since``
    resumed: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Entries appended in all."""
        return sum(self.appended.values())

    def count_appended(self, changes: Iterable[FeedChange]) -> None:
        for change in changes:
            self.appended[change.module] = self.appended.get(change.module, 0) + 1
            action = change.action.value
            self.by_action[action] = self.by_action.get(action, 0) + 1


@dataclass
class _Run:
    """One run's settings and state, handed to each step."""

    gateway: SuiteCRMGateway | ApiReader
    store: FeedStore
    modules: frozenset[str]
    since: datetime | None
    batch_size: int
    overlap: timedelta
    ignore: frozenset[str]
    progress: ProgressCallback | None
    should_stop: StopCheck
    fence: Fence | None
    result: SyncResult
    cursors: dict[str, Keyset | None]
    floors: dict[str, Keyset]
    #: the latest moment a cursor may point at (SuiteCRM's "now")
    ceiling: datetime


def sync_once(
    suitecrm: str | sa.URL | Engine | SuiteCRMGateway | ApiReader,
    feed: str | sa.URL | Engine | FeedStore,
    *,
    modules: Iterable[str] = DEFAULT_MODULES,
    since: datetime | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
    overlap_s: float = DEFAULT_OVERLAP_S,
    security_groups: bool = True,
    ignore_user_ids: Collection[str] = (),
    should_stop: StopCheck | None = None,
    fence: Fence | None = None,
) -> SyncResult:
    """Append to the feed what changed in SuiteCRM since the stored cursors.

    Args:
        suitecrm: SuiteCRM's database (URL, engine or gateway), or its V8 API
            (an :class:`ApiReader`: records only, no link tables); only read.
        feed: the bridge's database (URL, engine or store), already upgraded.
        modules: SuiteCRM modules to mirror; their link tables come along.
        since: backfill from this moment (naive means UTC) instead of the
            cursors; changes already in the feed are not appended again.
            Without it, a source's unfinished backfill is resumed.
        batch_size: rows read per query and written per transaction.
        progress: called after every batch written.
        overlap_s: seconds re-read behind each cursor.
        security_groups: also mirror security-group membership of records of
            ``modules`` and of users (on, like ``sync.security_groups``).
        ignore_user_ids: SuiteCRM user ids whose changes are not told.
        should_stop: asked between batches; True ends the run after the batch.
        fence: checked inside every write's transaction (the runner's lease).

    Raises:
        InputError: an unknown module, a batch size below 1 or a negative overlap.
        DatabaseError: either database failed (a refused login, an unreachable
            server, an unknown database, a missing SQLite file or a database
            without SuiteCRM's tables say so); entries and cursors written by
            earlier batches stay.
    """
    modules = list(modules)
    _check_arguments(modules, batch_size, overlap_s)
    if isinstance(suitecrm, SuiteCRMGateway | ApiReader):
        gateway = suitecrm
    else:
        gateway = SuiteCRMGateway(suitecrm)
        gateway.verify()
    store = feed if isinstance(feed, FeedStore) else FeedStore(feed)
    run = _Run(
        gateway=gateway,
        store=store,
        modules=frozenset(modules),
        since=_as_utc(since),
        batch_size=batch_size,
        overlap=timedelta(seconds=overlap_s),
        ignore=frozenset(ignore_user_ids),
        progress=progress,
        should_stop=should_stop or (lambda: False),
        fence=fence,
        result=SyncResult(appended=dict.fromkeys(modules, 0)),
        cursors=store.cursors(),
        floors=store.floors(),
        ceiling=suitecrm_now(gateway),
    )

    sources = readable_sources(gateway, modules, security_groups=security_groups)
    if run.since is not None:
        _plan_backfills(run, sources)
    runs: dict[str, tuple[int, str | None]] = {}
    for source in sources:
        if run.should_stop():
            run.result.interrupted = True
            break
        before = run.result.rows_read
        try:
            _sync_source(run, source)
        except BridgeError as exc:
            runs[source.name] = (run.result.rows_read - before, str(exc))
            store.record_runs(runs)
            raise
        runs[source.name] = (run.result.rows_read - before, None)
    store.record_runs(runs)

    result = run.result
    logger.info(
        "sync read %d rows, appended %d entries %s, ignored %d of the bridge's own",
        result.rows_read,
        result.total,
        result.by_action,
        result.ignored,
    )
    return result


def readable_sources(
    gateway: SuiteCRMGateway | ApiReader,
    modules: Iterable[str],
    *,
    security_groups: bool = True,
) -> list[Source]:
    """The sources of ``modules`` that ``gateway`` can read (the API: no links)."""
    reads_links = getattr(gateway, "reads_links", True)
    return [
        source
        for source in sources_for(modules, security_groups=security_groups)
        if reads_links or not isinstance(source, LinkSource)
    ]


def plan_backfill(
    suitecrm: SuiteCRMGateway | ApiReader,
    store: FeedStore,
    *,
    modules: Iterable[str],
    since: datetime,
    security_groups: bool = True,
    fence: Fence | None = None,
) -> list[str]:
    """Store a backfill from ``since`` for every source of ``modules``, reading none.

    Called before a backfill's first batch (``dscrm sync --once --since``), so
    that a run interrupted before reaching a source - or before writing
    anything - still resumes that source's backfill later, with or without
    ``since``.  A source already backfilling from ``since`` keeps its progress.
    Returns the sources whose backfill was (re)started.
    """
    moment = _as_utc(since)
    assert moment is not None
    run = _Run(
        gateway=suitecrm,
        store=store,
        modules=frozenset(modules),
        since=moment,
        batch_size=DEFAULT_BATCH_SIZE,
        overlap=timedelta(0),
        ignore=frozenset(),
        progress=None,
        should_stop=lambda: False,
        fence=fence,
        result=SyncResult(),
        cursors={},
        floors=store.floors(),
        ceiling=utc_now(),
    )
    sources = readable_sources(suitecrm, modules, security_groups=security_groups)
    return _plan_backfills(run, sources)


def _plan_backfills(run: _Run, sources: list[Source]) -> list[str]:
    assert run.since is not None
    planned: dict[str, Backfill | None] = {}
    for source in sources:
        held = run.store.backfill(source.name)
        if held is not None and held.since == run.since:
            continue
        total = run.gateway.count_after(source.table, Keyset(run.since, ""))
        planned[source.name] = Backfill(
            since=run.since, position=None, done=0, total=total, started_at=utc_now()
        )
    if planned:
        run.store.append([], backfills=planned, fence=run.fence)
        logger.info("backfill from %s planned for %s", run.since, sorted(planned))
    return sorted(planned)


def suitecrm_now(gateway: SuiteCRMGateway | ApiReader) -> datetime:
    """SuiteCRM's "now" as naive UTC: its database's clock, else the bridge's."""
    now = getattr(gateway, "now", None)
    return now() if callable(now) else utc_now()


def _check_arguments(modules: list[str], batch_size: int, overlap_s: float) -> None:
    known = syncable_modules()
    unknown = [module for module in modules if module not in known]
    if unknown:
        raise InputError(
            _("Cannot sync module {module}; the modules that sync are: {known}").format(
                module=", ".join(unknown), known=", ".join(known)
            )
        )
    if batch_size < 1:
        raise InputError(
            _("The batch size must be at least 1, not {value}").format(value=batch_size)
        )
    if overlap_s < 0:
        raise InputError(
            _("The overlap window cannot be negative: {value}").format(value=overlap_s)
        )


def _as_utc(moment: datetime | None) -> datetime | None:
    # SuiteCRM stores naive UTC datetimes; compare like with like.
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _sync_source(run: _Run, source: Source) -> None:
    """Read ``source`` from its window's start to its newest row."""
    known = source.name in run.cursors
    # A cursor or floor stored past "now" (a future-dated row, before the cap
    # existed) is pulled back, or every later change would sort before it.
    cursor = _capped(run.cursors.get(source.name), run.ceiling)
    backfill = run.store.backfill(source.name)
    if backfill is not None and run.since is None:
        logger.warning(
            "%s: resuming the unfinished backfill from %s after %d rows",
            source.name,
            backfill.since,
            backfill.done,
        )
        run.result.resumed.append(source.name)
    elif backfill is None and not known:
        _start_from_now(run, source)
        return

    if backfill is not None:
        start = Keyset(backfill.since, "")
        floor: Keyset | None = start
        position: Keyset | None = backfill.position or start
        _lower_floor(run, source, start)
    else:
        floor = _capped(run.floors.get(source.name), run.ceiling)
        overlap = run.overlap + timedelta(seconds=source.extra_overlap_s)
        position = _behind(cursor, overlap)
    clock_start, done = time.monotonic(), 0

    while True:
        rows = run.gateway.changed_rows(
            source.table, after=position, limit=run.batch_size
        )
        if not rows:
            break
        position = Keyset(rows[-1]["date_modified"], rows[-1]["id"])
        cursor = _capped(_later(cursor, position), run.ceiling)
        changes, snapshots = _changes_of(run, source, list(rows), floor)
        if backfill is not None:
            backfill = replace(
                backfill, position=position, done=backfill.done + len(rows)
            )
        appended = run.store.append(
            changes,
            cursors={source.name: cursor},
            snapshots={source.name: snapshots} if snapshots else None,
            backfills={source.name: backfill} if backfill is not None else None,
            rows_read={source.name: len(rows)},
            fence=run.fence,
        )
        run.cursors[source.name] = cursor
        if position.date_modified > run.ceiling:
            _note_future_rows(run, source, rows, appended)
        done += len(rows)
        run.result.rows_read += len(rows)
        run.result.count_appended(appended)
        logger.debug(
            "%s: %d rows, %d new entries", source.name, len(rows), len(appended)
        )
        _report(run, source, backfill, done, clock_start)
        if len(rows) < run.batch_size:
            break
        if run.should_stop():
            run.result.interrupted = True
            logger.info("%s: stopped on request after %d rows", source.name, done)
            return

    if backfill is not None or not known:
        # Finished: forget the backfill; a source that was empty after
        # ``since`` goes on from there.
        final = cursor or (Keyset(backfill.since, "") if backfill else None)
        run.store.append(
            [],
            cursors={source.name: final},
            backfills={source.name: None},
            fence=run.fence,
        )
        run.cursors[source.name] = final


def _capped(keyset: Keyset | None, ceiling: datetime) -> Keyset | None:
    if keyset is None or keyset.date_modified <= ceiling:
        return keyset
    return Keyset(ceiling, "")


def _note_future_rows(
    run: _Run, source: Source, rows: Iterable[Row], appended: list[FeedChange]
) -> None:
    # These rows are re-read every poll: warn only when they gave new entries,
    # so the warning comes once per change, not once per poll.
    future = {row["id"] for row in rows if row["date_modified"] > run.ceiling}
    told = sorted({c.record_id for c in appended if c.record_id in future})
    log = logger.warning if told else logger.debug
    log(
        "%s: %d rows dated after SuiteCRM's clock (%s), e.g. %s; the cursor "
        "stays at that moment and they are re-read each poll",
        source.name,
        len(future),
        run.ceiling,
        (told or sorted(future))[:5],
    )


def _report(
    run: _Run,
    source: Source,
    backfill: Backfill | None,
    done: int,
    clock_start: float,
) -> None:
    if run.progress is None:
        return
    elapsed = max(time.monotonic() - clock_start, 1e-6)
    rate = done / elapsed
    total = backfill.total if backfill is not None else None
    finished = backfill.done if backfill is not None else done
    remaining = None
    if total is not None and rate > 0:
        remaining = max(total - finished, 0) / rate
    run.progress(
        Progress(
            source=source.name,
            done=finished,
            total=total,
            rate_per_s=rate,
            remaining_s=remaining,
            rows_read=run.result.rows_read,
        )
    )


def _behind(cursor: Keyset | None, overlap: timedelta) -> Keyset | None:
    if cursor is None or not overlap:
        return cursor
    return Keyset(cursor.date_modified - overlap, "")


def _later(cursor: Keyset | None, position: Keyset) -> Keyset:
    # The overlap re-reads rows behind the cursor: it never moves back.
    if cursor is None:
        return position
    if (position.date_modified, position.id) > (cursor.date_modified, cursor.id):
        return position
    return cursor


def _lower_floor(run: _Run, source: Source, floor: Keyset) -> None:
    held = run.floors.get(source.name)
    if held is not None and (held.date_modified, held.id) <= (floor.date_modified, ""):
        return
    run.store.append([], floors={source.name: floor}, fence=run.fence)
    run.floors[source.name] = floor


def _start_from_now(run: _Run, source: Source) -> None:
    newest = _capped(run.gateway.last_keyset(source.table), run.ceiling)
    run.store.append(
        [], cursors={source.name: newest}, floors={source.name: newest}, fence=run.fence
    )
    run.cursors[source.name] = newest
    if newest is not None:
        run.floors[source.name] = newest
    run.result.started.append(source.name)
    logger.info("%s: first run, starting after %s", source.name, newest)


def _changes_of(
    run: _Run,
    source: Source,
    rows: list[Row],
    floor: Keyset | None,
) -> tuple[list[FeedChange], dict[str, SnapshotRow]]:
    """The entries of a batch, and the snapshots of its records."""
    # Rows up to the floor were there before the sync started (the overlap
    # window reaches behind it on a source's first runs).
    rows = [
        row
        for row in rows_in_scope(source, rows, run.modules)
        if after_floor(row, floor)
    ]
    related: dict[str, dict[str, RecordInfo]] = {
        module: run.gateway.records(module, ids)
        for module, ids in related_wanted(source, rows).items()
    }
    if isinstance(source, LinkSource):
        names = run.gateway.user_names(
            link_actors(related) | actors_wanted(source, rows)
        )
        told = run.store.held_keys(
            link_change_key(source, row, FeedAction.RELATE)
            for row in rows
            if row["deleted"]
        )
        changes = [
            change
            for row in rows
            for change in link_changes(
                source, row, user_names=names, related=related, floor=floor, told=told
            )
        ]
        return _drop_own(run, changes), {}
    assert isinstance(source, RecordSource)
    return _record_batch(run, source, rows, floor, related)


def _record_batch(
    run: _Run,
    source: RecordSource,
    rows: list[Row],
    floor: Keyset | None,
    related: dict[str, dict[str, RecordInfo]],
) -> tuple[list[FeedChange], dict[str, SnapshotRow]]:
    compared = bool(feed_fields().fields_of(source.module))
    previous = run.store.snapshots(source.name, (row["id"] for row in rows))
    snapshots = {
        row["id"]: SnapshotRow(
            fields=snapshot_of(source.module, row),
            date_modified=row["date_modified"],
            deleted=bool(row["deleted"]),
        )
        for row in rows
    }
    held = [dict(s.fields) for s in (*previous.values(), *snapshots.values())]
    names = run.gateway.user_names(actors_wanted(source, rows) | user_ids_in(held))
    changes = []
    for row in rows:
        before = previous.get(row["id"])
        changes.extend(
            record_changes(
                source,
                row,
                floor=floor,
                seen=before is not None,
                user_names=names,
                related=related,
                previous=dict(before.fields) if before and compared else None,
                snapshot=dict(snapshots[row["id"]].fields),
            )
        )
    return _drop_own(run, changes), snapshots


def _drop_own(run: _Run, changes: list[FeedChange]) -> list[FeedChange]:
    if not run.ignore:
        return changes
    kept = [change for change in changes if change.actor_id not in run.ignore]
    run.result.ignored += len(changes) - len(kept)
    return kept
