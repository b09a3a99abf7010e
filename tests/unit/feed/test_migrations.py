"""The migrations build exactly the tables :mod:`dscrm_bridge.feed.schema` declares."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from dscrm_bridge.feed import upgrade
from dscrm_bridge.feed.schema import VERSION_TABLE, metadata


def _differences(url: str) -> list[object]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "version_table": VERSION_TABLE,
                    "include_name": _bridge_tables_only,
                },
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def _bridge_tables_only(name: str | None, type_: str, parent: object) -> bool:
    # Other areas (the web's replies) add tables of their own to the database.
    return type_ != "table" or name in metadata.tables


def test_migrated_sqlite_matches_the_declared_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'feed.db'}"
    upgrade(url)

    assert _differences(url) == []


@pytest.mark.mysql
def test_migrated_mariadb_matches_the_declared_schema(mysql_database: str) -> None:
    upgrade(mysql_database)

    assert _differences(mysql_database) == []
