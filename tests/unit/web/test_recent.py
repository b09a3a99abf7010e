"""Users and rights read from SuiteCRM are reused for a few seconds, then re-read."""

from __future__ import annotations

from dscrm_bridge.web.service import _Recent


def test_a_value_is_reused_within_its_time_and_reloaded_after() -> None:
    now = [100.0]
    loads: list[str] = []
    recent: _Recent[str] = _Recent(5.0, clock=lambda: now[0])

    def load() -> str:
        loads.append("x")
        return f"v{len(loads)}"

    assert recent.get("u1", load) == "v1"
    now[0] += 4.9
    assert recent.get("u1", load) == "v1"
    now[0] += 0.2
    assert recent.get("u1", load) == "v2"
    assert recent.get("u2", load) == "v3"
    assert len(loads) == 3
