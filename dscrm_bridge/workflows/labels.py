"""Chinese labels of SuiteCRM modules, fields and dropdown values, and their keys.

Owns reading ``mappings/zh_CN/{modules,fields,dropdowns}.yaml`` and the two
directions between what a person types or reads (labels) and what SuiteCRM
stores (keys):

- label -> key: exact, after trimming and Unicode NFKC width folding; the label,
  an accepted synonym or the key itself.  Anything else is an :class:`InputError`
  naming the accepted labels.  Nothing is matched by similarity.
- key -> label: the shipped label; a key the mapping does not know (a value added
  in SuiteCRM's Studio, say) is shown as it is stored.

The mapping files are checked when loaded: a label or synonym that would name two
keys of one list, or a label naming two fields of one module, is a ConfigError.
"""

from __future__ import annotations

import functools
import logging
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dscrm_bridge.errors import ConfigError, InputError
from dscrm_bridge.i18n import _, current_language

logger = logging.getLogger(__name__)

MAPPINGS_DIR = Path(__file__).resolve().parents[2] / "mappings"
DEFAULT_LANGUAGE_DIR = MAPPINGS_DIR / "zh_CN"
_TEMPLATE_PREFIX = "_"  # fields.yaml: YAML anchors merged into modules, not modules


def join_names(names: Iterable[object]) -> str:
    """``names`` listed inside a sentence: 甲、乙 in Chinese, "a, b" in English."""
    return _(", ").join(str(name) for name in names)


def join_problems(problems: Iterable[object]) -> str:
    """Several problems of one record in one line: ；in Chinese, "; " in English."""
    return _("; ").join(str(problem) for problem in problems)


def _labels_shown() -> bool:
    """Whether text is in the labels' language; else SuiteCRM's names are shown."""
    return current_language() == "zh_CN"


def normalize_label(text: str) -> str:
    """``text`` as labels are compared: NFKC (full-width folded), trimmed."""
    return unicodedata.normalize("NFKC", str(text)).strip()


@dataclass(frozen=True)
class DropdownList:
    """One SuiteCRM dropdown list: its keys, their labels and accepted input."""

    name: str
    labels: Mapping[str, str]  # key -> label, in SuiteCRM's order
    accepted: Mapping[str, str]  # normalized label, synonym or key -> key

    def key_for(self, value: str, *, field: str | None = None) -> str:
        """The key that ``value`` (a label, a synonym or the key) names.

        An empty value stays empty: it clears the field.
        """
        text = normalize_label(value)
        if not text:
            return ""
        key = self.accepted.get(text)
        if key is not None:
            return key
        raise InputError(
            _(
                '"{value}" is not a value of {field}; accepted values: {accepted}'
            ).format(
                value=value,
                field=field or self.name,
                accepted=join_names(
                    self.labels.values() if _labels_shown() else self.labels
                ),
            )
        )

    def label_for(self, key: str | None) -> str:
        """The label of ``key``; an unknown key is shown as stored."""
        if key is None:
            return ""
        return self.labels.get(str(key), str(key))

    def accepts(self, value: str) -> bool:
        """Whether :meth:`key_for` would take ``value``."""
        text = normalize_label(value)
        return not text or text in self.accepted


@dataclass(frozen=True)
class Labels:
    """Every shipped label of one language, with lookups both ways."""

    modules: Mapping[str, str]  # module -> label
    fields: Mapping[str, Mapping[str, str]]  # module -> field -> label
    lists: Mapping[str, DropdownList]  # list name -> list
    field_lists: Mapping[tuple[str, str], str]  # (module, field) -> list name

    def module_label(self, module: str) -> str:
        """The module's label; its SuiteCRM name when there is none or the
        messages are not in the labels' language."""
        if not _labels_shown():
            return module
        return self.modules.get(module, module)

    def field_label(self, module: str, field: str) -> str:
        """The field's label; its SuiteCRM name when there is none or the
        messages are not in the labels' language (English)."""
        if not _labels_shown():
            return field
        return self.fields.get(module, {}).get(field, field)

    def field_for(self, module: str, label: str) -> str:
        """The field that ``label`` (or the field's own name) names in ``module``."""
        text = normalize_label(label)
        known = self.fields.get(module, {})
        if text in known:
            return text
        for field, field_label in known.items():
            if normalize_label(field_label) == text:
                return field
        raise InputError(
            _('"{label}" is not a field of {module}; known fields: {known}').format(
                label=label,
                module=self.module_label(module),
                known=join_names(known.values() if _labels_shown() else known),
            )
        )

    def dropdown(self, module: str, field: str) -> DropdownList | None:
        """The dropdown list ``module.field`` takes its values from, if any."""
        name = self.field_lists.get((module, field))
        return self.lists[name] if name else None

    def to_key(self, module: str, field: str, value: Any) -> Any:
        """``value`` as SuiteCRM stores it: a dropdown label becomes its key."""
        options = self.dropdown(module, field)
        if options is None or value is None:
            return value
        return options.key_for(str(value), field=self.field_label(module, field))

    def to_label(self, module: str, field: str, value: Any) -> Any:
        """``value`` as a person reads it: a dropdown key becomes its label."""
        options = self.dropdown(module, field)
        if options is None or value is None:
            return value
        return options.label_for(str(value))

    def to_keys(self, module: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Every dropdown value of ``attributes`` turned into its key."""
        return {
            field: self.to_key(module, field, value)
            for field, value in attributes.items()
        }


def load_labels(directory: Path | None = None) -> Labels:
    """The labels of ``directory`` (default: the shipped zh_CN mappings)."""
    if directory is None:
        return _shipped_labels()
    return _read_labels(Path(directory))


@functools.cache
def _shipped_labels() -> Labels:
    return _read_labels(DEFAULT_LANGUAGE_DIR)


def _read_labels(directory: Path) -> Labels:
    modules_raw = _read_yaml(directory / "modules.yaml")
    fields_raw = _read_yaml(directory / "fields.yaml")
    dropdowns_raw = _read_yaml(directory / "dropdowns.yaml")

    modules = {
        str(name): str(entry.get("zh_CN") or name)
        for name, entry in modules_raw.items()
        if isinstance(entry, Mapping)
    }
    fields = _build_fields(fields_raw, directory / "fields.yaml")
    lists = _build_lists(dropdowns_raw, directory / "dropdowns.yaml")
    field_lists = _build_field_lists(dropdowns_raw, lists, directory)
    return Labels(modules=modules, fields=fields, lists=lists, field_lists=field_lists)


def _read_yaml(path: Path) -> Mapping[str, Any]:
    # Plain safe_load, not the line-aware reader of workflow files: fields.yaml
    # merges its shared field groups with YAML merge keys (<<), which that reader
    # does not construct.
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            _("Cannot read the label mapping {path}: {reason}").format(
                path=path, reason=exc.strerror or exc
            )
        ) from exc
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(
            _("The label mapping {path} is not valid YAML: {reason}").format(
                path=path, reason=exc
            )
        ) from exc
    if not isinstance(data, Mapping):
        raise ConfigError(
            _("The label mapping {path} must be a mapping at the top").format(path=path)
        )
    return data


def _build_fields(raw: Mapping[str, Any], path: Path) -> dict[str, dict[str, str]]:
    fields: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for module, entries in raw.items():
        if str(module).startswith(_TEMPLATE_PREFIX) or not isinstance(entries, Mapping):
            continue
        labels = {str(field): str(label) for field, label in entries.items()}
        problems.extend(
            _duplicates(((normalize_label(v), k) for k, v in labels.items()), module)
        )
        fields[str(module)] = labels
    _raise_problems(path, problems)
    return fields


def _build_lists(raw: Mapping[str, Any], path: Path) -> dict[str, DropdownList]:
    synonyms = raw.get("synonyms") or {}
    problems: list[str] = []
    lists: dict[str, DropdownList] = {}
    for name, entries in (raw.get("lists") or {}).items():
        labels = {str(key): str(label) for key, label in (entries or {}).items()}
        pairs = [(normalize_label(key), key) for key in labels]
        pairs += [(normalize_label(label), key) for key, label in labels.items()]
        for key, extra in (synonyms.get(name) or {}).items():
            if str(key) not in labels:
                problems.append(
                    _("synonyms of {list} name the unknown key {key}").format(
                        list=name, key=key
                    )
                )
            pairs += [(normalize_label(text), str(key)) for text in extra or ()]
        problems.extend(_duplicates(pairs, name))
        lists[str(name)] = DropdownList(
            name=str(name), labels=labels, accepted=dict(pairs)
        )
    for name in synonyms:
        if name not in lists:
            problems.append(
                _("synonyms are given for the unknown list {list}").format(list=name)
            )
    _raise_problems(path, problems)
    return lists


def _build_field_lists(
    raw: Mapping[str, Any], lists: Mapping[str, DropdownList], directory: Path
) -> dict[tuple[str, str], str]:
    field_lists: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    for target, name in (raw.get("fields") or {}).items():
        module, _dot, field = str(target).partition(".")
        if not field or name not in lists:
            problems.append(
                _(
                    "{target} must be Module.field using a known list, not {list}"
                ).format(target=target, list=name)
            )
            continue
        field_lists[(module, field)] = str(name)
    _raise_problems(directory / "dropdowns.yaml", problems)
    return field_lists


def _duplicates(pairs: Iterable[tuple[str, str]], where: object) -> list[str]:
    """Problems for every text that names two different targets."""
    seen: dict[str, str] = {}
    problems = []
    for text, target in pairs:
        if not text:
            continue
        earlier = seen.setdefault(text, target)
        if earlier != target:
            problems.append(
                _('in {where}, "{text}" names both {first} and {second}').format(
                    where=where, text=text, first=earlier, second=target
                )
            )
    return problems


def _raise_problems(path: Path, problems: list[str]) -> None:
    if problems:
        raise ConfigError(
            _("The label mapping {path} is ambiguous").format(path=path),
            problems=problems,
        )
