"""Running the sync: once (cron), or all day under APScheduler with leases.

The service layer behind ``dscrm sync --once``, ``dscrm sync run`` and
``dscrm sync status``: each is one function taking the frozen configuration.

Jobs come from ``sync.jobs`` (one per module group, each on an interval or a
cron expression; none listed: one job ``all`` every ``sync.interval_s``), plus
``reconcile`` (API source: finds deletes, Q30) and ``writeback`` (when
``sync.writeback`` is on).  Chosen for syncs: ``coalesce`` (runs missed while
one was busy or the host slept collapse into one - a run catches up by its
cursor anyway), ``max_instances=1`` and no misfire grace limit (a late run is
still wanted).

Two runners may share one bridge database.  A job runs only under its lease
(:mod:`dscrm_bridge.sync.lease`); the holder renews it every third of
``sync.lease_s``; the others try to take it as often, so when the holder dies a
standby runs the job within ``lease_s`` plus a third (27 s by default).

Job state lives in the bridge's database (cursors, per-source status, leases),
not in an APScheduler job store: APScheduler 3 does not support one job store
shared by several schedulers, and the schedule itself is configuration.

A stop (SIGTERM, Ctrl-C or the ``stop`` event) lets each running job finish the
batch it is writing - every batch is one transaction - then gives the leases up
so a standby takes over at once.
"""

from __future__ import annotations

import enum
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from dscrm_bridge.config import Config
from dscrm_bridge.errors import BridgeError, ConfigError, SyncError
from dscrm_bridge.feed import FeedStore, upgrade
from dscrm_bridge.feed.store import Fence, utc_now
from dscrm_bridge.i18n import _
from dscrm_bridge.suitecrm import tables
from dscrm_bridge.suitecrm.gateway import (
    MODULE_TABLES,
    Keyset,
    SuiteCRMGateway,
    translate_errors,
)
from dscrm_bridge.suitecrm.v8client import V8Client
from dscrm_bridge.sync.api_source import ApiReader, reconcile_deletes
from dscrm_bridge.sync.engine import (
    ProgressCallback,
    StopCheck,
    SyncResult,
    plan_backfill,
    suitecrm_now,
    sync_once,
)
from dscrm_bridge.sync.lease import Lease, LeaseLostError, lease_holders, runner_id
from dscrm_bridge.sync.sources import RecordSource, sources_for
from dscrm_bridge.sync.writeback import WRITEBACK_SOURCE, write_back

logger = logging.getLogger(__name__)

DEFAULT_JOB = "all"
LEASE_PREFIX = "job:"


class JobKind(enum.Enum):
    SYNC = "sync"
    RECONCILE = "reconcile"
    WRITEBACK = "writeback"


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job."""

    name: str
    kind: JobKind
    modules: tuple[str, ...] = ()
    interval_s: float | None = None
    cron: str | None = None

    def trigger(self) -> CronTrigger | IntervalTrigger:
        if self.cron:
            try:
                return CronTrigger.from_crontab(self.cron)
            except ValueError as exc:
                raise ConfigError(
                    _(
                        "Sync job {job} has an invalid cron expression {cron}: {reason}"
                    ).format(job=self.name, cron=self.cron, reason=exc)
                ) from exc
        return IntervalTrigger(seconds=self.interval_s or 60)


def uses_api(config: Config) -> bool:
    """Whether changes are read through the V8 API rather than SQL."""
    source = config.sync.source
    if source == "auto":
        return not config.suitecrm.database_url
    return source == "api"


def job_specs(config: Config) -> list[JobSpec]:
    """The jobs ``dscrm sync run`` schedules for ``config``."""
    sync = config.sync
    specs = [
        JobSpec(
            name=str(job["name"]),
            kind=JobKind.SYNC,
            modules=tuple(job["modules"]),
            interval_s=job.get("interval_s")
            or (None if job.get("cron") else sync.interval_s),
            cron=job.get("cron"),
        )
        for job in sync.jobs
    ] or [JobSpec(DEFAULT_JOB, JobKind.SYNC, tuple(sync.modules), sync.interval_s)]
    if uses_api(config):
        specs.append(
            JobSpec(
                "reconcile",
                JobKind.RECONCILE,
                tuple(sync.modules),
                sync.reconcile_interval_s,
            )
        )
    if sync.writeback:
        specs.append(
            JobSpec("writeback", JobKind.WRITEBACK, interval_s=sync.interval_s)
        )
    return specs


@dataclass
class JobOutcome:
    """What one run of a job did."""

    job: str
    sync: SyncResult | None = None
    deleted: dict[str, int] = field(default_factory=dict)
    written: int = 0


class SyncService:
    """The configured databases and API, opened once, and the jobs over them."""

    def __init__(self, config: Config, *, client: V8Client | None = None) -> None:
        self.config = config
        url = config.bridge.sql_url()
        upgrade(url)
        self.store = FeedStore(url)
        self._client = client
        self.api = uses_api(config)
        if self.api:
            self.reader: SuiteCRMGateway | ApiReader = ApiReader(
                self.client(), page_size=min(config.sync.batch_size, 100)
            )
        else:
            self._check_sql()
            gateway = SuiteCRMGateway(config.suitecrm.sql_url())
            gateway.verify()
            self.reader = gateway
        self._ignore: frozenset[str] | None = None

    def client(self) -> V8Client:
        if self._client is None:
            crm = self.config.suitecrm
            self._client = V8Client(
                crm.url,
                client_id=crm.client_id,
                client_secret=crm.client_secret.reveal(),
                grant_type=crm.grant_type,
                username=crm.username if crm.grant_type == "password" else None,
                password=crm.password.reveal() or None,
                api_prefix=crm.api_prefix,
                timeout_s=crm.timeout_s,
                verify_tls=crm.verify_tls,
            )
        return self._client

    def ignore_user_ids(self) -> frozenset[str]:
        """The bridge's own SuiteCRM users (configured ids and the API user)."""
        if self._ignore is None:
            ids = set(self.config.sync.bridge_user_ids)
            if self.config.sync.ignore_api_user and self.config.suitecrm.username:
                ids |= self._api_user_ids()
            self._ignore = frozenset(ids)
        return self._ignore

    def run_job(
        self,
        spec: JobSpec,
        *,
        since: datetime | None = None,
        should_stop: StopCheck | None = None,
        fence: Fence | None = None,
        progress: ProgressCallback | None = None,
    ) -> JobOutcome:
        """Run ``spec`` once, now."""
        outcome = JobOutcome(spec.name)
        if spec.kind is JobKind.SYNC:
            outcome.sync = sync_once(
                self.reader,
                self.store,
                modules=spec.modules,
                since=since,
                batch_size=self.config.sync.batch_size,
                overlap_s=self.config.sync.overlap_s,
                security_groups=self.config.sync.security_groups,
                ignore_user_ids=self.ignore_user_ids(),
                should_stop=should_stop,
                fence=fence,
                progress=progress,
            )
        elif spec.kind is JobKind.RECONCILE:
            outcome.deleted = reconcile_deletes(
                self.client(), self.store, modules=spec.modules, fence=fence
            )
        else:
            self._check_sql()
            result = write_back(
                self.config.suitecrm.sql_url(),
                self.store,
                language=self.config.language,
                fence=fence,
            )
            outcome.written = result.written
        return outcome

    def _check_sql(self) -> None:
        if not self.config.suitecrm.database_url:
            raise ConfigError(
                _(
                    "This needs SQL access to SuiteCRM: set suitecrm.database_url "
                    "(or sync.source: api to read changes through the V8 API)"
                )
            )

    def _api_user_ids(self) -> set[str]:
        username = self.config.suitecrm.username
        if self.api:
            return {self.client().current_user().id}
        engine = SuiteCRMGateway(self.config.suitecrm.sql_url()).engine
        query = sa.select(tables.users.c.id).where(
            tables.users.c.user_name == username, tables.users.c.deleted == 0
        )
        with translate_errors(engine), engine.connect() as conn:
            return set(conn.execute(query).scalars())


def run_once(
    config: Config,
    *,
    since: datetime | None = None,
    progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    client: V8Client | None = None,
) -> list[JobOutcome]:
    """Every job once, now, each under its lease (``dscrm sync --once``).

    Raises:
        SyncError: another runner holds a job's lease right now.
    """
    service = SyncService(config, client=client)
    holder = runner_id()
    specs = job_specs(config)
    if since is not None:
        # Every source's requested start is stored before the first batch: an
        # interrupted backfill then resumes, with or without --since.
        plan_backfill(
            service.reader,
            service.store,
            modules=[m for s in specs if s.kind is JobKind.SYNC for m in s.modules],
            since=since,
            security_groups=config.sync.security_groups,
        )
    outcomes = []
    for spec in specs:
        if spec.kind is JobKind.RECONCILE and not _reconcile_due(service, spec):
            continue
        with _leased(service, spec, holder) as lease:
            outcomes.append(
                service.run_job(
                    spec,
                    since=since if spec.kind is JobKind.SYNC else None,
                    should_stop=should_stop,
                    fence=lease.fence,
                    progress=progress,
                )
            )
    return outcomes


def _reconcile_due(service: SyncService, spec: JobSpec) -> bool:
    """Whether the slowest module's last reconciliation is older than the interval."""
    held = service.store.status()
    interval = timedelta(seconds=service.config.sync.reconcile_interval_s)
    now = utc_now()
    for module in spec.modules:
        done = held.get(MODULE_TABLES[module].name, {}).get("reconciled_at")
        if done is None or now - done >= interval:
            return True
    return False


@contextmanager
def _leased(service: SyncService, spec: JobSpec, holder: str) -> Iterator[Lease]:
    lease = Lease(
        service.store.engine,
        LEASE_PREFIX + spec.name,
        holder=holder,
        ttl_s=service.config.sync.lease_s,
    )
    if not lease.acquire():
        holder_now, until = lease_holders(service.store.engine).get(
            lease.name, ("?", None)
        )
        raise SyncError(
            _(
                "Another sync is running job {job} (holder {holder}, until {until}); "
                "try again when it has finished"
            ).format(
                job=spec.name,
                holder=holder_now,
                until=_iso(until) if isinstance(until, datetime) else "?",
            )
        )
    renewer = _Renewer(lease)
    renewer.start()
    try:
        yield lease
    finally:
        renewer.stop()
        lease.release()


class _Renewer(threading.Thread):
    """Keeps one lease alive while a one-off run works."""

    def __init__(self, lease: Lease) -> None:
        super().__init__(daemon=True, name=f"lease-{lease.name}")
        self.lease = lease
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.lease.ttl_s / 3):
            try:
                self.lease.acquire()
            except BridgeError as exc:
                logger.warning("could not renew lease %s: %s", self.lease.name, exc)

    def stop(self) -> None:
        self._done.set()
        self.join()


Report = Callable[[JobOutcome], None]


class _BusyJobFilter(logging.Filter):
    """Drops APScheduler's warning that a run was skipped while one is busy.

    With ``max_instances=1`` that is the design, not a problem: the busy run
    catches up by its cursor.  Shown every interval it would drown real warnings.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in record.getMessage()


_BUSY_FILTER = _BusyJobFilter()


def run_forever(
    config: Config,
    *,
    stop: threading.Event | None = None,
    holder: str | None = None,
    report: Report | None = None,
    client: V8Client | None = None,
    handle_signals: bool = True,
) -> None:
    """Run the scheduled jobs until SIGTERM, Ctrl-C or ``stop`` (``dscrm sync run``)."""
    service = SyncService(config, client=client)
    stop = stop or threading.Event()
    runner = _Runner(service, holder or runner_id(), stop, report)
    logging.getLogger("apscheduler.scheduler").addFilter(_BUSY_FILTER)
    if handle_signals and threading.current_thread() is threading.main_thread():
        _stop_on_signals(stop)
    runner.start()
    logger.info(
        "sync runner %s started: %s", runner.holder, [s.name for s in runner.specs]
    )
    try:
        while not stop.wait(1.0):
            pass
    finally:
        runner.shutdown()
        logger.info("sync runner %s stopped", runner.holder)


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(signum: int, frame: Any) -> None:
        logger.info("signal %d: finishing the current batches, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


class _Runner:
    """The scheduler, the leases this runner holds, and the lease heartbeat."""

    def __init__(
        self,
        service: SyncService,
        holder: str,
        stop: threading.Event,
        report: Report | None,
    ) -> None:
        self.service = service
        self.holder = holder
        self.stop = stop
        self.report = report
        self.specs = job_specs(service.config)
        ttl = service.config.sync.lease_s
        self.leases = {
            spec.name: Lease(
                service.store.engine, LEASE_PREFIX + spec.name, holder=holder, ttl_s=ttl
            )
            for spec in self.specs
        }
        self.held: set[str] = set()
        self._lock = threading.Lock()
        self.scheduler = BackgroundScheduler(
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": None,
            },
            executors={
                "default": {"type": "threadpool", "max_workers": len(self.specs) + 1}
            },
        )

    def start(self) -> None:
        now = datetime.now(UTC)
        for spec in self.specs:
            self.scheduler.add_job(
                self._run,
                trigger=spec.trigger(),
                args=[spec],
                id=spec.name,
                name=spec.name,
                next_run_time=now,
            )
        self.scheduler.add_job(
            self._heartbeat,
            trigger=IntervalTrigger(seconds=self.service.config.sync.lease_s / 3),
            id="__leases__",
            next_run_time=now,
        )
        self.scheduler.start()

    def shutdown(self) -> None:
        self.stop.set()
        self.scheduler.shutdown(wait=True)
        # Every lease, not only those noted as held: release removes only ours.
        for name in self.leases:
            try:
                self.leases[name].release()
            except BridgeError as exc:
                logger.warning("could not release lease %s: %s", name, exc)
        self.held.clear()

    def _run(self, spec: JobSpec) -> None:
        if self.stop.is_set():
            return
        lease = self.leases[spec.name]
        try:
            if not lease.acquire():
                logger.debug("job %s: another runner holds it", spec.name)
                self._forget(spec.name)
                return
            self._keep(spec.name)
            outcome = self.service.run_job(
                spec, should_stop=self.stop.is_set, fence=lease.fence
            )
        except LeaseLostError as exc:
            logger.warning("%s", exc)
            self._forget(spec.name)
            return
        except BridgeError as exc:
            # The engine noted the error in the source's status; the next run
            # tries again.
            logger.error("job %s failed: %s", spec.name, exc)
            return
        if self.report is not None:
            self.report(outcome)

    def _heartbeat(self) -> None:
        """Renew the leases held; take over any whose holder stopped renewing."""
        if self.stop.is_set():
            return
        for spec in self.specs:
            lease = self.leases[spec.name]
            try:
                holds = lease.acquire()
            except BridgeError as exc:
                logger.warning("lease %s: %s", lease.name, exc)
                continue
            if not holds:
                self._forget(spec.name)
                continue
            with self._lock:
                taken_over = spec.name not in self.held
                self.held.add(spec.name)
            if taken_over:
                logger.info("job %s: lease taken, running it now", spec.name)
                self.scheduler.modify_job(spec.name, next_run_time=datetime.now(UTC))

    def _keep(self, name: str) -> None:
        with self._lock:
            self.held.add(name)

    def _forget(self, name: str) -> None:
        with self._lock:
            self.held.discard(name)


def status_report(config: Config) -> list[dict[str, Any]]:
    """Per source: cursor, lag, last run, rows, last error, backfill progress.

    Lag is how far the cursor trails SuiteCRM's newest change, in seconds
    (None when SuiteCRM cannot be reached or the source is empty).
    """
    service = SyncService(config)
    held = service.store.status()
    leases = lease_holders(service.store.engine)
    modules = list(config.sync.modules)
    report = []
    for source in sources_for(modules, security_groups=config.sync.security_groups):
        if service.api and not isinstance(source, RecordSource):
            continue  # the API source reads no link tables
        state = held.get(source.name, {})
        cursor: Keyset | None = state.get("cursor")
        report.append(
            {
                "source": source.name,
                "module": getattr(source, "module", None) or None,
                "cursor": _cursor_text(cursor),
                "lag_s": _lag(service, source.table, cursor),
                "last_run_at": _iso(state.get("last_run_at")),
                "last_success_at": _iso(state.get("last_success_at")),
                "last_rows": state.get("last_rows", 0),
                "total_rows": state.get("total_rows", 0),
                "last_error": state.get("last_error"),
                "last_error_at": _iso(state.get("last_error_at")),
                "backfill": _backfill_text(state),
                "reconciled_at": _iso(state.get("reconciled_at")),
            }
        )
    if WRITEBACK_SOURCE in held:
        state = held[WRITEBACK_SOURCE]
        report.append(
            {
                "source": WRITEBACK_SOURCE,
                "module": None,
                "cursor": None,
                "lag_s": None,
                "last_run_at": _iso(state.get("last_run_at")),
                "last_success_at": _iso(state.get("last_success_at")),
                "last_rows": state.get("last_rows", 0),
                "total_rows": state.get("total_rows", 0),
                "last_error": state.get("last_error"),
                "last_error_at": _iso(state.get("last_error_at")),
                "backfill": None,
                "reconciled_at": None,
            }
        )
    now = utc_now()
    for entry in report:
        entry["leases"] = {
            name.removeprefix(LEASE_PREFIX): holder
            for name, (holder, expires) in leases.items()
            if expires > now  # type: ignore[operator]
        }
    return report


def _lag(service: SyncService, table: sa.Table, cursor: Keyset | None) -> float | None:
    if cursor is None:
        return None
    try:
        newest = service.reader.last_keyset(table)
    except BridgeError as exc:
        logger.warning("lag of %s unknown: %s", table.name, exc)
        return None
    if newest is None:
        return None
    # A row dated in the future (Q19) is no lag: the cursor stops at "now".
    newest_at = min(newest.date_modified, suitecrm_now(service.reader))
    return max((newest_at - cursor.date_modified).total_seconds(), 0.0)


def _cursor_text(cursor: Keyset | None) -> str | None:
    if cursor is None:
        return None
    return f"{_iso(cursor.date_modified)} {cursor.id}".strip()


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC).isoformat()


def _backfill_text(state: dict[str, Any]) -> dict[str, Any] | None:
    if state.get("backfill_since") is None:
        return None
    return {
        "since": _iso(state["backfill_since"]),
        "done": state.get("backfill_done") or 0,
        "total": state.get("backfill_total"),
        "started_at": _iso(state.get("backfill_started_at")),
    }
