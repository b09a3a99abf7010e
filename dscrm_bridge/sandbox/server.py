"""Running the sandbox: in the foreground (``dscrm sandbox``) or in a thread (tests)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
import uvicorn

from dscrm_bridge.errors import BridgeError
from dscrm_bridge.i18n import _
from dscrm_bridge.sandbox.app import create_app, make_engine
from dscrm_bridge.sandbox.events import WebhookTarget
from dscrm_bridge.sandbox.seed import SeedInfo, seed

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
    """Lines to print once at start: URLs, admin user, clients and their secrets."""
    return [
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


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BridgeError(
            _("Cannot listen on {host}:{port}: {error}. Choose another port.").format(
                host=host, port=port, error=exc.strerror
            )
        ) from exc
    sock.listen(128)
    return sock


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

    ``on_ready(base_url, info)`` is called once the socket listens; the CLI prints
    :func:`connection_lines` there.  Secrets not given are generated for this run.
    With ``webhook``, every write is also posted there as a change event.
    """
    engine, info, uploads = _prepare(
        db_url,
        upload_dir,
        {
            "admin_password": admin_password,
            "password_client_secret": password_client_secret,
            "cc_client_secret": cc_client_secret,
        },
    )
    sock = _bind(host, port)
    base_url = f"http://{host}:{sock.getsockname()[1]}"
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


@contextmanager
def running_app(app: Any, *, host: str = DEFAULT_HOST) -> Iterator[str]:
    """Serve an ASGI ``app`` on a free port of ``host`` in a thread; yields its URL."""
    sock = _bind(host, 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="dscrm-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise BridgeError(_("The sandbox server did not start."))
        time.sleep(0.02)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)
        sock.close()
