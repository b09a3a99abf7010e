"""Feed text in zh_CN and en: one sentence per change, e.g. 张三 新建了客户「…」.

Sentences are gettext messages of the ``feed`` domain; module nouns come from
``mappings/zh_CN/modules.yaml``.  Names are inserted as SuiteCRM stores them.
An update lists its field differences after the sentence, in zh_CN with the
field and dropdown labels of ``mappings/zh_CN/fields.yaml`` and
``mappings/zh_CN/dropdowns.yaml`` (销售阶段：初步接洽 -> 方案报价); a field or
value those files do not name is shown by its SuiteCRM key, and in en always.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import yaml

from dscrm_bridge.feed.entry import FeedChange, FieldChange
from dscrm_bridge.feed.schema import FeedAction
from dscrm_bridge.i18n import N_, normalize_language, translator

logger = logging.getLogger(__name__)

MAPPINGS_DIR = Path(__file__).resolve().parents[2] / "mappings"
MODULE_LABELS_FILE = MAPPINGS_DIR / "zh_CN" / "modules.yaml"
FIELD_LABELS_FILE = MAPPINGS_DIR / "zh_CN" / "fields.yaml"
DROPDOWN_LABELS_FILE = MAPPINGS_DIR / "zh_CN" / "dropdowns.yaml"

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
# The same sentences without the actor, for SuiteCRM's sugarfeed table: its
# dashlet puts the acting user in front itself (acl-notes 5, {this.CREATED_BY}).
_ACTORLESS = {
    FeedAction.CREATE: N_("created {module} {name}"),
    FeedAction.UPDATE: N_("updated {module} {name}"),
    FeedAction.DELETE: N_("deleted {module} {name}"),
    FeedAction.RELATE: N_("linked {module} {name} to {related_module} {related_name}"),
    FeedAction.UNRELATE: N_(
        "unlinked {module} {name} from {related_module} {related_name}"
    ),
}
_WITH_CHANGES = N_("{sentence}: {changes}")
_FIELD_CHANGE = N_("{field}: {old} -> {new}")
_CHANGE_SEPARATOR = N_("; ")
_EMPTY_VALUE = N_("(empty)")
_NO_NAME = N_("(no name)")
_UNKNOWN_ACTOR = N_("(unknown user)")


def _load_yaml(path: Path) -> dict[str, Any]:
    # The label files are written by another area and may be absent or still
    # growing: without them every label falls back to SuiteCRM's key.
    try:
        with path.open(encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle) or {}
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        logger.warning("labels in %s cannot be read, keys shown instead: %s", path, exc)
        return {}
    return loaded if isinstance(loaded, dict) else {}


@functools.lru_cache(maxsize=1)
def module_labels() -> dict[str, dict[str, str]]:
    """``{module: {"zh_CN": label, "en": noun}}`` from the shipped mapping."""
    loaded = _load_yaml(MODULE_LABELS_FILE)
    return {str(module): dict(names) for module, names in loaded.items()}


@functools.lru_cache(maxsize=1)
def field_labels() -> dict[str, dict[str, str]]:
    """``{module: {field: zh_CN label}}``; anchors (keys starting ``_``) left out."""
    loaded = _load_yaml(FIELD_LABELS_FILE)
    return {
        str(module): {str(k): str(v) for k, v in fields.items()}
        for module, fields in loaded.items()
        if not str(module).startswith("_") and isinstance(fields, dict)
    }


@functools.lru_cache(maxsize=1)
def dropdown_labels() -> dict[str, dict[str, str]]:
    """``{"Module.field": {key: zh_CN label}}`` for fields that use a dropdown."""
    loaded = _load_yaml(DROPDOWN_LABELS_FILE)
    lists = loaded.get("lists") or {}
    uses = loaded.get("fields") or {}
    return {
        str(field): {str(k): str(v) for k, v in (lists.get(name) or {}).items()}
        for field, name in uses.items()
        if isinstance(lists.get(name), dict)
    }


@functools.lru_cache(maxsize=512)
def _text(lang: str, message: str) -> str:
    # The catalogs never change while the process runs; rendering a batch asks
    # for the same few messages thousands of times.
    return translator(lang)(message)


def module_label(module: str, lang: str) -> str:
    """How ``module`` is named in ``lang``; its SuiteCRM name when unmapped."""
    return module_labels().get(module, {}).get(normalize_language(lang), module)


def field_label(module: str, field: str, lang: str) -> str:
    """A field's label in ``lang`` (zh_CN from the mapping); else its name."""
    if normalize_language(lang) != "zh_CN":
        return field
    return field_labels().get(module, {}).get(field, field)


def value_label(module: str, field: str, value: str, lang: str) -> str:
    """A dropdown key's zh_CN label; any other value (and en) as stored."""
    if normalize_language(lang) != "zh_CN":
        return value
    return dropdown_labels().get(f"{module}.{field}", {}).get(value, value)


def render_text(change: FeedChange, lang: str) -> str:
    """The sentence that tells ``change`` in ``lang``, with its field differences."""
    sentence = _text(lang, _SENTENCES[change.action]).format(
        actor=change.actor_name or _text(lang, _UNKNOWN_ACTOR),
        **_names(change, lang),
    )
    return _with_changes(sentence, change, lang)


def render_sugarfeed_text(change: FeedChange, lang: str) -> str:
    """``change`` as SuiteCRM's sugarfeed stores it: no actor, records as links.

    ``[Module:id:name]`` is the dashlet's link markup (acl-notes 5).
    """
    names = _names(change, lang)
    names["name"] = f"[{change.module}:{change.record_id}:{names['name']}]"
    if change.related_module and change.related_id:
        names["related_name"] = (
            f"[{change.related_module}:{change.related_id}:{names['related_name']}]"
        )
    sentence = _text(lang, _ACTORLESS[change.action]).format(**names)
    return _with_changes(sentence, change, lang)


def render_field_change(module: str, change: FieldChange, lang: str) -> str:
    """One difference, e.g. ``销售阶段：初步接洽 -> 方案报价``."""
    return _text(lang, _FIELD_CHANGE).format(
        field=field_label(module, change.field, lang),
        old=_shown(module, change.field, change.old, change.old_text, lang),
        new=_shown(module, change.field, change.new, change.new_text, lang),
    )


def _names(change: FeedChange, lang: str) -> dict[str, str]:
    return {
        "module": module_label(change.module, lang),
        "name": change.record_name or _text(lang, _NO_NAME),
        "related_module": module_label(change.related_module or "", lang),
        "related_name": change.related_name or _text(lang, _NO_NAME),
    }


def _with_changes(sentence: str, change: FeedChange, lang: str) -> str:
    if not change.field_changes:
        return sentence
    listed = _text(lang, _CHANGE_SEPARATOR).join(
        render_field_change(change.module, item, lang) for item in change.field_changes
    )
    return _text(lang, _WITH_CHANGES).format(sentence=sentence, changes=listed)


def _shown(
    module: str, field: str, value: str | None, text: str | None, lang: str
) -> str:
    if text:
        return text
    if value is None or value == "":
        return _text(lang, _EMPTY_VALUE)
    return value_label(module, field, value, lang)
