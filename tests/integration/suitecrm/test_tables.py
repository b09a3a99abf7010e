"""The bridge's SuiteCRM table definitions against a real SuiteCRM 7.13 schema."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from dscrm_bridge.suitecrm import tables
from tests.conftest import load_sql_dump

pytestmark = pytest.mark.mysql

STORY_TABLES = (
    "users securitygroups securitygroups_users securitygroups_acl_roles "
    "securitygroups_records acl_roles acl_actions acl_roles_actions acl_roles_users "
    "accounts contacts accounts_contacts notes opportunities accounts_opportunities "
    "documents document_revisions documents_opportunities meetings meetings_contacts "
    "meetings_users sugarfeed config oauth2clients oauth2tokens "
    # mirrored by the sync beyond the story
    "calls calls_contacts calls_users tasks leads cases opportunities_contacts"
).split()


def _mysql_type(column: sa.Column) -> str:
    """The column type as MariaDB's information_schema spells it."""
    from sqlalchemy.dialects import mysql

    rendered = column.type.compile(dialect=mysql.dialect()).lower()
    return rendered.replace("integer(", "int(")


@pytest.fixture()
def suitecrm_schema(reference_dir, mysql_database):  # type: ignore[no-untyped-def]
    load_sql_dump(mysql_database, (reference_dir / "schema.sql").read_text("utf-8"))
    engine = sa.create_engine(mysql_database)
    yield engine
    engine.dispose()


def test_bridge_defines_every_table_the_story_touches() -> None:
    assert sorted(tables.metadata.tables) == sorted(STORY_TABLES)


def test_every_bridge_column_exists_in_suitecrm_with_the_same_type(
    suitecrm_schema: sa.Engine,
) -> None:
    database = suitecrm_schema.url.database
    with suitecrm_schema.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT table_name, column_name, column_type, is_nullable "
                "FROM information_schema.columns WHERE table_schema = :db"
            ),
            {"db": database},
        ).all()
    live = {(t, c): (ty.lower(), nullable == "YES") for t, c, ty, nullable in rows}

    mismatches = []
    for table in tables.metadata.sorted_tables:
        for column in table.columns:
            key = (table.name, column.name)
            if key not in live:
                mismatches.append(f"{table.name}.{column.name}: missing in SuiteCRM")
                continue
            live_type, live_nullable = live[key]
            ours = _mysql_type(column)
            if re.sub(r"\s+", "", ours) != re.sub(r"\s+", "", live_type):
                mismatches.append(f"{table.name}.{column.name}: {ours} != {live_type}")
            if column.nullable != live_nullable:
                mismatches.append(f"{table.name}.{column.name}: nullability differs")
    assert mismatches == []
    assert len([k for k in live if k[0] == "accounts"]) == len(tables.accounts.columns)


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"], ids=["sqlite", "mariadb"])
def test_definitions_create_and_round_trip_four_byte_text(
    backend: str,
    tmp_path,
    request,  # type: ignore[no-untyped-def]
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'crm.db'}"
    else:
        url = request.getfixturevalue("mysql_database")
    engine = sa.create_engine(url)
    tables.metadata.create_all(engine)
    name = "北京大盛科技有限公司 🚀"
    with engine.begin() as conn:
        conn.execute(tables.accounts.insert().values(id="a" * 36, name=name))
        stored = conn.execute(
            sa.select(tables.accounts.c.name, tables.accounts.c.deleted)
        ).one()
    engine.dispose()
    assert stored.name == name
    assert stored.deleted == 0  # SuiteCRM's server default for the soft-delete flag
