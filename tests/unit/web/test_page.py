"""The page's pieces: relative times, headlines that escape, catalog coverage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from dscrm_bridge.i18n import LOCALE_DIR, translator
from dscrm_bridge.web.app import _local_path
from dscrm_bridge.web.page import TEMPLATES_DIR, headline, relative_time

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
ZH = translator("zh_CN")


@pytest.mark.parametrize(
    ("ago", "expected"),
    [
        (timedelta(seconds=20), "刚刚"),
        (timedelta(minutes=3, seconds=10), "3 分钟前"),
        (timedelta(hours=5), "5 小时前"),
        (timedelta(days=2, hours=1), "2 天前"),
        (timedelta(days=45), "2026-10-20"),
    ],
    ids=["seconds", "minutes", "hours", "days", "old-date"],
)
def test_relative_time_in_chinese(ago: timedelta, expected: str) -> None:
    assert relative_time((NOW - ago).isoformat(), NOW, ZH) == expected


def test_headline_escapes_names_and_links_the_record() -> None:
    entry = {
        "action": "create",
        "actor": "<b>张三</b>",
        "module": "Accounts",
        "module_label": "客户",
        "record_name": "<script>alert(1)</script>",
        "record_url": 'http://crm/index.php?module=Accounts&record="x"',
    }
    html = str(headline(entry, ZH))

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;张三&lt;/b&gt;" in html
    assert 'href="http://crm/index.php?module=Accounts&amp;record=&#34;x&#34;"' in html
    assert "新建了客户" in html


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/entries/3#entry-3", "/entries/3#entry-3"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ],
    ids=["local", "protocol-relative", "absolute", "backslash"],
)
def test_redirects_stay_on_this_site(target: str, expected: str) -> None:
    assert _local_path(target) == expected


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_template_message_is_in_the_web_catalog(lang: str) -> None:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "web.po").open("rb") as handle:
        catalog = {str(m.id): str(m.string) for m in read_po(handle) if m.id}
    missing = []
    for template in sorted(Path(TEMPLATES_DIR).glob("*.html")):
        with template.open("rb") as handle:
            for _line, _func, message, _c in babel_extract(
                handle, ["_"], [], {"extensions": "jinja2.ext.i18n"}
            ):
                if not catalog.get(message):
                    missing.append(f"{template.name}: {message}")
    assert missing == []
