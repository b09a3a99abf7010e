"""Replies, mentions, API tokens and login attempts of the feed's web service.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Spelled out rather than imported so that this revision never changes.
_MYSQL: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_general_ci",
}
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feed_replies",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("author_id", sa.String(36), nullable=False),
        sa.Column("author_name", sa.String(255), nullable=False, server_default=""),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sugarfeed_id", sa.String(36)),
        **_MYSQL,
    )
    op.create_index("ix_feed_replies_entry", "feed_replies", ["entry_id", "id"])
    op.create_table(
        "feed_mentions",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("reply_id", _ID, nullable=False),
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("user_name", sa.String(255), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("reply_id", "user_id", name="uq_feed_mentions_reply_user"),
        **_MYSQL,
    )
    op.create_index("ix_feed_mentions_user", "feed_mentions", ["user_id", "id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("user_name", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime()),
        sa.Column("revoked_at", sa.DateTime()),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_hash"),
        **_MYSQL,
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("user_name", sa.String(255), nullable=False),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.Column("attempted_at", sa.DateTime(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        **_MYSQL,
    )
    op.create_index(
        "ix_login_attempts_user", "login_attempts", ["user_name", "attempted_at"]
    )
    op.create_index(
        "ix_login_attempts_address",
        "login_attempts",
        ["client_address", "attempted_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_login_attempts_address", table_name="login_attempts")
    op.drop_index("ix_login_attempts_user", table_name="login_attempts")
    op.drop_table("login_attempts")
    op.drop_table("api_tokens")
    op.drop_index("ix_feed_mentions_user", table_name="feed_mentions")
    op.drop_table("feed_mentions")
    op.drop_index("ix_feed_replies_entry", table_name="feed_replies")
    op.drop_table("feed_replies")
