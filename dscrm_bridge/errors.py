"""The bridge's error tree: one root, every error carries a message a user can act on.

    BridgeError                 root; ``exit_code`` for the CLI
    +-- ConfigError             configuration file or environment is invalid
    +-- InputError              a file or argument the user gave is invalid
    +-- SuiteCRMError           anything SuiteCRM answered or failed to answer
    |   +-- TransportError      no answer: connection refused, timeout, TLS
    |   +-- ApiError            SuiteCRM answered with an error (status, detail)
    |       +-- AuthError       a credential was rejected or a token is unusable
    |       |   +-- IdentityError   the token acts as another user than the one named
    |       +-- AccessDeniedError   the acting user may not do this
    |       +-- NotFoundError   no such module, record or link
    +-- DatabaseError           a SQL statement against SuiteCRM or the bridge failed
    +-- SyncError               a sync run could not complete

Low-level exceptions (requests, SQLAlchemy) are translated into this tree once, at
the boundary where they are caught, with ``raise ... from exc``.  Messages are
already translated (see :mod:`dscrm_bridge.i18n`) and never contain secrets.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Root of every error the bridge raises on purpose."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(BridgeError):
    """The configuration is invalid; ``problems`` lists every problem found."""

    exit_code = 2

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        return "\n".join([self.message, *("  - " + p for p in self.problems)])


class InputError(BridgeError):
    """A file or argument given by the user is invalid."""

    exit_code = 2

    def __init__(
        self, message: str, *, path: str | None = None, line: int | None = None
    ) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class SuiteCRMError(BridgeError):
    """SuiteCRM could not be reached or answered with an error."""

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


class TransportError(SuiteCRMError):
    """No usable answer arrived: connection refused, timeout, broken TLS."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message, retriable=True)
        self.url = url


class ApiError(SuiteCRMError):
    """SuiteCRM answered with an error; ``detail`` is SuiteCRM's own text."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        path: str | None = None,
        detail: str | None = None,
        retriable: bool = False,
    ) -> None:
        super().__init__(message, retriable=retriable)
        self.status = status
        self.path = path
        self.detail = detail


class AuthError(ApiError):
    """A credential was rejected; ``credential`` names which one, never its value."""

    def __init__(
        self,
        message: str,
        *,
        credential: str | None = None,
        status: int | None = None,
        path: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message, status=status, path=path, detail=detail)
        self.credential = credential


class IdentityError(AuthError):
    """The token acts as another SuiteCRM user than the one named (Q3, F35)."""

    def __init__(self, message: str, *, expected: str, actual: str) -> None:
        super().__init__(message, credential="user name", path="/V8/current-user")
        self.expected = expected
        self.actual = actual


class AccessDeniedError(ApiError):
    """The acting user may not do this (SuiteCRM's AccessDeniedException)."""


class NotFoundError(ApiError):
    """No such module, record or link."""


class DatabaseError(BridgeError):
    """A SQL statement failed; the URL in the message is masked."""


class SyncError(BridgeError):
    """A sync run could not complete."""
