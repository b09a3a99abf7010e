"""Running the sandbox: in the foreground (``dscrm sandbox``) or in a thread (tests)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
import sqlalchemy as sa
import uvicorn

from dscrm_bridge.i18n import _
from dscrm_bridge.sandbox.app import create_app, make_engine
from dscrm_bridge.sandbox.events import WebhookTarget
from dscrm_bridge.sandbox.seed import SeedInfo, seed
from dscrm_bridge.serving import base_url as _base_url
from dscrm_bridge.serving import bind
from dscrm_bridge.serving import running_server as running_app

logger = logging.getLogger(__name__)

DEFAULT_DB_URL = "sqlite:///dscrm-sandbox.db"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
STARTUP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class RunningSandbox:
    """A started sandbox: where it answers and how to log in. Holds secrets."""

    base_url: str
    info: SeedInfo
    engine: sa.Engine
    upload_dir: Path

    def access_token(self, user_name: str, password: str) -> str:
        """A password-grant access token of ``user_name`` (tests, benchmarks)."""
        answer = requests.post(
            f"{self.base_url}/Api/access_token",
            json={
                "grant_type": "password",
                "client_id": self.info.password_client_id,
                "client_secret": self.info.password_client_secret,
                "username": user_name,
                "password": password,
            },
            timeout=STARTUP_TIMEOUT_S,
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])


def connection_lines(base_url: str, info: SeedInfo) -> list[str]:
    """Lines to print once at start: URLs, admin user, clients and their secrets.

    When the database had been seeded before, a first line says that the admin
    password and client secrets were replaced.
    """
    warning = [
        _(
            "This database was already seeded: the admin password and client "
            "secrets below REPLACE the earlier ones; clients of another sandbox "
            "still running on it must use them."
        )
    ]
    return (warning if info.reseeded else []) + [
        _("SuiteCRM V8 sandbox listening at {url}").format(url=base_url),
        _("Token URL: {url}").format(url=f"{base_url}/Api/access_token"),
        _("API root: {url}").format(url=f"{base_url}/Api/V8"),
        _("Admin user: {user} (id 1)").format(user=info.admin_user_name),
        _("Password-grant client id: {id}").format(id=info.password_client_id),
        _("client_credentials client id: {id}").format(id=info.cc_client_id),
        _("SECRETS of this run, shown only now; keep them private:"),
        _("  admin password: {secret}").format(secret=info.admin_password),
        _("  password-grant client secret: {secret}").format(
            secret=info.password_client_secret
        ),
        _("  client_credentials client secret: {secret}").format(
            secret=info.cc_client_secret
        ),
    ]


def _prepare(
    db_url: str | sa.Engine,
    upload_dir: Path | None,
    seed_options: dict[str, str | None],
) -> tuple[sa.Engine, SeedInfo, Path]:
    engine = make_engine(db_url) if isinstance(db_url, str) else db_url
    info = seed(engine, **seed_options)
    if upload_dir is None:
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database and database != ":memory:":
            upload_dir = Path(database).resolve().parent / "upload"
        else:
            upload_dir = Path.cwd() / "dscrm-sandbox-upload"
    return engine, info, upload_dir


def serve(
    db_url: str = DEFAULT_DB_URL,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    upload_dir: Path | None = None,
    admin_password: str | None = None,
    password_client_secret: str | None = None,
    cc_client_secret: str | None = None,
    on_ready: Callable[[str, SeedInfo], None] | None = None,
    webhook: WebhookTarget | None = None,
) -> None:
    """Seed ``db_url`` and serve the sandbox until interrupted (port 0: any free port).

    The port is bound first: when it cannot be used, the database is left as it
    was (a sandbox still running on it keeps working).  ``on_ready(base_url,
    info)`` is called once the socket listens; the CLI prints
    :func:`connection_lines` there.  Secrets not given are generated for this run
    (see :func:`dscrm_bridge.sandbox.seed.seed` for a database seeded before).
    With ``webhook``, every write is also posted there as a change event.

    Raises:
        BridgeError: the port cannot be used (nothing was written then).
        DatabaseError: the database cannot be prepared.
    """
    sock = bind(host, port)
    try:
        engine, info, uploads = _prepare(
            db_url,
            upload_dir,
            {
                "admin_password": admin_password,
                "password_client_secret": password_client_secret,
                "cc_client_secret": cc_client_secret,
            },
        )
    except BaseException:
        sock.close()
        raise
    base_url = _base_url(host, sock)
    app = create_app(engine, upload_dir=uploads, webhook=webhook)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    if on_ready is not None:
        on_ready(base_url, info)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        app.state.sandbox.close()
        engine.dispose()


@contextmanager
def running_sandbox(
    db_url: str | sa.Engine,
    *,
    upload_dir: Path | None = None,
    admin_password: str | None = None,
    password_client_id: str | None = None,
    password_client_secret: str | None = None,
    cc_client_id: str | None = None,
    cc_client_secret: str | None = None,
    webhook: WebhookTarget | None = None,
) -> Iterator[RunningSandbox]:
    """Seed and start the sandbox on a free 127.0.0.1 port in a thread; stop after.

    With ``webhook``, every write is also posted there as a change event.
    """
    engine, info, uploads = _prepare(
        db_url,
        upload_dir,
        {
            "admin_password": admin_password,
            "password_client_id": password_client_id,
            "password_client_secret": password_client_secret,
            "cc_client_id": cc_client_id,
            "cc_client_secret": cc_client_secret,
        },
    )
    app = create_app(engine, upload_dir=uploads, webhook=webhook)
    try:
        with running_app(app) as base_url:
            yield RunningSandbox(
                base_url=base_url, info=info, engine=engine, upload_dir=uploads
            )
    finally:
        app.state.sandbox.close()
        if isinstance(db_url, str):
            engine.dispose()
