"""The package generator: settings from the configuration, contents, refusals."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dscrm_bridge.config import Config
from dscrm_bridge.errors import InputError
from dscrm_bridge.plugin import package_files, settings_from_config
from dscrm_bridge.plugin.package import php_literal
from tests.unit.plugin.conftest import SECRET


def test_package_carries_url_and_modules_but_never_the_secret(
    make_config: Callable[..., Config],
) -> None:
    config = make_config(DSCRM_SYNC_MODULES="Accounts,Notes")
    files = package_files(settings_from_config(config))

    assert sorted(name for name in files if name.startswith("vardefs/")) == [
        "vardefs/Accounts/dscrm_bridge_indexes.php",
        "vardefs/Notes/dscrm_bridge_indexes.php",
    ]
    settings = files["DscrmBridge/settings.php"].decode()
    assert "'webhook_url' => 'http://127.0.0.1:8000/webhook'" in settings
    assert all(SECRET.encode() not in content for content in files.values())


def test_zh_cn_labels_are_chinese(make_config: Callable[..., Config]) -> None:
    files = package_files(settings_from_config(make_config()))
    zh = files["language/application/zh_cn.lang.php"].decode()
    assert "$app_strings['LBL_DSCRM_BRIDGE_EVENTS'] = 'dscrm-bridge 变更通知';" in zh


@pytest.mark.parametrize(
    ("url", "needle"),
    [("", "webhook.url"), ("http://", "http:")],
    ids=["missing", "no-host"],
)
def test_unusable_webhook_url_is_refused(
    make_config: Callable[..., Config], url: str, needle: str
) -> None:
    with pytest.raises(InputError) as caught:
        settings_from_config(make_config(DSCRM_WEBHOOK_URL=url))
    assert needle in str(caught.value)


@pytest.mark.parametrize(
    ("value", "php"),
    [
        ("it's \\ here", "'it\\'s \\\\ here'"),
        (True, "true"),
        (None, "null"),
        (7, "7"),
        ([], "array()"),
        ({"a": [1]}, "array(\n    'a' => array(\n        1,\n    ),\n)"),
    ],
    ids=["quoted-string", "bool", "null", "int", "empty", "nested"],
)
def test_php_literal(value: object, php: str) -> None:
    assert php_literal(value) == php
