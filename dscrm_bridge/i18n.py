"""Translations: gettext catalogs for zh_CN (the default) and en.

Messages are written in English in the code and looked up in the catalogs under
``dscrm_bridge/locale/<lang>/LC_MESSAGES/<domain>.mo``.  Each area of the package
keeps its own domain (``cli``, ``sync``, ...); lookups search them all.  The ``.mo``
files are compiled from the ``.po`` sources with Babel::

    python -m dscrm_bridge.i18n        # compile every .po into its .mo

The current language is set once, at the entry point (``set_language``); code that
must render both languages at once (feed text) asks for ``translator(lang)``.
"""

from __future__ import annotations

import datetime
import functools
import gettext
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

logger = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = "zh_CN"

_current = DEFAULT_LANGUAGE
_CATALOG_STAMP = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def normalize_language(value: str | None) -> str:
    """Map ``en``, ``en_US.UTF-8``, ``zh_CN.UTF-8`` ... to a shipped language."""
    if not value:
        return DEFAULT_LANGUAGE
    code = value.split(".")[0].replace("-", "_").lower()
    if code.startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


def language_from_locale(env: Mapping[str, str]) -> str:
    """The language a POSIX locale environment asks for (LC_ALL, LC_MESSAGES, LANG)."""
    for key in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(key)
        if value and value not in ("C", "POSIX", "C.UTF-8"):
            return normalize_language(value)
    return DEFAULT_LANGUAGE


def set_language(lang: str) -> None:
    """Make ``lang`` the language of every ``_()`` call from now on."""
    global _current
    _current = normalize_language(lang)


def current_language() -> str:
    return _current


@functools.cache
def catalog(lang: str) -> gettext.NullTranslations:
    """Every domain's catalog for ``lang``, chained into one lookup."""
    directory = LOCALE_DIR / normalize_language(lang) / "LC_MESSAGES"
    merged: gettext.NullTranslations = gettext.NullTranslations()
    for mo in sorted(directory.glob("*.mo")):
        with mo.open("rb") as handle:
            translations = gettext.GNUTranslations(handle)
        translations.add_fallback(merged)
        merged = translations
    return merged


def translator(lang: str) -> Callable[[str], str]:
    """A ``gettext`` function bound to ``lang``, whatever the current language."""
    return catalog(normalize_language(lang)).gettext


def _(message: str) -> str:
    """``message`` in the current language."""
    return catalog(_current).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """``singular`` or ``plural`` by ``count``, each looked up as its own message.

    zh_CN has one plural form, so each English form is simply a catalog entry.
    """
    return _(singular if count == 1 else plural)


def route_click_messages() -> None:
    """Send click's own texts (usage, help, its errors) through these catalogs.

    click looks its messages up with ``gettext.gettext`` at call time, through a
    module-level ``_`` in each of its modules; pointing that name at :func:`_`
    makes "Usage:", "Error: ..." and the like follow ``--lang`` like every other
    message.  Their translations live in the ``click`` domain.
    """
    import click.core
    import click.decorators
    import click.exceptions
    import click.formatting
    import click.parser
    import click.termui
    import click.types

    for module in (
        click.core,
        click.decorators,
        click.exceptions,
        click.formatting,
        click.parser,
        click.termui,
        click.types,
    ):
        if getattr(module, "_", None) is gettext.gettext:
            module._ = _  # type: ignore[attr-defined]
        if getattr(module, "ngettext", None) is gettext.ngettext:
            module.ngettext = ngettext  # type: ignore[attr-defined]


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it yet."""
    return message


def compiled_catalog(po: Path) -> bytes:
    """The ``.mo`` bytes of one ``.po``, the same on every run (needs Babel)."""
    import io

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as handle:
        messages = read_po(handle, locale=po.parent.parent.name)
    # Babel stamps "now" where the header has no dates; a fixed stamp keeps the
    # compiled file reproducible, so a test can tell a stale .mo from a fresh one.
    messages.creation_date = _CATALOG_STAMP
    messages.revision_date = _CATALOG_STAMP
    buffer = io.BytesIO()
    write_mo(buffer, messages, use_fuzzy=False)
    return buffer.getvalue()


def compile_catalogs() -> list[Path]:
    """Compile every ``.po`` under ``LOCALE_DIR`` into its ``.mo``."""
    written = []
    for po in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        mo.write_bytes(compiled_catalog(po))
        written.append(mo)
    catalog.cache_clear()
    return written


if __name__ == "__main__":
    for path in compile_catalogs():
        logger.info("compiled %s", path)
