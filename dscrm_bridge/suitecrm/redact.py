"""Redaction of secrets (passwords, client secrets, tokens) from any text we show.

SuiteCRM 7.13 echoes a rejected password back in its error message
(Q2: ``The password is invalid: WrongPass!``), so every text that leaves the V8
client - exception messages, ``detail``, log lines - goes through a
:class:`Redactor` that knows the secrets of that client.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"

# Short secrets are masked only where they stand alone, so that a one-letter
# secret does not turn every word containing that letter into "***".
_SHORT_SECRET_LEN = 6

# Q2: the wrong-password message carries the submitted password after the colon.
_PASSWORD_ECHO = re.compile(r"(The password is invalid:)\s*.*", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer)\s+[^\s\"',;]+", re.IGNORECASE)


class Redactor:
    """Masks a changing set of secrets in text."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Remember ``secret`` (ignored when empty) so that it is masked from now on.

        Its encoded forms are remembered too: a server that echoes a form body or
        a URL shows it percent-encoded, one that echoes JSON shows it escaped.
        """
        if secret:
            self._secrets.update(_encodings(secret))

    def __call__(self, text: str | None) -> str:
        """``text`` with every known secret, echoed password and bearer token masked."""
        if not text:
            return ""
        text = _PASSWORD_ECHO.sub(rf"\1 {MASK}", text)
        text = _BEARER.sub(rf"\1 {MASK}", text)
        # Longest first, so a secret that contains another is masked whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = _mask(text, secret)
        return text


def _encodings(secret: str) -> set[str]:
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }


def _mask(text: str, secret: str) -> str:
    if len(secret) >= _SHORT_SECRET_LEN:
        return text.replace(secret, MASK)
    pattern = rf"(?<![\w]){re.escape(secret)}(?![\w])"
    return re.sub(pattern, MASK, text)
