"""The bridge's own tables, as SQLAlchemy Core definitions for queries.

These tables are created and changed ONLY by the Alembic migrations under
``migrations/versions``; a change here needs a new migration that makes the
same change.  They live in the bridge's database, never in SuiteCRM's.

- ``feed_entries``: one row per change seen in SuiteCRM, appended once (the
  ``change_key`` is unique).  Replies and field snapshots will get tables of
  their own that point at ``feed_entries.id``.
- ``sync_cursors``: per SuiteCRM source table, the (date_modified, id) of the
  last row the sync has turned into entries.
- ``record_snapshots``: per mirrored record, the fields worth comparing as last
  seen (JSON), so that an update can show old -> new; also the ids an API
  source reconciles against to find deletes.
- ``sync_status``: per source, the last run, its rows and its last error, the
  progress of a backfill, and the floor: the row the source started after (rows
  up to it were there before the sync and are never told).
- ``sync_leases``: one row per job name; the runner holding an unexpired lease
  is the only one running that job.
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
    # JSON list of {"field", "old", "new"} for updates; NULL otherwise.
    sa.Column("field_changes", sa.Text()),
    # Write-back to SuiteCRM's sugarfeed: NULL = not looked at yet (see WriteBack).
    sa.Column("writeback", sa.String(16)),
    sa.Column("sugarfeed_id", sa.String(36)),
    sa.UniqueConstraint("change_key", name="uq_feed_entries_change_key"),
    sa.Index("ix_feed_entries_occurred", "occurred_at", "id"),
    sa.Index("ix_feed_entries_record", "module", "record_id"),
    sa.Index("ix_feed_entries_writeback", "writeback", "id"),
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

record_snapshots = sa.Table(
    "record_snapshots",
    metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("record_id", sa.String(36), primary_key=True),
    sa.Column("fields", sa.Text(), nullable=False),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    **MYSQL_TABLE_OPTIONS,
)

sync_status = sa.Table(
    "sync_status",
    metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("last_run_at", sa.DateTime()),
    sa.Column("last_success_at", sa.DateTime()),
    sa.Column("last_rows", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("total_rows", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text()),
    sa.Column("last_error_at", sa.DateTime()),
    sa.Column("backfill_total", sa.BigInteger()),
    sa.Column("backfill_done", sa.BigInteger()),
    sa.Column("backfill_started_at", sa.DateTime()),
    sa.Column("backfill_since", sa.DateTime()),
    sa.Column("backfill_last_modified", sa.DateTime()),
    sa.Column("backfill_last_id", sa.String(36)),
    sa.Column("reconciled_at", sa.DateTime()),
    sa.Column("floor_modified", sa.DateTime()),
    sa.Column("floor_id", sa.String(36)),
    **MYSQL_TABLE_OPTIONS,
)


class WriteBack(enum.Enum):
    """What became of an entry in SuiteCRM's ``sugarfeed`` table."""

    WRITTEN = "written"
    #: SuiteCRM posts this change itself, or the entry does not belong there
    SKIPPED = "skipped"


sync_leases = sa.Table(
    "sync_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("acquired_at", sa.DateTime(), nullable=False),
    sa.Column("expires_at", sa.DateTime(), nullable=False),
    **MYSQL_TABLE_OPTIONS,
)
