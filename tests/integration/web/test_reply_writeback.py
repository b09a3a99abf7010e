"""With write-back on, a reply also lands in SuiteCRM's sugarfeed as the
activity-stream dashlet stores a reply (acl-notes 5): related_module='SugarFeed',
related_id = the entry's own sugarfeed row, the replier as owner and creator.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa

from dscrm_bridge.feed import FeedStore
from dscrm_bridge.feed.replies_schema import feed_replies
from dscrm_bridge.feed.schema import WriteBack
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.web.service import FeedService
from tests.integration.web.conftest import World

pytestmark = pytest.mark.mysql


def _service(world: World, *, writeback: bool) -> FeedService:
    return FeedService(
        world.feed,
        world.crm,
        client_factory=world.client_factory,  # type: ignore[arg-type]
        settings=replace(world.service.settings, writeback=writeback),
    )


def _contact_entry_and_feed_row(world: World) -> tuple[int, str]:
    entry = next(
        e
        for e in world.all_entries()
        if e["module"] == "Contacts" and e["action"] == "create"
    )
    sf = t.sugarfeed
    with world.crm.connect() as conn:
        parent = conn.execute(
            sa.select(sf.c.id).where(
                sf.c.related_module == "Contacts", sf.c.related_id == entry["record_id"]
            )
        ).scalar_one()
    return int(entry["id"]), str(parent)


def test_reply_is_copied_under_the_entrys_sugarfeed_row(web_world: World) -> None:
    entry_id, parent = _contact_entry_and_feed_row(web_world)
    FeedStore(web_world.feed).mark_writeback({entry_id: (WriteBack.WRITTEN, parent)})
    director = web_world.service.viewer(web_world.people["director"].id)
    assert director is not None

    reply = _service(web_world, writeback=True).reply(
        director, entry_id, "收到，下周一起拜访。<i>谢谢</i>"
    )

    sf = t.sugarfeed
    with web_world.crm.connect() as conn:
        row = conn.execute(sa.select(sf).where(sf.c.id == reply["sugarfeed_id"])).one()
    assert row.related_module == "SugarFeed"
    assert row.related_id == parent
    assert row.assigned_user_id == row.created_by == director.id
    assert row.name == (
        "<b>{this.CREATED_BY}</b> 收到，下周一起拜访。&lt;i&gt;谢谢&lt;/i&gt;"
    )
    with web_world.feed.connect() as conn:
        kept = conn.execute(
            sa.select(feed_replies.c.sugarfeed_id).where(
                feed_replies.c.id == reply["id"]
            )
        ).scalar_one()
    assert kept == reply["sugarfeed_id"]


def test_without_write_back_the_reply_stays_in_the_bridge(web_world: World) -> None:
    entry_id, parent = _contact_entry_and_feed_row(web_world)
    FeedStore(web_world.feed).mark_writeback({entry_id: (WriteBack.WRITTEN, parent)})
    director = web_world.service.viewer(web_world.people["director"].id)
    assert director is not None
    sf = t.sugarfeed
    count = sa.select(sa.func.count()).select_from(sf)
    with web_world.crm.connect() as conn:
        before = conn.execute(count).scalar_one()

    reply = _service(web_world, writeback=False).reply(director, entry_id, "仅内部")

    with web_world.crm.connect() as conn:
        assert conn.execute(count).scalar_one() == before
    assert reply["sugarfeed_id"] is None
