"""Secrets are masked from any text, without mangling the words around them."""

from __future__ import annotations

import pytest

from dscrm_bridge.suitecrm.redact import MASK, Redactor


@pytest.mark.parametrize(
    ("secrets", "text", "expected"),
    [
        (
            ["bridge-password-secret"],
            "secret bridge-password-secret sent",
            f"secret {MASK} sent",
        ),
        ([], "The password is invalid: WrongPass!", f"The password is invalid: {MASK}"),
        (
            ["pw"],
            "No user found with this username: pw",
            f"No user found with this username: {MASK}",
        ),
        (
            ["x"],
            "OAuth2Clients module with id x-ray is not found",
            "OAuth2Clients module with id x-ray is not found".replace(
                "id x-", f"id {MASK}-"
            ),
        ),
        (["e"], "Client authentication failed", "Client authentication failed"),
        ([], "Authorization: Bearer eyJ0.eyJ1.sig", f"Authorization: Bearer {MASK}"),
    ],
    ids=[
        "long-secret",
        "echoed-password",
        "short-secret-alone",
        "short-secret-word-edge",
        "short-secret-inside-words-kept",
        "bearer-token",
    ],
)
def test_redactor_masks_secrets(secrets: list[str], text: str, expected: str) -> None:
    assert Redactor(secrets)(text) == expected


def test_redactor_masks_secrets_added_later() -> None:
    redact = Redactor()
    redact.add("token-abcdef")

    assert (
        redact("used token-abcdef twice: token-abcdef") == f"used {MASK} twice: {MASK}"
    )


@pytest.mark.parametrize(
    "echoed",
    [
        "password=p%40ss+w%26rd%22%C3%A9&grant_type=password",
        '{"password": "p@ss w&rd\\"\\u00e9"}',
        '{"password": "p@ss w&rd\\"é"}',
        "/login?password=p%40ss%20w%26rd%22%C3%A9",
    ],
    ids=["form-encoded", "json-ascii", "json-utf8", "url-path"],
)
def test_secret_is_masked_in_its_encoded_forms(echoed: str) -> None:
    redact = Redactor(['p@ss w&rd"é'])

    shown = redact(f"server echoed: {echoed}")

    assert MASK in shown
    assert "w&rd" not in shown and "w%26rd" not in shown
