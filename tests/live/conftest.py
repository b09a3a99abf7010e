"""The live tier: the client's contracts against a real SuiteCRM, opt-in.

``pytest -m live`` runs them against the server named by ``DSCRM_LIVE_URL``,
``DSCRM_LIVE_CLIENT_ID``, ``DSCRM_LIVE_CLIENT_SECRET``, ``DSCRM_LIVE_USERNAME`` and
``DSCRM_LIVE_PASSWORD`` (``DSCRM_LIVE_DB_URL`` adds the SQL checks); without them
the live tests skip.  ``test_sandbox_contract.py`` runs the same contracts against
the sandbox in every normal run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.live.contract import LiveTarget, Scratch

LIVE_ENV = (
    "DSCRM_LIVE_URL",
    "DSCRM_LIVE_CLIENT_ID",
    "DSCRM_LIVE_CLIENT_SECRET",
    "DSCRM_LIVE_USERNAME",
    "DSCRM_LIVE_PASSWORD",
)


def pytest_configure(config: pytest.Config) -> None:
    # NOTE: registered here until setup.cfg lists the marker.
    config.addinivalue_line(
        "markers", "live: runs against a real SuiteCRM given by DSCRM_LIVE_* variables"
    )


@pytest.fixture(scope="session")
def live_target() -> LiveTarget:
    missing = [name for name in LIVE_ENV if not os.environ.get(name)]
    if missing:
        pytest.skip("live SuiteCRM not configured: set " + ", ".join(missing))
    return LiveTarget(
        base_url=os.environ["DSCRM_LIVE_URL"],
        client_id=os.environ["DSCRM_LIVE_CLIENT_ID"],
        client_secret=os.environ["DSCRM_LIVE_CLIENT_SECRET"],
        username=os.environ["DSCRM_LIVE_USERNAME"],
        password=os.environ["DSCRM_LIVE_PASSWORD"],
        db_url=os.environ.get("DSCRM_LIVE_DB_URL") or None,
        api_prefix=os.environ.get("DSCRM_LIVE_API_PREFIX", "auto"),
    )


@pytest.fixture()
def live_scratch(live_target: LiveTarget) -> Iterator[Scratch]:
    with Scratch.opened(live_target) as scratch:
        yield scratch
