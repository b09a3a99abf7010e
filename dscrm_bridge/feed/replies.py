"""Replies under feed entries and the mentions they carry; their copy in SuiteCRM.

Replies and mentions live in the bridge's database (tables of
:mod:`dscrm_bridge.feed.replies_schema`).  A reply can also be written into
SuiteCRM's ``sugarfeed`` the way SuiteCRM's activity-stream dashlet stores a
reply (acl-notes.md section 5): ``related_module='SugarFeed'``, ``related_id`` =
the parent feed row, the replier as ``assigned_user_id``, ``created_by`` and
``modified_user_id``, and ``name`` = ``<b>{this.CREATED_BY}</b> `` + the text.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from dscrm_bridge.errors import InputError
from dscrm_bridge.feed.replies_schema import feed_mentions, feed_replies
from dscrm_bridge.feed.store import iso_utc, utc_now
from dscrm_bridge.i18n import _
from dscrm_bridge.suitecrm import tables

logger = logging.getLogger(__name__)

MAX_REPLY_CHARS = 2000
# A mention is "@" then a user name (SuiteCRM's user_name) or a person's name.
_MENTION = re.compile(r"(?<![\w@.])@([\w.\-]{1,60})", re.UNICODE)
# acl-notes section 5: the name column takes 255 characters, the overflow (up
# to 510 more) goes to description.
_SUGARFEED_NAME_CHARS = 255
_SUGARFEED_DESCRIPTION_CHARS = 510
_CREATED_BY = "<b>{this.CREATED_BY}</b> "


@dataclass(frozen=True)
class Author:
    """Who writes a reply: a SuiteCRM user id and the name shown."""

    id: str
    name: str


def check_reply_text(body: str) -> str:
    """The reply text, trimmed; InputError when empty or too long."""
    text = (body or "").strip()
    if not text:
        raise InputError(_("A reply cannot be empty."))
    if len(text) > MAX_REPLY_CHARS:
        raise InputError(
            _(
                "A reply can hold at most {limit} characters, this one has {count}."
            ).format(limit=MAX_REPLY_CHARS, count=len(text))
        )
    return text


def mention_tokens(body: str) -> list[str]:
    """The words written after ``@`` in ``body``, in order, each once."""
    seen: dict[str, None] = {}
    for match in _MENTION.finditer(body or ""):
        seen.setdefault(match.group(1).rstrip(".-"), None)
    return [token for token in seen if token]


def add_reply(
    conn: Connection,
    entry_id: int,
    author: Author,
    body: str,
    *,
    mentioned: Collection[Author] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    """Store a reply and its mentions; returns the reply as :func:`reply_dict`."""
    now = now or utc_now()
    text = check_reply_text(body)
    result = conn.execute(
        feed_replies.insert().values(
            entry_id=entry_id,
            author_id=author.id,
            author_name=author.name,
            body=text,
            created_at=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None  # an INSERT of one row always has its key
    reply_id = int(key[0])
    people = {person.id: person for person in mentioned}
    mentions = [{"user_id": uid, "name": people[uid].name} for uid in sorted(people)]
    if mentions:
        conn.execute(
            feed_mentions.insert(),
            [
                {
                    "reply_id": reply_id,
                    "entry_id": entry_id,
                    "user_id": mention["user_id"],
                    "user_name": mention["name"],
                    "created_at": now,
                }
                for mention in mentions
            ],
        )
    logger.debug("reply %d on entry %d, %d mentions", reply_id, entry_id, len(people))
    row = conn.execute(
        sa.select(feed_replies).where(feed_replies.c.id == reply_id)
    ).mappings()
    return reply_dict(row.one(), mentions)


def mark_written_back(conn: Connection, reply_id: int, sugarfeed_id: str) -> None:
    """Remember the ``sugarfeed`` row a reply was copied to."""
    conn.execute(
        feed_replies.update()
        .where(feed_replies.c.id == reply_id)
        .values(sugarfeed_id=sugarfeed_id)
    )


def replies_for(
    conn: Connection, entry_ids: Collection[int]
) -> dict[int, list[dict[str, Any]]]:
    """Every reply of each entry, oldest first, keyed by entry id."""
    found: dict[int, list[dict[str, Any]]] = {entry_id: [] for entry_id in entry_ids}
    if not entry_ids:
        return found
    rows = list(
        conn.execute(
            sa.select(feed_replies)
            .where(feed_replies.c.entry_id.in_(sorted(entry_ids)))
            .order_by(feed_replies.c.entry_id, feed_replies.c.id)
        ).mappings()
    )
    mentions = _mentions_of_replies(conn, [row["id"] for row in rows])
    for row in rows:
        found[row["entry_id"]].append(reply_dict(row, mentions.get(row["id"], [])))
    return found


def mentions_of(
    conn: Connection, user_id: str, *, before_id: int | None = None, limit: int = 50
) -> list[RowMapping]:
    """Mentions of ``user_id``, newest first: rows with entry_id, reply_id, id."""
    query = sa.select(feed_mentions).where(feed_mentions.c.user_id == user_id)
    if before_id is not None:
        query = query.where(feed_mentions.c.id < before_id)
    query = query.order_by(feed_mentions.c.id.desc()).limit(limit)
    return list(conn.execute(query).mappings())


def reply_dict(row: RowMapping, mentions: Iterable[dict[str, str]]) -> dict[str, Any]:
    """A stored reply as plain JSON types."""
    return {
        "id": row["id"],
        "entry_id": row["entry_id"],
        "author_id": row["author_id"],
        "author": row["author_name"],
        "body": row["body"],
        "created_at": iso_utc(row["created_at"]),
        "mentions": list(mentions),
        "sugarfeed_id": row["sugarfeed_id"],
    }


def write_reply_to_sugarfeed(
    conn: Connection,
    *,
    parent_feed_id: str,
    author_id: str,
    body: str,
    now: datetime | None = None,
) -> str:
    """Insert the reply into SuiteCRM's ``sugarfeed`` under ``parent_feed_id``.

    ``conn`` is a connection to SuiteCRM's database inside a transaction.  The
    text is stored HTML-escaped, as the dashlet stores what users type.
    Returns the new row's id.
    """
    now = now or utc_now()
    name, description = sugarfeed_text(body)
    feed_id = str(uuid.uuid4())
    conn.execute(
        tables.sugarfeed.insert().values(
            id=feed_id,
            name=name,
            description=description,
            date_entered=now,
            date_modified=now,
            modified_user_id=author_id,
            created_by=author_id,
            assigned_user_id=author_id,
            deleted=0,
            related_module="SugarFeed",
            related_id=parent_feed_id,
        )
    )
    return feed_id


def sugarfeed_text(body: str) -> tuple[str, str | None]:
    """``name`` and ``description`` of a sugarfeed row holding ``body``.

    acl-notes section 5: the text is escaped like htmlspecialchars, prefixed
    with the creator placeholder, cut at 255 characters for ``name`` with the
    next 510 in ``description``.
    """
    full = _CREATED_BY + escape_like_suitecrm(" ".join(body.split()))
    name = full[:_SUGARFEED_NAME_CHARS]
    end = _SUGARFEED_NAME_CHARS + _SUGARFEED_DESCRIPTION_CHARS
    rest = full[_SUGARFEED_NAME_CHARS:end]
    return name, rest or None


def escape_like_suitecrm(text: str) -> str:
    """``text`` escaped as PHP's htmlspecialchars does (ENT_QUOTES: ``'`` as &#039;)."""
    return (
        text.replace("&", "&amp;")
        .replace('"', "&quot;")
        .replace("'", "&#039;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def _mentions_of_replies(
    conn: Connection, reply_ids: Collection[int]
) -> dict[int, list[dict[str, str]]]:
    found: dict[int, list[dict[str, str]]] = {}
    if not reply_ids:
        return found
    rows = conn.execute(
        sa.select(
            feed_mentions.c.reply_id,
            feed_mentions.c.user_id,
            feed_mentions.c.user_name,
        )
        .where(feed_mentions.c.reply_id.in_(sorted(reply_ids)))
        .order_by(feed_mentions.c.id)
    )
    for reply_id, user_id, user_name in rows:
        found.setdefault(reply_id, []).append({"user_id": user_id, "name": user_name})
    return found
