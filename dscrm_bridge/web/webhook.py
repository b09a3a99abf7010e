"""The webhook receiver: SuiteCRM's plugin (or the sandbox) nudges the sync here.

``POST /webhook`` takes one signed change event (see
:mod:`dscrm_bridge.plugin.signing`).  It answers

- 401 when the signature is wrong, the timestamp is outside the replay window
  (``webhook.replay_window_s``) or the same signed request was seen before;
- 503 when no secret is configured (``DSCRM_WEBHOOK_SECRET``);
- 400 when a correctly signed body is not an event; 413 when it is too large;
- 202 otherwise: the incremental sync of the event's module is queued at once.

The event is only a nudge: the sync reads the change from SuiteCRM, never from
the payload.  Nudges for the same module coalesce while a sync runs, so a burst
of saves costs one or two runs.  Polling stays as the safety net for events
that never arrive.  Refusals are logged with their reason and the caller's
address; never with the secret or the signature.

    receiver = WebhookReceiver(config)            # or webhook_router(config)
    app.include_router(receiver.router)
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from dscrm_bridge.config import Config
from dscrm_bridge.errors import BridgeError
from dscrm_bridge.plugin.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    parse_event,
    signature_matches,
)

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhook"
MAX_BODY_BYTES = 64 * 1024

SyncRunner = Callable[[list[str]], Any]
Clock = Callable[[], float]


class ReplayGuard:
    """Remembers the signed requests accepted within the replay window."""

    def __init__(self, window_s: int, *, clock: Clock = time.time) -> None:
        self.window_s = window_s
        self._clock = clock
        self._seen: set[str] = set()
        self._order: deque[tuple[float, str]] = deque()  # oldest first
        self._lock = threading.Lock()

    def is_fresh(self, timestamp: int) -> bool:
        """Whether ``timestamp`` lies within the window around now."""
        return abs(self._clock() - timestamp) <= self.window_s

    def first_time(self, key: str) -> bool:
        """Record ``key``; False when it was already seen within the window."""
        now = self._clock()
        with self._lock:
            self._forget_before(now - self.window_s)
            if key in self._seen:
                return False
            self._seen.add(key)
            self._order.append((now, key))
            return True

    def _forget_before(self, moment: float) -> None:
        while self._order and self._order[0][0] < moment:
            self._seen.discard(self._order.popleft()[1])


class SyncNudger:
    """Runs the sync for nudged modules in one background thread, coalescing."""

    def __init__(self, run: SyncRunner) -> None:
        self._run = run
        self._pending: set[str] = set()
        self._busy = False
        self._closed = False
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def nudge(self, modules: Iterable[str]) -> None:
        """Ask for a sync of ``modules`` as soon as the worker is free."""
        with self._condition:
            if self._closed:
                return
            self._pending.update(modules)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="dscrm-webhook-sync", daemon=True
                )
                self._thread.start()
            self._condition.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until nothing is pending or running; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._condition.wait(left)
            return True

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the worker after the run in progress."""
        with self._condition:
            self._closed = True
            self._pending.clear()
            self._condition.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._pending and not self._closed:
                    self._condition.wait()
                if self._closed:
                    return
                modules = sorted(self._pending)
                self._pending.clear()
                self._busy = True
            try:
                self._run(modules)
            except BridgeError as exc:
                logger.error("webhook sync of %s failed: %s", modules, exc)
            except Exception:  # noqa: BLE001 - the worker must outlive one bad run
                logger.exception("webhook sync of %s failed", modules)
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()


def sync_runner(config: Config) -> SyncRunner:
    """The default runner: the configured incremental sync of the given modules.

    It runs as ``dscrm sync`` does (SQL or V8 API source, overlap, ignored
    bridge users), through the sync's service, opened on first use.  No lease is
    taken: a scheduled run of the same modules may overlap, which is harmless
    because the feed keeps each change once and a cursor only repeats reads.
    """
    from dscrm_bridge.sync.runner import JobKind, JobSpec, SyncService

    services: list[SyncService] = []

    def run(modules: list[str]) -> Any:
        if not services:
            services.append(SyncService(config))
        spec = JobSpec("webhook", JobKind.SYNC, tuple(modules))
        outcome = services[0].run_job(spec)
        appended = outcome.sync.total if outcome.sync is not None else 0
        logger.info("webhook sync of %s appended %d entries", modules, appended)
        return outcome

    return run


class WebhookReceiver:
    """The ``/webhook`` route, its replay memory and its sync worker."""

    def __init__(
        self,
        config: Config,
        *,
        run_sync: SyncRunner | None = None,
        clock: Clock = time.time,
        path: str = WEBHOOK_PATH,
    ) -> None:
        self.secret = config.webhook.secret
        self.modules = frozenset(config.sync.modules)
        self.replays = ReplayGuard(config.webhook.replay_window_s, clock=clock)
        self.nudger = SyncNudger(run_sync or sync_runner(config))
        self.router = APIRouter()
        self.router.add_api_route(
            path,
            self._receive,
            methods=["POST"],
            include_in_schema=False,
            response_class=JSONResponse,
        )
        if not self.secret:
            logger.warning(
                "webhook: no secret configured (DSCRM_WEBHOOK_SECRET); "
                "every event is refused"
            )

    def close(self) -> None:
        self.nudger.close()

    async def _receive(self, request: Request) -> JSONResponse:
        client = request.client.host if request.client else "?"
        body = await request.body()
        if not self.secret:
            return _refuse(503, "not_configured", client, "no webhook secret set")
        if len(body) > MAX_BODY_BYTES:
            return _refuse(413, "too_large", client, f"{len(body)} bytes")
        refusal = self._check_signature(request, body, client)
        if refusal is not None:
            return refusal

        try:
            event = parse_event(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return _refuse(400, "not_an_event", client, str(exc))
        if event.module not in self.modules:
            logger.info("webhook: %s is not synced; event ignored", event.module)
            return JSONResponse({"status": "ignored"}, status_code=202)
        logger.debug(
            "webhook: %s %s %s by %s",
            event.event,
            event.module,
            event.record_id,
            event.user_id,
        )
        self.nudger.nudge([event.module])
        return JSONResponse({"status": "queued"}, status_code=202)

    def _check_signature(
        self, request: Request, body: bytes, client: str
    ) -> JSONResponse | None:
        stamp = request.headers.get(TIMESTAMP_HEADER, "")
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not stamp.isdigit() or not given:
            return _refuse(401, "unsigned", client, "missing timestamp or signature")
        if not signature_matches(self.secret.reveal(), stamp, body, given):
            return _refuse(401, "bad_signature", client, "signature does not match")
        if not self.replays.is_fresh(int(stamp)):
            return _refuse(
                401,
                "stale",
                client,
                f"timestamp {stamp} outside the {self.replays.window_s}s window",
            )
        # The signature covers timestamp and body: the same one twice is a replay.
        key = hashlib.sha256(given.encode("ascii", "replace")).hexdigest()
        if not self.replays.first_time(key):
            return _refuse(401, "replayed", client, "signed request seen before")
        return None


def _refuse(status: int, code: str, client: str, reason: str) -> JSONResponse:
    logger.warning("webhook refused a request from %s: %s", client, reason)
    return JSONResponse({"error": code}, status_code=status)


def webhook_router(config: Config, *, run_sync: SyncRunner | None = None) -> APIRouter:
    """The ``POST /webhook`` router for ``dscrm serve`` (see WebhookReceiver)."""
    return WebhookReceiver(config, run_sync=run_sync).router
