"""Change events of the sandbox: it acts as a SuiteCRM with the bridge's plugin.

After each write it committed (create, update, delete, relate, unrelate) the
sandbox posts the same signed event the plugin's logic hooks post
(:mod:`dscrm_bridge.plugin.signing`) to a webhook URL.  Sending is fire-and-forget
in one background thread with a short timeout and no retry, so a slow or absent
receiver never holds up an API answer; failures are logged without the secret.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from dscrm_bridge.errors import InputError
from dscrm_bridge.i18n import _
from dscrm_bridge.plugin.signing import ChangeEvent, signed_headers

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 0.5
TOTAL_TIMEOUT_S = 1.5


@dataclass(frozen=True)
class WebhookTarget:
    """Where the sandbox sends its events. Holds the secret: never log it."""

    url: str
    secret: str = field(repr=False)
    #: modules whose changes are sent (as the plugin's hooks); None: every module
    modules: frozenset[str] | None = None

    def wants(self, module: str) -> bool:
        return self.modules is None or module in self.modules


class EventSender:
    """Posts events to a :class:`WebhookTarget` from one daemon thread, in order."""

    def __init__(self, target: WebhookTarget) -> None:
        self.target = target
        self._queue: queue.Queue[ChangeEvent | None] = queue.Queue()
        self._session = requests.Session()
        self._thread = threading.Thread(
            target=self._work, name="dscrm-sandbox-events", daemon=True
        )
        self._thread.start()

    def send(self, events: Iterable[ChangeEvent]) -> None:
        """Queue ``events``; returns at once."""
        for event in events:
            if self.target.wants(event.module):
                self._queue.put(event)

    def close(self, timeout_s: float = 5.0) -> None:
        """Send what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout_s)
        self._session.close()

    def _work(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            self._post(event)

    def _post(self, event: ChangeEvent) -> None:
        body = event.to_json()
        try:
            response = self._session.post(
                self.target.url,
                data=body,
                headers=signed_headers(self.target.secret, body),
                timeout=(CONNECT_TIMEOUT_S, TOTAL_TIMEOUT_S),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            logger.warning(
                "change event %s %s not delivered: %s",
                event.event,
                event.module,
                type(exc).__name__,
            )
            return
        if response.status_code >= 300:
            logger.warning(
                "change event %s %s refused: HTTP %d",
                event.event,
                event.module,
                response.status_code,
            )


def webhook_target_from_env(
    url: str, secret_env: str, env: Mapping[str, str]
) -> WebhookTarget:
    """The target of ``dscrm sandbox --webhook URL --webhook-secret-env VAR``.

    The secret is read from the environment variable ``secret_env`` so that it
    never lands in shell history or the process list.

    Raises:
        InputError: the URL is not http(s) or the variable is unset or empty.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(_("--webhook {url} is not an http(s) URL.").format(url=url))
    secret = env.get(secret_env, "")
    if not secret:
        raise InputError(
            _(
                "The environment variable {name} holds no webhook secret; set it "
                "to the bridge's DSCRM_WEBHOOK_SECRET before starting the sandbox."
            ).format(name=secret_env)
        )
    return WebhookTarget(url, secret)
