"""The shipped presets: all seven, each a full matrix over the standard modules."""

from __future__ import annotations

import pytest

from dscrm_bridge.provisioning import list_presets, preset_text
from dscrm_bridge.provisioning.loader import presets
from dscrm_bridge.provisioning.model import ALLOWED_LEVELS, STANDARD_MODULES
from dscrm_bridge.suitecrm.acl import MODULE_ACTIONS

# acl-notes 2: role 售前 as saved in the quickstart (6 modules x 8 actions).
from tests.integration.sandbox.conftest import PRESALES_LEVELS as STORY_ROW
from tests.integration.sandbox.conftest import STORY_MODULES

NAMES = ("销售总监", "销售经理", "销售代表", "售前", "客服", "财务", "只读")


def test_the_seven_presets_ship() -> None:
    assert tuple(p.name for p in list_presets()) == NAMES


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_preset_decides_every_standard_module(name: str) -> None:
    role = presets()[name]

    for module in STANDARD_MODULES:
        access = role.level(module, "access")
        assert access in (89, -98), module
        if access == 89:
            levels = {a: role.level(module, a) for a in MODULE_ACTIONS}
            assert 0 not in levels.values(), module
            assert all(levels[a] in ALLOWED_LEVELS[a] for a in MODULE_ACTIONS)


def test_presales_preset_carries_the_story_matrix() -> None:
    role = presets()["售前"]

    for module in STORY_MODULES:
        assert {a: role.level(module, a) for a in MODULE_ACTIONS} == STORY_ROW


def test_read_only_preset_changes_nothing() -> None:
    role = presets()["只读"]

    granted = {a for (_m, a), level in role.cells.items() if level in (90, 80, 75)}
    assert granted == {"view", "list"}


def test_preset_text_is_the_shipped_yaml() -> None:
    assert "name: 财务" in preset_text("财务")
