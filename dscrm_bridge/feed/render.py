"""Feed text in zh_CN and en: one sentence per change, e.g. 张三 新建了客户「…」.

Sentences are gettext messages of the ``feed`` domain; module nouns come from
``mappings/zh_CN/modules.yaml``.  Names are inserted as SuiteCRM stores them.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from dscrm_bridge.feed.entry import FeedChange
from dscrm_bridge.feed.schema import FeedAction
from dscrm_bridge.i18n import N_, normalize_language, translator

MODULE_LABELS_FILE = (
    Path(__file__).resolve().parents[2] / "mappings" / "zh_CN" / "modules.yaml"
)

_SENTENCES = {
    FeedAction.CREATE: N_('{actor} created {module} "{name}"'),
    FeedAction.UPDATE: N_('{actor} updated {module} "{name}"'),
    FeedAction.DELETE: N_('{actor} deleted {module} "{name}"'),
    FeedAction.RELATE: N_(
        '{actor} linked {module} "{name}" to {related_module} "{related_name}"'
    ),
    FeedAction.UNRELATE: N_(
        '{actor} unlinked {module} "{name}" from {related_module} "{related_name}"'
    ),
}
_NO_NAME = N_("(no name)")
_UNKNOWN_ACTOR = N_("(unknown user)")


@functools.lru_cache(maxsize=1)
def module_labels() -> dict[str, dict[str, str]]:
    """``{module: {"zh_CN": label, "en": noun}}`` from the shipped mapping."""
    with MODULE_LABELS_FILE.open(encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle) or {}
    return {str(module): dict(names) for module, names in loaded.items()}


def module_label(module: str, lang: str) -> str:
    """How ``module`` is named in ``lang``; its SuiteCRM name when unmapped."""
    return module_labels().get(module, {}).get(normalize_language(lang), module)


def render_text(change: FeedChange, lang: str) -> str:
    """The sentence that tells ``change`` in ``lang``."""
    gettext = translator(lang)
    return gettext(_SENTENCES[change.action]).format(
        actor=change.actor_name or gettext(_UNKNOWN_ACTOR),
        module=module_label(change.module, lang),
        name=change.record_name or gettext(_NO_NAME),
        related_module=module_label(change.related_module or "", lang),
        related_name=change.related_name or gettext(_NO_NAME),
    )
