"""Who is asking: SuiteCRM logins, signed session cookies, API tokens, throttling.

- A login is checked by SuiteCRM itself: the V8 password grant with the user's
  own credentials, then ``/V8/current-user`` to confirm whom the token belongs
  to.  Q3/F35: a client set up for client_credentials hands out its assigned
  user's token for anyone's password, so a token of another user is refused.
- A session is a cookie signed with ``DSCRM_WEB_SESSION_SECRET`` (itsdangerous),
  holding the user id, a random session id and a CSRF token.  The session id
  must also be live in the bridge's ``web_sessions`` table (stored as SHA-256):
  a logout deletes that row, so a saved copy of the cookie stops working.
- API tokens for scripts are random, shown once, stored as SHA-256 hex.
- Failed logins are counted per user name and per client address in the
  bridge's database, so the limit holds across processes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.engine import Connection, Engine

from dscrm_bridge.errors import AuthError, InputError, SuiteCRMError
from dscrm_bridge.feed.replies_schema import api_tokens, login_attempts, web_sessions
from dscrm_bridge.feed.store import iso_utc, utc_now
from dscrm_bridge.i18n import _
from dscrm_bridge.suitecrm import tables
from dscrm_bridge.suitecrm.gateway import compose_person_name, open_engine
from dscrm_bridge.suitecrm.v8client import V8Client

logger = logging.getLogger(__name__)

SESSION_COOKIE = "dscrm_session"
LOGIN_COOKIE = "dscrm_login"
TOKEN_PREFIX = "dscrm_"
_SESSION_SALT = "dscrm-web-session"
_LOGIN_SALT = "dscrm-web-login"
LOGIN_FORM_MAX_AGE_S = 3600
# An address may fail this many times more than one user name before it waits.
ADDRESS_FACTOR = 4
# last_used_at of an API token is kept to this many seconds.
TOKEN_USE_RESOLUTION_S = 60

# Given a user name and password, a V8 client signed in as whoever SuiteCRM says.
ClientFactory = Callable[[str, str], V8Client]


class LoginRefusedError(AuthError):
    """SuiteCRM did not confirm the user name and password."""


class TooManyAttemptsError(AuthError):
    """Too many failed logins; ``retry_after_s`` says when to try again."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Viewer:
    """A signed-in SuiteCRM user as the web service knows them."""

    id: str
    user_name: str
    name: str
    is_admin: bool


@dataclass(frozen=True)
class Session:
    """What the session cookie carries; ``sid`` names its ``web_sessions`` row."""

    user_id: str
    sid: str
    csrf: str


# --- login through SuiteCRM ---------------------------------------------------


def verify_login(client_factory: ClientFactory, user_name: str, password: str) -> str:
    """The SuiteCRM user id of ``user_name`` once SuiteCRM accepts ``password``.

    Raises:
        LoginRefusedError: wrong credentials, or the token SuiteCRM issued
            belongs to someone else (a misconfigured OAuth2 client, Q3).
        SuiteCRMError: SuiteCRM could not be asked.
    """
    if not user_name or not password:
        raise LoginRefusedError(_("Enter your SuiteCRM user name and password."))
    client = client_factory(user_name, password)
    try:
        me = client.current_user()
        _sign_out(client)
    except AuthError as exc:
        if exc.credential in ("password", "user name"):
            raise _refused() from exc
        raise
    finally:
        client.close()
    owner = str(me.get("user_name") or "")
    if owner.casefold() != user_name.casefold():
        # Q3/F35: the client's own user got the token; never sign in as them.
        logger.error(
            "SuiteCRM issued a token of user %r for a login as %r; the OAuth2 "
            "client must be a password-grant client without an assigned user",
            owner,
            user_name,
        )
        raise LoginRefusedError(
            _(
                "SuiteCRM signed this login in as another user; the bridge's OAuth2 "
                "client is misconfigured (it must be a password-grant client). "
                "Ask an administrator."
            )
        )
    return me.id


def _sign_out(client: V8Client) -> None:
    try:
        client.logout()  # Q6: revokes the token the check used
    except SuiteCRMError as exc:
        logger.warning("could not revoke the login check's token: %s", exc)


def _refused() -> LoginRefusedError:
    return LoginRefusedError(_("The user name or password is wrong."))


class LoginThrottle:
    """Counts failed logins in the bridge's database and refuses too many."""

    def __init__(self, engine: Engine, *, max_failures: int, window_s: int) -> None:
        self.engine = engine
        self.max_failures = max_failures
        self.window_s = window_s

    def check(self, user_name: str, address: str) -> None:
        """Raise :class:`TooManyAttemptsError` when this login must wait."""
        now = utc_now()
        start = now - timedelta(seconds=self.window_s)
        with self.engine.connect() as conn:
            by_user = _failures(
                conn, login_attempts.c.user_name, _key(user_name), start
            )
            by_address = _failures(
                conn, login_attempts.c.client_address, address, start
            )
        limits = (
            (by_user, self.max_failures),
            (by_address, self.max_failures * ADDRESS_FACTOR),
        )
        for stamps, limit in limits:
            if len(stamps) >= limit:
                oldest = sorted(stamps)[-limit]
                wait = oldest + timedelta(seconds=self.window_s) - now
                retry = max(1, int(wait.total_seconds()) + 1)
                raise TooManyAttemptsError(
                    _("Too many failed logins; try again in {minutes} minutes.").format(
                        minutes=max(1, (retry + 59) // 60)
                    ),
                    retry_after_s=retry,
                )

    def record(self, user_name: str, address: str, *, succeeded: bool) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                login_attempts.insert().values(
                    user_name=_key(user_name),
                    client_address=address[:64],
                    attempted_at=utc_now(),
                    succeeded=succeeded,
                )
            )


def _key(user_name: str) -> str:
    return user_name.strip().casefold()[:255]


def _failures(
    conn: Connection, column: sa.Column[Any], value: str, start: datetime
) -> list[datetime]:
    """Failed attempts since ``start`` and since the last success of ``value``."""
    last_ok = conn.execute(
        sa.select(sa.func.max(login_attempts.c.attempted_at)).where(
            column == value,
            login_attempts.c.succeeded.is_(True),
            login_attempts.c.attempted_at >= start,
        )
    ).scalar()
    since = max(start, last_ok) if last_ok else start
    rows = conn.execute(
        sa.select(login_attempts.c.attempted_at).where(
            column == value,
            login_attempts.c.succeeded.is_(False),
            login_attempts.c.attempted_at >= since,
        )
    ).scalars()
    return list(rows)


# --- sessions -----------------------------------------------------------------


class SessionCodec:
    """Signs and reads the session and login-form cookies."""

    def __init__(self, secret: str, *, max_age_s: int) -> None:
        if len(secret) < 16:
            raise InputError(
                _(
                    "DSCRM_WEB_SESSION_SECRET must be set to a random text of at "
                    "least 16 characters before `dscrm serve` can start."
                )
            )
        self.max_age_s = max_age_s
        self._session = URLSafeTimedSerializer(secret, salt=_SESSION_SALT)
        self._login = URLSafeTimedSerializer(secret, salt=_LOGIN_SALT)

    def new_session(self, user_id: str) -> tuple[Session, str]:
        """A new session of ``user_id`` and its cookie; :func:`store_session` it."""
        session = Session(
            user_id=user_id,
            sid=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(24),
        )
        cookie = self._session.dumps([session.user_id, session.sid, session.csrf])
        return session, cookie

    def read_session(self, cookie: str | None) -> Session | None:
        """The session a cookie names, if signed by us and not too old.

        Whether it is still live (not logged out) is :func:`session_live`'s call.
        """
        if not cookie:
            return None
        try:
            user_id, sid, csrf = self._session.loads(cookie, max_age=self.max_age_s)
        except (BadSignature, ValueError, TypeError):
            return None
        return Session(user_id=str(user_id), sid=str(sid), csrf=str(csrf))

    def new_login_form(self) -> tuple[str, str]:
        """A CSRF token for the login form and the cookie that vouches for it."""
        token = secrets.token_urlsafe(24)
        return token, self._login.dumps(token)

    def login_form_ok(self, cookie: str | None, token: str) -> bool:
        if not cookie or not token:
            return False
        try:
            expected = self._login.loads(cookie, max_age=LOGIN_FORM_MAX_AGE_S)
        except (BadSignature, ValueError, TypeError):
            return False
        return hmac.compare_digest(str(expected), token)


def store_session(conn: Connection, session: Session, *, max_age_s: int) -> None:
    """Record a new session as live; sessions past their end are dropped."""
    now = utc_now()
    conn.execute(web_sessions.delete().where(web_sessions.c.expires_at <= now))
    conn.execute(
        web_sessions.insert().values(
            id_hash=hash_token(session.sid),
            user_id=session.user_id,
            created_at=now,
            expires_at=now + timedelta(seconds=max_age_s),
        )
    )


def session_live(conn: Connection, session: Session) -> bool:
    """Whether ``session`` was stored, is not ended and belongs to its user."""
    row = conn_row(
        conn,
        sa.select(web_sessions.c.user_id).where(
            web_sessions.c.id_hash == hash_token(session.sid),
            web_sessions.c.expires_at > utc_now(),
        ),
    )
    return row is not None and str(row["user_id"]) == session.user_id


def end_session(conn: Connection, session: Session) -> None:
    """End ``session``: its cookie, even a saved copy, no longer signs anyone in."""
    conn.execute(
        web_sessions.delete().where(web_sessions.c.id_hash == hash_token(session.sid))
    )


def csrf_ok(session: Session, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(session.csrf, presented or "")


# --- users and API tokens -------------------------------------------------------


def load_viewer(crm: Connection, user_id: str) -> Viewer | None:
    """The active, not deleted SuiteCRM user ``user_id``; None otherwise."""
    users = tables.users
    row = conn_row(crm, sa.select(users).where(users.c.id == user_id))
    if row is None or row["deleted"] or (row["status"] or "Active") != "Active":
        return None
    name = compose_person_name(row["first_name"], row["last_name"])
    return Viewer(
        id=str(row["id"]),
        user_name=str(row["user_name"] or ""),
        name=name or str(row["user_name"] or ""),
        is_admin=bool(row["is_admin"]),
    )


def conn_row(conn: Connection, query: sa.Select[Any]) -> sa.RowMapping | None:
    return conn.execute(query).mappings().first()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(
    feed_url: str | sa.URL | Engine,
    suitecrm_url: str | sa.URL | Engine,
    user_name: str,
    *,
    name: str,
) -> tuple[int, str]:
    """A new API token acting as ``user_name``: (token id, the token, shown once).

    Raises:
        InputError: no active SuiteCRM user of that name.
    """
    users = tables.users
    with open_engine(suitecrm_url).connect() as crm:
        row = conn_row(
            crm,
            sa.select(users.c.id).where(
                users.c.user_name == user_name,
                sa.func.coalesce(users.c.deleted, 0) == 0,
            ),
        )
        viewer = load_viewer(crm, str(row["id"])) if row else None
    if viewer is None:
        raise InputError(
            _("SuiteCRM has no active user named {user_name}.").format(
                user_name=user_name
            )
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with open_engine(feed_url).begin() as conn:
        result = conn.execute(
            api_tokens.insert().values(
                token_hash=hash_token(token),
                name=name[:100],
                user_id=viewer.id,
                user_name=viewer.user_name,
                created_at=utc_now(),
            )
        )
    key = result.inserted_primary_key
    assert key is not None  # an INSERT of one row always has its key
    token_id = int(key[0])
    logger.info("API token %d created for %s", token_id, viewer.user_name)
    return token_id, token


def list_api_tokens(feed_url: str | sa.URL | Engine) -> list[dict[str, Any]]:
    """Every API token (never the token itself), newest first."""
    with open_engine(feed_url).connect() as conn:
        rows = conn.execute(
            sa.select(api_tokens).order_by(api_tokens.c.id.desc())
        ).mappings()
        return [
            {
                "id": row["id"],
                "name": row["name"],
                "user_name": row["user_name"],
                "created_at": iso_utc(row["created_at"]),
                "last_used_at": _iso(row["last_used_at"]),
                "revoked_at": _iso(row["revoked_at"]),
            }
            for row in rows
        ]


def revoke_api_token(feed_url: str | sa.URL | Engine, token_id: int) -> None:
    """Revoke one API token; InputError when there is no such live token."""
    with open_engine(feed_url).begin() as conn:
        done = conn.execute(
            api_tokens.update()
            .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=utc_now())
        )
    if done.rowcount == 0:
        raise InputError(
            _("There is no live API token with id {id}.").format(id=token_id)
        )


def token_user(conn: Connection, token: str) -> str | None:
    """The SuiteCRM user id an unrevoked API token acts as; None if unknown."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = conn_row(
        conn,
        sa.select(
            api_tokens.c.id, api_tokens.c.user_id, api_tokens.c.last_used_at
        ).where(
            api_tokens.c.token_hash == hash_token(token),
            api_tokens.c.revoked_at.is_(None),
        ),
    )
    if row is None:
        return None
    now = utc_now()
    last = row["last_used_at"]
    if last is None or now - last > timedelta(seconds=TOKEN_USE_RESOLUTION_S):
        # One write a minute at most: a script's every request need not commit.
        conn.execute(
            api_tokens.update()
            .where(api_tokens.c.id == row["id"])
            .values(last_used_at=now)
        )
    return str(row["user_id"])


def _iso(value: datetime | None) -> str | None:
    return iso_utc(value) if value else None
