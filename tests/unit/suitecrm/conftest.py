"""Fakes of SuiteCRM for the V8 client, built from the recorded transcript's bodies."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from dscrm_bridge import i18n
from dscrm_bridge.suitecrm.v8client import V8Client, forget_probed_prefixes

BASE_URL = "http://127.0.0.1:8080"
TOKEN_URL = BASE_URL + "/Api/access_token"
V8_URL = BASE_URL + "/Api/V8"
# The password-grant client of the recorded run (transcript "Environment").
CLIENT_ID = "83b8b5ed-1c47-4a01-aea4-ab07e3837b27"
CLIENT_SECRET = "bridge-password-secret"
USERNAME = "admin"
PASSWORD = "admin123"
BACKOFF_MAX_S = 4.0


class Transcript:
    """The exchanges of api-transcript.jsonl, looked up by step id (``"F32"``)."""

    def __init__(self, path: Path) -> None:
        self._by_step: dict[str, list[dict[str, Any]]] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            exchange = json.loads(line)
            self._by_step.setdefault(exchange["step"].split()[0], []).append(exchange)

    def __call__(self, step: str, index: int = 0) -> dict[str, Any]:
        return copy.deepcopy(self._by_step[step][index])

    def body(self, step: str) -> Any:
        return self(step)["response_body"]


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Messages in English, whatever the default language; restored afterwards."""
    before = i18n.current_language()
    i18n.set_language("en")
    yield
    i18n.set_language(before)


@pytest.fixture(autouse=True)
def fresh_prefixes() -> Iterator[None]:
    """Each test probes the API prefix anew (the cache is per process)."""
    forget_probed_prefixes()
    yield
    forget_probed_prefixes()


@pytest.fixture(scope="session")
def transcript(reference_dir: Path) -> Transcript:
    return Transcript(reference_dir / "api-transcript.jsonl")


@pytest.fixture()
def fake() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def sleeps() -> list[float]:
    return []


@pytest.fixture()
def make_client(clock: Clock, sleeps: list[float]) -> Callable[..., V8Client]:
    """A client of the recorded instance (prefix /Api) whose sleeps only move the
    test clock and are recorded."""

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.sleep(seconds)

    def make(**options: Any) -> V8Client:
        settings: dict[str, Any] = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "username": USERNAME,
            "password": PASSWORD,
            "api_prefix": "/Api",
            "backoff_max_s": BACKOFF_MAX_S,
            "sleep": sleep,
            "clock": clock,
            **options,
        }
        return V8Client(BASE_URL, **settings)

    return make


class FakeCRM:
    """The fake SuiteCRM of one test: replays recorded exchanges, lists the calls."""

    def __init__(self, mock: responses.RequestsMock, transcript: Transcript) -> None:
        self.mock = mock
        self.transcript = transcript

    def replay(
        self,
        step: str,
        *,
        method: str | None = None,
        url: str | None = None,
        index: int = 0,
    ) -> dict[str, Any]:
        """Answer the step's request with its recorded answer; returns the exchange."""
        exchange = self.transcript(step, index)
        add_exchange(self.mock, exchange, method=method, url=url)
        return exchange

    def token(self, access: str = "token-1", step: str = "A1") -> None:
        add_token(self.mock, self.transcript, access, step)

    def api_calls(self) -> list[Any]:
        return api_calls(self.mock)

    def query(self, index: int = 0) -> dict[str, str]:
        """The decoded query string of the index-th API call."""
        return dict(parse_qsl(urlsplit(self.api_calls()[index].request.url).query))


@pytest.fixture()
def crm(fake: responses.RequestsMock, transcript: Transcript) -> FakeCRM:
    return FakeCRM(fake, transcript)


@pytest.fixture()
def client(crm: FakeCRM, make_client: Callable[..., V8Client]) -> V8Client:
    """A client of the fake whose sign-in succeeds with ``token-1``."""
    crm.token()
    return make_client()


def add_exchange(
    fake: responses.RequestsMock,
    exchange: dict[str, Any],
    *,
    method: str | None = None,
    url: str | None = None,
) -> None:
    """Answer the exchange's request (path without query) with its recorded answer."""
    body = exchange["response_body"]
    headers = {k.lower(): v for k, v in exchange["response_headers"].items()}
    fake.add(
        method or exchange["method"],
        url or BASE_URL + exchange["path"].split("?")[0],
        body=body if isinstance(body, str) else json.dumps(body, ensure_ascii=False),
        status=exchange["status"],
        content_type=headers.get("content-type", "application/json"),
    )


def token_body(transcript: Transcript, access: str, step: str = "A1") -> dict[str, Any]:
    """A recorded token answer with a token value of the test's own."""
    body = transcript.body(step)
    body["access_token"] = access
    if "refresh_token" in body:
        body["refresh_token"] = "refresh-" + access
    return body


def add_token(
    fake: responses.RequestsMock,
    transcript: Transcript,
    access: str = "token-1",
    step: str = "A1",
) -> None:
    fake.add(responses.POST, TOKEN_URL, json=token_body(transcript, access, step))


def sent_json(call: Any) -> Any:
    return json.loads(call.request.body)


def token_calls(fake: responses.RequestsMock) -> list[Any]:
    return [call for call in fake.calls if call.request.url == TOKEN_URL]


def api_calls(fake: responses.RequestsMock) -> list[Any]:
    return [call for call in fake.calls if call.request.url != TOKEN_URL]
