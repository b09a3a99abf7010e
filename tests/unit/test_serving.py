"""The shared uvicorn helper: binding with readable errors, serving in a thread."""

from __future__ import annotations

import socket

import pytest
import requests
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from dscrm_bridge.errors import BridgeError
from dscrm_bridge.i18n import translator
from dscrm_bridge.serving import bind, running_server


def _hello(request: object) -> PlainTextResponse:
    return PlainTextResponse("你好")


def test_running_server_serves_on_a_free_port_then_stops() -> None:
    app = Starlette(routes=[Route("/", _hello)])
    with running_server(app) as url:
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(url, timeout=10).text == "你好"
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=10)


@pytest.mark.parametrize(
    ("lang", "reason"),
    [("en", "already in use"), ("zh_CN", "已被其他程序占用")],
)
def test_a_busy_port_is_said_in_the_users_language(
    monkeypatch: pytest.MonkeyPatch, lang: str, reason: str
) -> None:
    monkeypatch.setattr("dscrm_bridge.serving._", translator(lang))
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        with pytest.raises(BridgeError) as caught:
            bind("127.0.0.1", busy.getsockname()[1])
    finally:
        busy.close()
    assert reason in str(caught.value)
    assert "Address already in use" not in str(caught.value)


def test_bound_socket_listens() -> None:
    sock = bind("127.0.0.1", 0)
    try:
        client = socket.create_connection(sock.getsockname(), timeout=5)
        client.close()
    finally:
        sock.close()
