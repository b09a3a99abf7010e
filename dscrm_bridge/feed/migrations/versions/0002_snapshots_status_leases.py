"""Record snapshots, field differences, sync status, leases and write-back marks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Spelled out rather than imported so that this revision never changes.
_MYSQL: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_general_ci",
}


def upgrade() -> None:
    op.create_table(
        "record_snapshots",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("date_modified", sa.DateTime()),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        **_MYSQL,
    )
    op.create_table(
        "sync_status",
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
        **_MYSQL,
    )
    op.create_table(
        "sync_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        **_MYSQL,
    )
    with op.batch_alter_table("feed_entries") as batch:
        batch.add_column(sa.Column("field_changes", sa.Text()))
        batch.add_column(sa.Column("writeback", sa.String(16)))
        batch.add_column(sa.Column("sugarfeed_id", sa.String(36)))
    op.create_index("ix_feed_entries_writeback", "feed_entries", ["writeback", "id"])


def downgrade() -> None:
    op.drop_index("ix_feed_entries_writeback", table_name="feed_entries")
    with op.batch_alter_table("feed_entries") as batch:
        batch.drop_column("sugarfeed_id")
        batch.drop_column("writeback")
        batch.drop_column("field_changes")
    op.drop_table("sync_leases")
    op.drop_table("sync_status")
    op.drop_table("record_snapshots")
