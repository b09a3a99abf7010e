"""OAuth2 for SuiteCRM's V8 API: grant bodies, tokens and their lifetime, token errors.

The HTTP exchange itself goes through :class:`~dscrm_bridge.suitecrm.v8client.V8Client`
(one session, one retry policy); this module knows what to send to
``{base}{prefix}/access_token``, how long an answer may be used, and which
credential a rejection points at.  Error texts never carry a secret's value.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dscrm_bridge.errors import ApiError, AuthError, ConfigError, SuiteCRMError
from dscrm_bridge.i18n import _

logger = logging.getLogger(__name__)

# A token is renewed this many seconds before SuiteCRM says it expires (Q1: 1 h TTL),
# so a request started just before expiry does not meet a 401.
EXPIRY_MARGIN_S = 60.0


class Grant(enum.StrEnum):
    """The OAuth2 grants SuiteCRM's V8 API issues tokens for."""

    PASSWORD = "password"
    CLIENT_CREDENTIALS = "client_credentials"
    REFRESH_TOKEN = "refresh_token"


@dataclass(frozen=True)
class Credentials:
    """What the client signs in with; ``repr`` never shows a secret."""

    client_id: str
    client_secret: str
    grant: Grant = Grant.PASSWORD
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return (
            f"Credentials(client_id={self.client_id!r}, grant={self.grant.value!r}, "
            f"username={self.username!r})"
        )

    def secrets(self) -> tuple[str | None, ...]:
        return (self.client_secret, self.password)


@dataclass(frozen=True)
class Token:
    """An access token, its optional refresh token, and when to stop using it."""

    access_token: str
    refresh_token: str | None
    renew_at: float

    def __repr__(self) -> str:
        return f"Token(renew_at={self.renew_at!r})"

    def usable(self, now: float) -> bool:
        return now < self.renew_at


def make_credentials(
    *,
    client_id: str,
    client_secret: str,
    grant_type: str,
    username: str | None,
    password: str | None,
) -> Credentials:
    """Checked :class:`Credentials`; a ConfigError lists every problem at once."""
    grants = (Grant.PASSWORD.value, Grant.CLIENT_CREDENTIALS.value)
    if grant_type not in grants:
        raise ConfigError(
            _(
                "Unsupported grant type {grant}; use password or client_credentials"
            ).format(grant=grant_type)
        )
    grant = Grant(grant_type)
    problems = []
    if not client_id:
        problems.append(_("client_id is empty"))
    if not client_secret:
        problems.append(_("client_secret is empty"))
    if grant is Grant.PASSWORD and not username:
        problems.append(_("the password grant needs a user name"))
    if grant is Grant.PASSWORD and not password:
        problems.append(_("the password grant needs a password"))
    if problems:
        raise ConfigError(
            _("The SuiteCRM credentials are incomplete"), problems=problems
        )
    return Credentials(client_id, client_secret, grant, username, password)


def grant_body(credentials: Credentials) -> dict[str, str]:
    """The JSON body that signs in with the configured grant."""
    body = {
        "grant_type": credentials.grant.value,
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
    }
    if credentials.grant is Grant.PASSWORD:
        body["username"] = credentials.username or ""
        body["password"] = credentials.password or ""
    return body


def refresh_body(credentials: Credentials, refresh_token: str) -> dict[str, str]:
    """The JSON body that trades a refresh token for a new pair (A10)."""
    return {
        "grant_type": Grant.REFRESH_TOKEN.value,
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
        "refresh_token": refresh_token,
    }


def token_from_body(body: Mapping[str, Any], *, now: float) -> Token:
    """A :class:`Token` from a 200 answer; Q1: client_credentials has no refresh."""
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise ApiError(_("SuiteCRM answered the token request without an access token"))
    try:
        lifetime_s = float(body.get("expires_in", 3600))
    except (TypeError, ValueError):
        lifetime_s = 3600.0
    margin_s = min(EXPIRY_MARGIN_S, lifetime_s / 2)
    refresh = body.get("refresh_token")
    return Token(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        renew_at=now + lifetime_s - margin_s,
    )


def token_error(
    *,
    status: int,
    code: str,
    detail: str,
    credentials: Credentials,
    grant: Grant,
    path: str,
) -> SuiteCRMError:
    """The error for a refused token request; says which credential, never its value.

    ``detail`` must already be redacted.  The shapes are those of F30-F37 (Q2).
    """
    text = detail.lower()
    fields: dict[str, Any] = {"status": status, "path": path, "detail": detail}
    client = credentials.client_id
    user = credentials.username or ""

    def rejected(message: str, credential: str) -> AuthError:
        return AuthError(message, credential=credential, **fields)

    # Server fact 1: stock 7.13.2 on PHP 8 cannot read its key; fatal, not retried.
    if "parse your key" in text:
        return ApiError(
            _(
                "SuiteCRM cannot read its OAuth2 key files; an administrator must "
                "fix the keys on the server (SuiteCRM issue #9963)"
            ),
            **fields,
        )
    if code == "invalid_client":
        return rejected(
            _(
                "SuiteCRM rejected the client secret of OAuth2 client {client_id}; "
                "check DSCRM_SUITECRM_CLIENT_SECRET in the environment"
            ).format(client_id=client),
            "client secret",
        )
    # Q2: an unknown client id answers 500 unknown_error "OAuth2Clients ... not found".
    if "oauth2clients" in text and "not found" in text:
        return rejected(
            _(
                "SuiteCRM does not know the OAuth2 client {client_id}; "
                "check client_id in the configuration"
            ).format(client_id=client),
            "client id",
        )
    if "password is invalid" in text or (
        code == "invalid_grant" and grant is Grant.PASSWORD
    ):
        return rejected(
            _(
                "SuiteCRM rejected the password of user {username}; check the "
                "password given for this user (DSCRM_SUITECRM_PASSWORD, or "
                "DSCRM_WORKFLOWS_AS_PASSWORD for --as)"
            ).format(username=user),
            "password",
        )
    if "no user found with this username" in text:
        return rejected(
            _(
                "SuiteCRM has no active user named {username}; "
                "check the user name in the configuration"
            ).format(username=user),
            "user name",
        )
    # F34: a client without an assigned user cannot use client_credentials.
    if "no user found" in text:
        return rejected(
            _(
                "OAuth2 client {client_id} cannot sign in with the {grant} grant: "
                "it has no assigned user in SuiteCRM"
            ).format(client_id=client, grant=grant.value),
            "client id",
        )
    if code == "unsupported_grant_type":
        return rejected(
            _("SuiteCRM does not accept the {grant} grant").format(grant=grant.value),
            "grant type",
        )
    if grant is Grant.REFRESH_TOKEN:
        return rejected(
            _("SuiteCRM refused the refresh token: {detail}").format(detail=detail),
            "refresh token",
        )
    if status >= 500 and not code:
        return ApiError(
            _("SuiteCRM failed to answer the token request (HTTP {status})").format(
                status=status
            ),
            retriable=True,
            **fields,
        )
    return rejected(
        _("SuiteCRM refused the token request: {detail}").format(detail=detail),
        code or "unknown",
    )


@dataclass(frozen=True)
class TokenReply:
    """What the token endpoint answered: status, JSON body, redacted explanation."""

    status: int
    body: Any
    detail: str


class TokenKeeper:
    """Holds the current token; signs in, refreshes and forgets it.

    ``post`` sends one JSON body to the token endpoint (the client's single HTTP
    path, with its retries) and ``on_token`` learns each new token so that it can
    be redacted from every text.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        post: Callable[[Mapping[str, str]], TokenReply],
        clock: Callable[[], float],
        on_token: Callable[[Token], None] = lambda token: None,
        path: str = "/access_token",
    ) -> None:
        self._credentials = credentials
        self._post = post
        self._clock = clock
        self._on_token = on_token
        self._path = path
        self._token: Token | None = None

    @property
    def token(self) -> Token | None:
        return self._token

    def access_token(self) -> str:
        """A usable access token: the current one until shortly before it expires."""
        token = self._token
        if token is not None and token.usable(self._clock()):
            return token.access_token
        self._token = self._renew(token)
        return self._token.access_token

    def sign_in(self) -> str:
        """Sign in anew with the configured grant, dropping any refresh token."""
        grant = self._credentials.grant
        self._token = self._request(grant_body(self._credentials), grant)
        return self._token.access_token

    def forget(self) -> Token | None:
        """Drop the current token (after logout) and return it."""
        token, self._token = self._token, None
        return token

    def _renew(self, expired: Token | None) -> Token:
        """Refresh when a refresh token exists; sign in anew when that fails (Q1)."""
        if expired is not None and expired.refresh_token:
            body = refresh_body(self._credentials, expired.refresh_token)
            try:
                return self._request(body, Grant.REFRESH_TOKEN)
            except ApiError as exc:
                # Q1 and issue note: refresh fails on some 7.13+ servers.
                logger.warning("token refresh refused (%s); signing in again", exc)
        grant = self._credentials.grant
        return self._request(grant_body(self._credentials), grant)

    def _request(self, body: Mapping[str, str], grant: Grant) -> Token:
        reply = self._post(body)
        if reply.status != 200 or not isinstance(reply.body, Mapping):
            code = reply.body.get("error") if isinstance(reply.body, Mapping) else None
            raise token_error(
                status=reply.status,
                code=str(code or ""),
                detail=reply.detail,
                credentials=self._credentials,
                grant=grant,
                path=self._path,
            )
        token = token_from_body(reply.body, now=self._clock())
        self._on_token(token)
        logger.debug("signed in to SuiteCRM with the %s grant", grant.value)
        return token
