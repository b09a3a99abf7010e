"""Feed entries and sync cursors.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Spelled out rather than imported so that this revision never changes.
_MYSQL: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_general_ci",
}
_ENTRY_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feed_entries",
        sa.Column("id", _ENTRY_ID, primary_key=True, autoincrement=True),
        sa.Column("change_key", sa.String(191), nullable=False),
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
        **_MYSQL,
    )
    op.create_index("ix_feed_entries_occurred", "feed_entries", ["occurred_at", "id"])
    op.create_index("ix_feed_entries_record", "feed_entries", ["module", "record_id"])
    op.create_table(
        "sync_cursors",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("last_modified", sa.DateTime()),
        sa.Column("last_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        **_MYSQL,
    )


def downgrade() -> None:
    op.drop_table("sync_cursors")
    op.drop_index("ix_feed_entries_record", table_name="feed_entries")
    op.drop_index("ix_feed_entries_occurred", table_name="feed_entries")
    op.drop_table("feed_entries")
