"""The bridge's own tables, as SQLAlchemy Core definitions for queries.

These tables are created and changed ONLY by the Alembic migrations under
``migrations/versions``; a change here needs a new migration that makes the
same change.  They live in the bridge's database, never in SuiteCRM's.

- ``feed_entries``: one row per change seen in SuiteCRM, appended once (the
  ``change_key`` is unique).  Replies and field snapshots will get tables of
  their own that point at ``feed_entries.id``.
- ``sync_cursors``: per SuiteCRM source table, the (date_modified, id) of the
  last row the sync has turned into entries.
"""

from __future__ import annotations

import enum
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()

# Alembic's bookkeeping table, named so it cannot clash with anyone else's.
VERSION_TABLE = "dscrm_alembic_version"

# MySQL / MariaDB: 4-byte UTF-8 so that Chinese text and emoji round-trip.
MYSQL_TABLE_OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_general_ci",
}

# 191 characters of utf8mb4 keep a unique index within InnoDB's key limit.
CHANGE_KEY_LENGTH = 191


class FeedAction(enum.Enum):
    """What happened to a record."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    RELATE = "relate"
    UNRELATE = "unrelate"


# BIGINT on MySQL; SQLite autoincrements only an INTEGER primary key.
ENTRY_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

feed_entries = sa.Table(
    "feed_entries",
    metadata,
    sa.Column("id", ENTRY_ID, primary_key=True, autoincrement=True),
    sa.Column("change_key", sa.String(CHANGE_KEY_LENGTH), nullable=False),
    sa.Column("module", sa.String(100), nullable=False),
    sa.Column("record_id", sa.String(36), nullable=False),
    sa.Column("record_name", sa.String(255), nullable=False, server_default=""),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("actor_id", sa.String(36)),
    sa.Column("actor_name", sa.String(255), nullable=False, server_default=""),
    sa.Column("occurred_at", sa.DateTime(), nullable=False),
    sa.Column("text_zh", sa.Text(), nullable=False),
    sa.Column("text_en", sa.Text(), nullable=False),
    sa.Column("related_module", sa.String(100)),
    sa.Column("related_id", sa.String(36)),
    sa.Column("related_name", sa.String(255)),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.UniqueConstraint("change_key", name="uq_feed_entries_change_key"),
    sa.Index("ix_feed_entries_occurred", "occurred_at", "id"),
    sa.Index("ix_feed_entries_record", "module", "record_id"),
    **MYSQL_TABLE_OPTIONS,
)

sync_cursors = sa.Table(
    "sync_cursors",
    metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("last_modified", sa.DateTime()),
    sa.Column("last_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    **MYSQL_TABLE_OPTIONS,
)
