"""A SuiteCRM-shaped SQLite database and a feed store, both of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dscrm_bridge.suitecrm import tables
from tests.unit.feed.conftest import feed_store  # noqa: F401 - shared fixture

ADMIN_ID = "1"
USER1_ID = "1c41e1c9-e7f2-746b-4a45-6b12dbb0dd69"


class SuiteCRMRows:
    """Writes rows into the SuiteCRM-shaped database the way SuiteCRM would."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def insert(self, table: sa.Table, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(table.insert().values(**values))

    def update(self, table: sa.Table, record_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(table.update().where(table.c.id == record_id).values(**values))

    def record(
        self,
        table: sa.Table,
        record_id: str,
        when: datetime,
        *,
        by: str = USER1_ID,
        **values: Any,
    ) -> None:
        """A record created (and last modified) at ``when`` by user ``by``."""
        self.insert(
            table,
            id=record_id,
            date_entered=when,
            date_modified=when,
            created_by=by,
            modified_user_id=by,
            deleted=0,
            **values,
        )


def with_story_users(rows: SuiteCRMRows) -> SuiteCRMRows:
    """The story's admin and 张三 (user1) in the users table."""
    rows.insert(tables.users, id=ADMIN_ID, user_name="admin", last_name="Administrator")
    rows.insert(
        tables.users, id=USER1_ID, user_name="user1", first_name="三", last_name="张"
    )
    return rows


@pytest.fixture()
def suitecrm(tmp_path: Path) -> Iterator[SuiteCRMRows]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'suitecrm.db'}")
    tables.metadata.create_all(engine)
    yield with_story_users(SuiteCRMRows(engine))
    engine.dispose()
