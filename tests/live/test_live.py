"""The client's contracts against the real SuiteCRM of DSCRM_LIVE_* (``-m live``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.live.contract import CONTRACTS, Scratch


@pytest.mark.live
@pytest.mark.parametrize("contract", list(CONTRACTS.values()), ids=list(CONTRACTS))
def test_live_contract(
    live_scratch: Scratch, contract: Callable[[Scratch], None]
) -> None:
    contract(live_scratch)
