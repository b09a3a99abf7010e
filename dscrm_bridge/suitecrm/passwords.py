"""User passwords in the form SuiteCRM's own UI stores them.

The UI keeps ``password_hash(md5(password))``: bcrypt over the md5 hex digest,
written as ``$2y$10$...`` (acl-notes 4, Q23).  The V8 API stores ``user_hash``
as sent, and login also accepts a bare md5 hex; the bridge never writes that
weaker form.  The sandbox checks logins with the same functions.  Passwords
and hashes are never logged.
"""

from __future__ import annotations

import hashlib
import secrets
import string

import bcrypt

BCRYPT_ROUNDS = 10  # PHP's password_hash default cost
GENERATED_LENGTH = 16
_ALPHABET = string.ascii_letters + string.digits


def hash_password(password: str) -> str:
    """The ``user_hash`` SuiteCRM's UI would store for ``password``."""
    digest = md5_hex(password).encode("ascii")
    hashed = bcrypt.hashpw(digest, bcrypt.gensalt(rounds=BCRYPT_ROUNDS))
    # PHP writes the $2y$ prefix; the hash after it is the same as $2b$.
    return "$2y$" + hashed.decode("ascii")[4:]


def verify_password(password: str, user_hash: str | None) -> bool:
    """Whether ``password`` matches a stored ``user_hash`` (bcrypt or legacy md5)."""
    if not user_hash:
        return False
    digest = md5_hex(password)
    if user_hash.startswith(("$2y$", "$2a$", "$2b$")):
        candidate = ("$2b$" + user_hash[4:]).encode("ascii")
        try:
            return bcrypt.checkpw(digest.encode("ascii"), candidate)
        except ValueError:
            return False
    return secrets.compare_digest(user_hash.lower(), digest)


def generate_password() -> str:
    """A new random password of letters and digits, to be shown once."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(GENERATED_LENGTH))


def md5_hex(password: str) -> str:
    """The md5 hex digest SuiteCRM hashes (and, in legacy rows, stores as is)."""
    # SuiteCRM's password format, not a choice of the bridge.
    return hashlib.md5(password.encode("utf-8")).hexdigest()  # noqa: S324
