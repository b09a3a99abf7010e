"""Running the feed's web service: from the configuration (``dscrm serve``) or in a
thread on a free loopback port (tests, bench).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import APIRouter, FastAPI

from dscrm_bridge.config import Config
from dscrm_bridge.errors import ConfigError
from dscrm_bridge.feed.migrate import upgrade
from dscrm_bridge.i18n import _
from dscrm_bridge.serving import bind as _bind
from dscrm_bridge.serving import running_server
from dscrm_bridge.suitecrm.gateway import open_engine
from dscrm_bridge.suitecrm.v8client import V8Client
from dscrm_bridge.web.app import create_app
from dscrm_bridge.web.auth import ClientFactory
from dscrm_bridge.web.service import FeedService, WebSettings

logger = logging.getLogger(__name__)


def client_factory(config: Config) -> ClientFactory:
    """V8 clients that sign in as the person logging in (password grant)."""
    crm = config.suitecrm

    def make(user_name: str, password: str) -> V8Client:
        return V8Client(
            crm.url,
            client_id=crm.client_id,
            client_secret=crm.client_secret.reveal(),
            grant_type="password",
            username=user_name,
            password=password,
            api_prefix=crm.api_prefix,
            timeout_s=crm.timeout_s,
            verify_tls=crm.verify_tls,
        )

    return make


def service_from_config(config: Config) -> FeedService:
    """The :class:`FeedService` of ``config``; the bridge's database is upgraded.

    Raises:
        ConfigError: a setting the service needs is missing.
    """
    problems = []
    if not config.suitecrm.database_url:
        problems.append(
            _("suitecrm.database_url (users, groups and ACL are read from it)")
        )
    if not config.suitecrm.client_id or not config.suitecrm.client_secret:
        problems.append(
            _(
                "suitecrm.client_id and DSCRM_SUITECRM_CLIENT_SECRET (a "
                "password-grant OAuth2 client; logins are checked with it)"
            )
        )
    if len(config.web.session_secret.reveal()) < 16:
        problems.append(_("DSCRM_WEB_SESSION_SECRET (at least 16 random characters)"))
    if problems:
        raise ConfigError(_("`dscrm serve` needs:"), problems=problems)
    feed_url = config.bridge.sql_url()
    upgrade(feed_url)
    settings = WebSettings(
        session_secret=config.web.session_secret.reveal(),
        page_size=config.web.page_size,
        session_max_age_s=config.web.session_max_age_s,
        login_max_failures=config.web.login_max_failures,
        login_window_s=config.web.login_window_s,
        suitecrm_url=config.suitecrm.url,
        language=config.language,
        writeback=_writeback_enabled(config),
        modules=tuple(config.sync.modules),
        secure_cookies=config.web.public_url.startswith("https://"),
    )
    return FeedService(
        open_engine(feed_url),
        open_engine(config.suitecrm.sql_url()),
        client_factory=client_factory(config),
        settings=settings,
    )


def app_from_config(config: Config) -> FastAPI:
    """The whole app of ``dscrm serve``: feed API, page and webhook receiver."""
    return create_app(service_from_config(config), extra_routers=_webhook(config))


def serve(
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until interrupted on ``host``:``port`` (default ``web.host``/``port``)."""
    app = app_from_config(config)
    host = host or config.web.host
    sock = _bind(host, config.web.port if port is None else port)
    url = config.web.public_url or f"http://{host}:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    if on_ready is not None:
        on_ready(url)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


@contextmanager
def running_web(app: FastAPI, *, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` in a thread on a free port of ``host``; yields its base URL."""
    with running_server(app, host=host) as url:
        yield url


def _writeback_enabled(config: Config) -> bool:
    """Replies go to SuiteCRM's sugarfeed when the sync writes entries back."""
    return config.sync.writeback


def _webhook(config: Config) -> list[APIRouter]:
    from dscrm_bridge.web.webhook import webhook_router

    return [webhook_router(config)]
