"""The timeline in Debian's headless Chromium: the sales director signs in, sees
张三's entries, replies, sees the reply appear; a record named like a script
stays text.  A screenshot at phone width is saved under the test's tmp dir.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.web.conftest import SCRIPT_NAME, World

pytestmark = [pytest.mark.mysql, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _sign_in(page: Any, world: World, who: str) -> None:
    person = world.people[who]
    page.goto(world.base_url + "/")
    assert "/login" in page.url
    page.fill("input[name=user_name]", person.user_name)
    page.fill("input[name=password]", person.password)
    page.click("form.login button[type=submit]")
    page.wait_for_url(world.base_url + "/")


def test_director_signs_in_sees_zhangsans_entries_and_replies(
    browser: Any, web_world: World, tmp_path: Path
) -> None:
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    _sign_in(page, web_world, "director")
    headlines = page.locator("article.entry .headline").all_inner_texts()
    assert headlines
    assert all(text.startswith("张三") for text in headlines)

    first = page.locator("article.entry").first
    entry_id = first.get_attribute("data-entry-id")
    reply = "收到，周一去客户现场 👍"
    first.locator("textarea[name=body]").fill(reply)
    first.locator("form.reply-form button[type=submit]").click()
    page.wait_for_load_state("load")

    shown = page.locator(f"#entry-{entry_id} .reply .body").all_inner_texts()
    assert reply in shown
    authors = page.locator(f"#entry-{entry_id} .reply strong").all_inner_texts()
    assert "李总" in authors

    page.goto(web_world.base_url + "/?record=" + web_world.script_account_id)
    links = page.locator("article.entry a.record").all_inner_texts()
    assert links and set(links) == {SCRIPT_NAME}
    assert dialogs == []

    page.goto(web_world.base_url + "/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    shot = tmp_path / "timeline-phone.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    context.close()
