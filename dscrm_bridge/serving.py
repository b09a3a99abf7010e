"""Serving an ASGI app with uvicorn: binding the socket and running it in a thread.

One helper for every server of the bridge (the sandbox, the feed's web service):

    bind(host, port) -> socket.socket   (listening; BridgeError with a readable reason)
    running_server(app, *, host="127.0.0.1") -> context manager yielding the base URL
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from dscrm_bridge.errors import BridgeError
from dscrm_bridge.i18n import _

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 15.0
BACKLOG = 512


def _reason(exc: OSError) -> str:
    """The OS error of a failed bind, said in the user's language."""
    if exc.errno == errno.EADDRINUSE:
        return _("the port is already in use by another program")
    if exc.errno == errno.EACCES:
        return _("permission denied (ports below 1024 need administrator rights)")
    if exc.errno == errno.EADDRNOTAVAIL:
        return _("this machine has no such address")
    return _("system error {code}").format(code=exc.errno)


def bind(host: str, port: int) -> socket.socket:
    """A socket listening on ``host``:``port`` (port 0: any free port).

    Raises:
        BridgeError: the address cannot be used; the message says why.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BridgeError(
            _("Cannot listen on {host}:{port}: {error}. Choose another port.").format(
                host=host, port=port, error=_reason(exc)
            )
        ) from exc
    sock.listen(BACKLOG)
    return sock


def base_url(host: str, sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket."""
    return f"http://{host}:{sock.getsockname()[1]}"


@contextmanager
def running_server(app: Any, *, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ASGI ``app`` on a free port of ``host`` in a thread; yields its base URL.

    The server is stopped, and its thread joined, when the block ends.
    """
    sock = bind(host, 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="dscrm-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout=STARTUP_TIMEOUT_S)
            sock.close()
            raise BridgeError(_("The server did not start."))
        time.sleep(0.02)
    try:
        yield base_url(host, sock)
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)
        sock.close()
