"""Passwords are stored as SuiteCRM's UI stores them: bcrypt of md5, $2y$."""

from __future__ import annotations

import hashlib

from dscrm_bridge.suitecrm.passwords import (
    generate_password,
    hash_password,
    verify_password,
)


def test_hash_is_php_bcrypt_of_the_md5_hex() -> None:
    import bcrypt

    stored = hash_password("admin1234")

    assert stored.startswith("$2y$10$") and len(stored) == 60
    md5 = hashlib.md5(b"admin1234").hexdigest().encode()  # noqa: S324
    assert bcrypt.checkpw(md5, ("$2b$" + stored[4:]).encode())


def test_verify_accepts_the_bcrypt_and_the_legacy_md5_form() -> None:
    stored = hash_password("密码🔑1")

    assert verify_password("密码🔑1", stored) is True
    assert verify_password("密码🔑2", stored) is False
    assert verify_password("admin1234", "c93ccd78b2076528346216b3b2f701e6") is True
    assert verify_password("admin1234", "") is False


def test_generated_passwords_differ_and_are_long() -> None:
    first, second = generate_password(), generate_password()

    assert first != second
    assert len(first) == 16 and first.isalnum()
