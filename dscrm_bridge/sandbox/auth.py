"""OAuth2 for the sandbox: the token endpoint, bearer checks and password hashes.

Tokens are HS256 JWTs signed with a key of the running app; ``oauth2tokens`` keeps
one row per token as SuiteCRM does (Q6: the row holds the JWT id, not the JWT).
Where the recorded SuiteCRM was careless, the sandbox refuses instead (see
:data:`dscrm_bridge.sandbox.REFUSED_HOLES`): a client may use only its own grant
type (Q3), an Inactive user gets no token (Q4) and a wrong password is never
echoed back (Q2).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from dscrm_bridge.sandbox.protocol import OAuthError, utc_now
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.suitecrm.passwords import verify_password

logger = logging.getLogger(__name__)

ACCESS_TOKEN_TTL = dt.timedelta(hours=1)  # Q1: fixed at one hour
REFRESH_TOKEN_TTL = dt.timedelta(days=30)  # Q1: one month
GRANT_TYPES = ("password", "client_credentials", "refresh_token")
# Which grants a client's allowed_grant_type permits (Q3 is NOT copied).
_ALLOWED = {
    "password": {"password", "refresh_token"},
    "client_credentials": {"client_credentials"},
}
_DENIED = "The resource owner or authorization server denied the request."


# Q23: logins accept the UI's bcrypt-of-md5 and the legacy plain md5 hex.
check_password = verify_password


def hash_secret(secret: str) -> str:
    """Client secrets are stored as sha256 hex of the plain secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenGrant:
    """What a valid bearer token stands for."""

    token_id: str
    user_id: str
    client_id: str


class TokenService:
    """Issues and checks tokens with a signing key private to one app."""

    def __init__(self, signing_key: bytes | None = None) -> None:
        self._key = signing_key or secrets.token_bytes(32)

    # --- token endpoint -------------------------------------------------------

    def issue(self, conn: sa.Connection, params: dict[str, Any]) -> dict[str, Any]:
        """Answer ``POST /Api/access_token``; raises :class:`OAuthError`."""
        grant = params.get("grant_type")
        if grant not in GRANT_TYPES:
            raise OAuthError(
                400,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the "
                "authorization server.",
                hint="Check the `grant_type` parameter",
            )
        client = self._client(conn, params)
        if grant not in _ALLOWED.get(client.allowed_grant_type or "password", set()):
            raise OAuthError(
                400,
                "unauthorized_client",
                "The authenticated client is not permitted to use this grant type.",
            )

        refresh = grant != "client_credentials"
        if grant == "password":
            user_id = self._password_user(conn, params)
        elif grant == "client_credentials":
            user_id = self._client_user(conn, client)
        else:
            user_id = self._refresh_user(conn, params, client.id)
        return self._new_token(conn, client.id, user_id, grant, with_refresh=refresh)

    def _client(self, conn: sa.Connection, params: dict[str, Any]) -> sa.Row[Any]:
        client_id = str(params.get("client_id") or "")
        row = conn.execute(
            sa.select(t.oauth2clients).where(
                t.oauth2clients.c.id == client_id, t.oauth2clients.c.deleted == 0
            )
        ).first()
        if row is None:
            raise _unknown(f"OAuth2Clients module with id {client_id} is not found")
        secret = str(params.get("client_secret") or "")
        if not hmac.compare_digest(hash_secret(secret), row.secret or ""):
            raise OAuthError(
                401,
                "invalid_client",
                "Client authentication failed",
                headers={"WWW-Authenticate": 'Basic realm="OAuth"'},
            )
        return row

    def _password_user(self, conn: sa.Connection, params: dict[str, Any]) -> str:
        for name in ("username", "password"):
            if not params.get(name):
                raise OAuthError(
                    400,
                    "invalid_request",
                    "The request is missing a required parameter, includes an "
                    "invalid parameter value, includes a parameter more than once, "
                    "or is otherwise malformed.",
                    hint=f"Check the `{name}` parameter",
                )
        username = str(params["username"])
        rows = conn.execute(
            sa.select(t.users).where(
                t.users.c.user_name == username, t.users.c.deleted == 0
            )
        ).all()
        if not rows:
            raise _unknown(f"No user found with this username: {username}")
        active = [row for row in rows if (row.status or "") != "Inactive"]
        if not active:
            _require_active(rows[0])
        if len(active) > 1:
            # A database written by another tool may hold duplicates; signing in
            # as whichever row comes first would be a guess.
            logger.warning("%d active users share one user_name", len(active))
            raise _unknown(f"No user found with this username: {username}")
        user = active[0]
        # Q2 is not copied: the submitted password is never part of the answer.
        if not check_password(str(params["password"]), user.user_hash):
            raise _unknown("The password is invalid")
        _require_active(user)
        return str(user.id)

    def _client_user(self, conn: sa.Connection, client: sa.Row[Any]) -> str:
        user = _active_user(conn, client.assigned_user_id)
        if user is None:
            raise _unknown("No user found")
        _require_active(user)
        return str(user.id)

    def _refresh_user(
        self, conn: sa.Connection, params: dict[str, Any], client_id: str
    ) -> str:
        presented = str(params.get("refresh_token") or "")
        tokens = t.oauth2tokens
        row = conn.execute(
            sa.select(tokens).where(
                tokens.c.refresh_token == hash_secret(presented),
                tokens.c.client == client_id,
                tokens.c.deleted == 0,
            )
        ).first()
        if not presented or row is None or row.refresh_token_expires < utc_now():
            raise OAuthError(
                401,
                "invalid_request",
                "The refresh token is invalid.",
                hint="Token has been revoked",
            )
        user = _active_user(conn, row.assigned_user_id)
        if user is None:
            raise _unknown("No user found")
        _require_active(user)
        # Q1: using a refresh token retires the old pair.
        conn.execute(
            tokens.update()
            .where(tokens.c.id == row.id)
            .values(deleted=1, token_is_revoked=1, date_modified=utc_now())
        )
        return str(user.id)

    def _new_token(
        self,
        conn: sa.Connection,
        client_id: str,
        user_id: str,
        grant: str,
        *,
        with_refresh: bool,
    ) -> dict[str, Any]:
        now = utc_now()
        jti = secrets.token_hex(40)
        expires = now + ACCESS_TOKEN_TTL
        claims = {
            "aud": client_id,
            "jti": jti,
            "iat": int(now.replace(tzinfo=dt.UTC).timestamp()),
            "nbf": int(now.replace(tzinfo=dt.UTC).timestamp()),
            "exp": int(expires.replace(tzinfo=dt.UTC).timestamp()),
            "sub": user_id,
            "scopes": [],
        }
        refresh = secrets.token_urlsafe(48) if with_refresh else None
        conn.execute(
            t.oauth2tokens.insert().values(
                id=str(uuid.uuid4()),
                name="",
                date_entered=now,
                date_modified=now,
                deleted=0,
                token_is_revoked=0,
                token_type="Bearer",
                access_token_expires=expires,
                access_token=jti,
                refresh_token=hash_secret(refresh) if refresh else None,
                refresh_token_expires=now + REFRESH_TOKEN_TTL if refresh else None,
                grant_type=grant,
                client=client_id,
                assigned_user_id=user_id,
            )
        )
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": int(ACCESS_TOKEN_TTL.total_seconds()),
            "access_token": self._sign(claims),
        }
        if refresh:
            body["refresh_token"] = refresh
        return body

    # --- resource server ------------------------------------------------------

    def _sign(self, claims: dict[str, Any]) -> str:
        header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{header}.{payload}".encode("ascii")
        signature = hmac.new(self._key, signing_input, hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def verify(self, conn: sa.Connection, authorization: str | None) -> TokenGrant:
        """The grant behind an ``Authorization: Bearer`` header (Q5 on failure)."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise _denied('Missing "Authorization" header')
        jwt = authorization[7:].strip()
        if jwt.count(".") != 2:
            raise _denied("The JWT string must have two dots")
        claims = self._claims(jwt)
        if claims is None:
            raise _denied("Access token could not be verified")
        if int(claims.get("exp", 0)) < utc_now().replace(tzinfo=dt.UTC).timestamp():
            raise _denied("Access token is invalid")

        tokens = t.oauth2tokens
        row = conn.execute(
            sa.select(tokens.c.id).where(
                tokens.c.access_token == str(claims.get("jti")),
                tokens.c.deleted == 0,
                sa.func.coalesce(tokens.c.token_is_revoked, 0) == 0,
            )
        ).first()
        if row is None:
            raise _denied("Access token has been revoked")
        user = _active_user(conn, str(claims.get("sub")))
        if user is None or user.status == "Inactive":
            raise _denied("Access token has been revoked")
        return TokenGrant(
            token_id=str(claims["jti"]),
            user_id=str(user.id),
            client_id=str(claims.get("aud")),
        )

    def _claims(self, jwt: str) -> dict[str, Any] | None:
        header, payload, signature = jwt.split(".")
        expected = hmac.new(
            self._key, f"{header}.{payload}".encode("ascii"), hashlib.sha256
        ).digest()
        try:
            if not hmac.compare_digest(expected, _unb64(signature)):
                return None
            claims = json.loads(_unb64(payload))
        except (ValueError, UnicodeDecodeError):
            return None
        return claims if isinstance(claims, dict) else None

    def revoke(self, conn: sa.Connection, token_id: str) -> None:
        """Q6: logout marks the token's row deleted."""
        tokens = t.oauth2tokens
        conn.execute(
            tokens.update()
            .where(tokens.c.access_token == token_id)
            .values(deleted=1, token_is_revoked=1, date_modified=utc_now())
        )


def _active_user(conn: sa.Connection, user_id: str | None) -> sa.Row[Any] | None:
    if not user_id:
        return None
    return conn.execute(
        sa.select(t.users).where(t.users.c.id == user_id, t.users.c.deleted == 0)
    ).first()


def _require_active(user: sa.Row[Any]) -> None:
    """Q4 is not copied: an Inactive user gets no token."""
    if (user.status or "") == "Inactive":
        raise OAuthError(
            400,
            "invalid_grant",
            "The user credentials were incorrect.",
            hint="The user is not active",
        )


def _unknown(message: str) -> OAuthError:
    """Q2: SuiteCRM answers user and client lookup failures as a 500."""
    return OAuthError(500, "unknown_error", message)


def _denied(hint: str) -> OAuthError:
    return OAuthError(401, "access_denied", _DENIED, hint=hint)
