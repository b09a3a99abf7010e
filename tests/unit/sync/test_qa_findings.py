"""Findings of QA: interrupted backfills, links made and unmade between polls,
unknown actors, a feed write racing another writer, databases that are not
SuiteCRM's (SQLite; the MariaDB cases are in tests/integration/sync)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from dscrm_bridge.errors import DatabaseError
from dscrm_bridge.feed import FeedAction, FeedChange, FeedStore
from dscrm_bridge.feed import store as store_module
from dscrm_bridge.feed.schema import feed_entries
from dscrm_bridge.suitecrm import tables
from dscrm_bridge.suitecrm.gateway import Keyset
from dscrm_bridge.sync import Progress, sync_once
from dscrm_bridge.sync.runner import run_once
from tests.unit.sync.conftest import SuiteCRMRows
from tests.unit.sync.test_runner import _config, _store

OLD = datetime(2026, 11, 20, 9, 0, 0)
SINCE = datetime(2026, 12, 1)
T0 = datetime(2026, 12, 4, 15, 26, 30)
UNKNOWN_ID = "95ac224b-0000-4000-8000-00000000dead"


@pytest.mark.parametrize("batches_before_stop", [0, 1])
def test_an_interrupted_backfill_resumes_on_a_run_without_since(
    suitecrm: SuiteCRMRows, feed_store: FeedStore, batches_before_stop: int
) -> None:
    suitecrm.record(tables.accounts, "a1", T0, name="甲")
    suitecrm.record(tables.accounts, "a2", T0 + timedelta(seconds=1), name="乙")
    suitecrm.record(tables.notes, "n1", T0, name="纪要")
    seen: list[Progress] = []
    modules = ["Accounts", "Notes"]

    first = sync_once(
        suitecrm.engine,
        feed_store,
        modules=modules,
        since=SINCE,
        batch_size=1,
        progress=seen.append,
        should_stop=lambda: len(seen) >= batches_before_stop,
    )
    resumed = sync_once(suitecrm.engine, feed_store, modules=modules)

    assert first.interrupted
    assert first.total == batches_before_stop
    assert {"accounts", "notes"} <= set(resumed.resumed)
    assert resumed.started == []
    names = sorted(e["record_name"] for e in feed_store.list_entries())
    assert names == ["乙", "甲", "纪要"]
    assert feed_store.backfill("accounts") is None


def test_a_link_made_and_removed_between_polls_gives_relate_and_unrelate(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.accounts, "acc", OLD, name="云启科技")
    suitecrm.record(tables.contacts, "old", OLD, first_name="六", last_name="赵")
    suitecrm.insert(
        tables.accounts_contacts,
        id="link-old",
        account_id="acc",
        contact_id="old",
        date_modified=OLD,
        deleted=0,
    )
    modules = ["Accounts", "Contacts"]
    sync_once(suitecrm.engine, feed_store, modules=modules)  # starts from now
    suitecrm.record(tables.contacts, "new", T0, first_name="五", last_name="王")
    suitecrm.insert(
        tables.accounts_contacts,
        id="link-new",
        account_id="acc",
        contact_id="new",
        date_modified=T0,
        deleted=1,
    )
    suitecrm.update(tables.accounts_contacts, "link-old", date_modified=T0, deleted=1)

    sync_once(suitecrm.engine, feed_store, modules=modules)
    sync_once(suitecrm.engine, feed_store, modules=modules)

    links = sorted(
        (e["record_name"], e["action"])
        for e in feed_store.list_entries()
        if e["related_module"] == "Accounts"
    )
    # The link to the old contact may predate the sync: only its removal.
    assert links == [("王五", "relate"), ("王五", "unrelate"), ("赵六", "unrelate")]


def test_an_unknown_actor_is_one_translated_label_with_the_id_kept(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    suitecrm.record(tables.accounts, "a1", T0, name="甲", by=UNKNOWN_ID)
    suitecrm.record(tables.accounts, "a2", T0, name="乙", by="")

    sync_once(suitecrm.engine, feed_store, modules=["Accounts"], since=SINCE)

    entries = {e["record_name"]: e for e in feed_store.list_entries()}
    assert entries["甲"]["text_zh"] == "（未知用户） 新建了客户「甲」"
    assert entries["乙"]["text_zh"] == "（未知用户） 新建了客户「乙」"
    assert entries["甲"]["text_en"].startswith("(unknown user) created")
    assert (entries["甲"]["actor_id"], entries["甲"]["actor"]) == (UNKNOWN_ID, "")


def test_a_cursor_stored_in_the_future_is_pulled_back(
    suitecrm: SuiteCRMRows, feed_store: FeedStore
) -> None:
    future = Keyset(datetime(2030, 1, 1), "a-future")
    feed_store.append([], cursors={"accounts": future}, floors={"accounts": future})
    suitecrm.record(tables.accounts, "a1", store_module.utc_now(), name="甲")

    sync_once(suitecrm.engine, feed_store, modules=["Accounts"])

    assert [e["record_name"] for e in feed_store.list_entries()] == ["甲"]
    cursor = feed_store.cursors()["accounts"]
    assert cursor.date_modified < future.date_modified  # type: ignore[union-attr]


def test_a_change_recorded_meanwhile_by_another_writer_counts_as_recorded(
    feed_store: FeedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    change = FeedChange(
        change_key="Accounts:a1:create",
        module="Accounts",
        record_id="a1",
        record_name="甲",
        action=FeedAction.CREATE,
        actor_id="1",
        actor_name="Administrator",
        occurred_at=T0,
    )
    unseen = store_module._unseen
    other = sa.create_engine(feed_store.engine.url)

    def racing(conn: sa.Connection, changes: list[FeedChange]) -> list[FeedChange]:
        fresh = unseen(conn, changes)
        if fresh and not feed_store.count():
            row = store_module._entry_row(change, now=T0)
            with other.begin() as writer:
                writer.execute(feed_entries.insert().values(**row))
        return fresh

    monkeypatch.setattr(store_module, "_unseen", racing)
    appended = feed_store.append([change], cursors={"accounts": Keyset(T0, "a1")})
    other.dispose()

    assert appended == []
    assert feed_store.count() == 1
    assert feed_store.cursors()["accounts"] == Keyset(T0, "a1")


def test_a_missing_sqlite_file_is_refused_and_not_created(
    tmp_path: Path, feed_store: FeedStore
) -> None:
    missing = tmp_path / "no-such-suitecrm.db"

    with pytest.raises(DatabaseError, match="no-such-suitecrm.db"):
        sync_once(f"sqlite:///{missing}", feed_store)

    assert not missing.exists()


def test_a_database_without_suitecrm_tables_is_refused(
    tmp_path: Path, feed_store: FeedStore
) -> None:
    other = tmp_path / "other.db"
    engine = sa.create_engine(f"sqlite:///{other}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE notes_of_mine (id TEXT)"))
    engine.dispose()

    with pytest.raises(DatabaseError, match="SuiteCRM.*accounts"):
        sync_once(f"sqlite:///{other}", feed_store)


def test_a_backfill_interrupted_in_its_first_job_resumes_every_job_without_since(
    tmp_path: Path, suitecrm: SuiteCRMRows
) -> None:
    suitecrm.record(tables.accounts, "a1", T0, name="甲")
    suitecrm.record(tables.accounts, "a2", T0 + timedelta(seconds=1), name="乙")
    suitecrm.record(tables.notes, "n1", T0, name="纪要")
    jobs = [
        {"name": "sales", "modules": ["Accounts"], "interval_s": 60},
        {"name": "notes", "modules": ["Notes"], "interval_s": 60},
    ]
    config = _config(tmp_path, suitecrm, batch_size=1, jobs=jobs)

    def ctrl_c(progress: Progress) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_once(config, since=SINCE, progress=ctrl_c)
    run_once(config)

    names = sorted(e["record_name"] for e in _store(config).list_entries())
    assert names == ["乙", "甲", "纪要"]
