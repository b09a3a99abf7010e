"""Keyset pages over the feed on SQLite: order, cursors, a per-entry check."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from dscrm_bridge.errors import InputError
from dscrm_bridge.feed import upgrade
from dscrm_bridge.feed.replies import mention_tokens, sugarfeed_text
from dscrm_bridge.feed.schema import feed_entries
from dscrm_bridge.feed.timeline import Cursor, FeedFilter, read_page

START = datetime(2026, 12, 1, 8, 0, 0)


@pytest.fixture()
def feed(tmp_path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'feed.db'}")
    upgrade(engine)
    rows = [
        {
            "change_key": f"k{i}",
            "module": "Accounts" if i % 3 else "Notes",
            "record_id": f"r{i}",
            "record_name": f"记录{i}",
            "action": "create",
            "actor_id": "u1",
            "actor_name": "张三",
            # Pairs share a second: the id decides between them.
            "occurred_at": START + timedelta(seconds=i // 2),
            "text_zh": "",
            "text_en": "",
            "created_at": START,
        }
        for i in range(23)
    ]
    with engine.begin() as conn:
        conn.execute(feed_entries.insert(), rows)
    return engine


def _walk(engine: sa.Engine, **options: object) -> tuple[list[int], int]:
    seen: list[int] = []
    cursor = None
    pages = 0
    with engine.connect() as conn:
        while True:
            page = read_page(conn, FeedFilter(), cursor=cursor, **options)  # type: ignore[arg-type]
            pages += 1
            seen += [e["id"] for e in page.entries]
            if page.next_cursor is None:
                return seen, pages
            cursor = Cursor.decode(page.next_cursor)


def test_pages_cover_every_entry_once_newest_first(feed: sa.Engine) -> None:
    seen, pages = _walk(feed, limit=4)
    assert seen == list(range(23, 0, -1))
    assert pages == 6


def test_check_hides_entries_without_losing_or_repeating(feed: sa.Engine) -> None:
    def even_only(rows: object) -> set[int]:
        return {r["id"] for r in rows if r["id"] % 2 == 0}  # type: ignore[attr-defined]

    seen, _pages = _walk(feed, limit=3, check=even_only)
    assert seen == [i for i in range(23, 0, -1) if i % 2 == 0]


def test_a_scan_budget_ends_a_page_early_with_a_cursor(feed: sa.Engine) -> None:
    with feed.connect() as conn:
        page = read_page(
            conn, FeedFilter(), limit=5, check=lambda rows: set(), max_scan=10
        )
    assert page.entries == []
    assert page.next_cursor is not None
    assert page.scanned >= 10


def test_modules_allowed_narrows_before_the_check(feed: sa.Engine) -> None:
    seen, _pages = _walk(feed, limit=50, modules_allowed={"Notes"})
    assert seen == [i for i in range(23, 0, -1) if (i - 1) % 3 == 0]


def test_a_tampered_cursor_is_an_input_error() -> None:
    with pytest.raises(InputError):
        Cursor.decode("eyJub3QiOiAiYSBjdXJzb3IifQ")


def test_mentions_are_user_names_or_names_after_at() -> None:
    text = "@user1 请看，mail a@b.com 不算，@张三请跟进 @user1"
    assert mention_tokens(text) == ["user1", "张三请跟进"]


def test_sugarfeed_text_escapes_and_splits_like_the_dashlet() -> None:
    name, description = sugarfeed_text("it's <b>" + "长" * 300)
    assert name.startswith("<b>{this.CREATED_BY}</b> it&#039;s &lt;b&gt;")
    assert len(name) == 255
    assert description is not None
    assert (name + description).endswith("长")
