"""The bridge's tables for what users add to the feed: replies, mentions, logins.

Created ONLY by migrations ``0003`` and ``0004`` (``migrations/versions``); a
change here needs a new migration making the same change.  They live in the
bridge's database:

- ``feed_replies``: a user's reply under one feed entry; ``sugarfeed_id`` names
  the row written to SuiteCRM's ``sugarfeed`` when the reply was written back.
- ``feed_mentions``: one row per user a reply mentions (their 「@我」 list).
- ``api_tokens``: tokens for scripts, stored as SHA-256 hex, never in clear.
- ``login_attempts``: each login try, for rate limiting failed logins.
- ``web_sessions``: each live login of the web page (SHA-256 of the session id
  the cookie carries); a logout deletes the row, which ends the session.
"""

from __future__ import annotations

import sqlalchemy as sa

from dscrm_bridge.feed.schema import ENTRY_ID, MYSQL_TABLE_OPTIONS

metadata = sa.MetaData()

# Row ids point at BIGINT ids; SQLite needs INTEGER for its own autoincrement.
_REF_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

feed_replies = sa.Table(
    "feed_replies",
    metadata,
    sa.Column("id", ENTRY_ID, primary_key=True, autoincrement=True),
    sa.Column("entry_id", _REF_ID, nullable=False),
    sa.Column("author_id", sa.String(36), nullable=False),
    sa.Column("author_name", sa.String(255), nullable=False, server_default=""),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("sugarfeed_id", sa.String(36)),
    sa.Index("ix_feed_replies_entry", "entry_id", "id"),
    **MYSQL_TABLE_OPTIONS,
)

feed_mentions = sa.Table(
    "feed_mentions",
    metadata,
    sa.Column("id", ENTRY_ID, primary_key=True, autoincrement=True),
    sa.Column("reply_id", _REF_ID, nullable=False),
    sa.Column("entry_id", _REF_ID, nullable=False),
    sa.Column("user_id", sa.String(36), nullable=False),
    sa.Column("user_name", sa.String(255), nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.UniqueConstraint("reply_id", "user_id", name="uq_feed_mentions_reply_user"),
    sa.Index("ix_feed_mentions_user", "user_id", "id"),
    **MYSQL_TABLE_OPTIONS,
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", ENTRY_ID, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("user_id", sa.String(36), nullable=False),
    sa.Column("user_name", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("last_used_at", sa.DateTime()),
    sa.Column("revoked_at", sa.DateTime()),
    sa.UniqueConstraint("token_hash", name="uq_api_tokens_hash"),
    **MYSQL_TABLE_OPTIONS,
)

login_attempts = sa.Table(
    "login_attempts",
    metadata,
    sa.Column("id", ENTRY_ID, primary_key=True, autoincrement=True),
    sa.Column("user_name", sa.String(255), nullable=False),
    sa.Column("client_address", sa.String(64), nullable=False),
    sa.Column("attempted_at", sa.DateTime(), nullable=False),
    sa.Column("succeeded", sa.Boolean(), nullable=False),
    sa.Index("ix_login_attempts_user", "user_name", "attempted_at"),
    sa.Index("ix_login_attempts_address", "client_address", "attempted_at"),
    **MYSQL_TABLE_OPTIONS,
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(36), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("expires_at", sa.DateTime(), nullable=False),
    sa.Index("ix_web_sessions_expires", "expires_at"),
    sa.Index("ix_web_sessions_user", "user_id"),
    **MYSQL_TABLE_OPTIONS,
)
