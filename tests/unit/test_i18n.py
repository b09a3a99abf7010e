"""Every message in the code has a zh_CN and an en translation, compiled."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from dscrm_bridge import i18n

REPO = Path(__file__).resolve().parents[2]


def _code_messages() -> dict[str, str]:
    found: dict[str, str] = {}
    for root in (REPO / "dscrm_bridge", REPO):
        pattern = "**.py" if root.name == "dscrm_bridge" else "cli.py"
        for filename, lineno, message, _comments, _ctx in extract_from_dir(
            str(root),
            method_map=[(pattern, "python")],
            keywords={"_": None, "N_": None},
        ):
            if isinstance(message, tuple):
                message = message[0]
            found.setdefault(message, f"{filename}:{lineno}")
    return found


def _catalog_entries(lang: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for po in sorted((i18n.LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as handle:
            for message in read_po(handle, locale=lang):
                if message.id:
                    entries[str(message.id)] = str(message.string or "")
    return entries


CODE_MESSAGES = _code_messages()


def test_code_has_messages_to_translate() -> None:
    assert "Error: {message}" in CODE_MESSAGES


@pytest.mark.parametrize("lang", i18n.LANGUAGES, ids=list(i18n.LANGUAGES))
def test_every_message_has_a_translation(lang: str) -> None:
    entries = _catalog_entries(lang)
    missing = sorted(
        f"{where}: {msg!r}"
        for msg, where in CODE_MESSAGES.items()
        if not entries.get(msg)
    )
    assert missing == [], f"{lang} lacks translations"


@pytest.mark.parametrize("lang", i18n.LANGUAGES, ids=list(i18n.LANGUAGES))
def test_translations_keep_their_placeholders(lang: str) -> None:
    import string

    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    entries = _catalog_entries(lang)
    wrong = [m for m, s in entries.items() if s and fields(m) != fields(s)]
    assert wrong == []


def test_compiled_catalogs_match_their_sources() -> None:
    stale = []
    for po in sorted(i18n.LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != i18n.compiled_catalog(po):
            stale.append(str(mo))
    assert stale == [], "run: python -m dscrm_bridge.i18n"


def test_translator_renders_each_language() -> None:
    assert i18n.translator("zh_CN")("Error: {message}") == "错误：{message}"
    assert i18n.translator("en")("Error: {message}") == "Error: {message}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("en_US.UTF-8", "en"), ("zh_CN.UTF-8", "zh_CN"), (None, "zh_CN"), ("fr", "zh_CN")],
    ids=["english-locale", "chinese-locale", "unset", "unknown-falls-back"],
)
def test_normalize_language(value: str | None, expected: str) -> None:
    assert i18n.normalize_language(value) == expected
