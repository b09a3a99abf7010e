"""YAML read with the line of every value, and problems reported as file:line.

Also owns :func:`explain_schema_error`: one JSON-schema refusal in the product's
language, for every file checked against a schema (configuration, roles).

PyYAML's ``safe_load`` forgets where a value came from and lets a repeated key
silently replace the first; every file a user writes (configuration, roles,
workflows) needs both, so the node tree is turned into plain data here,
remembering each path's line and refusing repeated keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from dscrm_bridge.errors import InputError
from dscrm_bridge.i18n import _

Path_ = tuple[str | int, ...]


@dataclass
class Problems:
    """Problems found in one file, each with its line and the fix."""

    source: str
    lines: Mapping[Path_, int] = field(default_factory=dict)
    found: list[tuple[int, str]] = field(default_factory=list)

    def line_of(self, path: Path_) -> int:
        """The line of ``path``, or of its nearest parent that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 1

    def add(self, path: Path_, message: str) -> None:
        self.found.append((self.line_of(path), message))

    def raise_if_any(self) -> None:
        if not self.found:
            return
        ordered = sorted(dict.fromkeys(self.found))
        text = "\n".join(
            f"{self.source}:{line}: {message}" for line, message in ordered
        )
        first_line = ordered[0][0]
        raise InputError(
            _("{count} problem(s) in {path}; nothing was changed:\n{problems}").format(
                count=len(ordered), path=self.source, problems=text
            ),
            path=self.source,
            line=first_line,
        )


def read_yaml(path: Path) -> tuple[Any, dict[Path_, int]]:
    """The data of the YAML file ``path`` and the line of every key and item."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(
            _("{path} does not exist; give the path of a roles file.").format(
                path=path
            ),
            path=str(path),
        ) from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            _("{path} is not UTF-8 text; save it as UTF-8.").format(path=path),
            path=str(path),
        ) from exc
    return parse_yaml(text, str(path))


def parse_yaml(text: str, source: str) -> tuple[Any, dict[Path_, int]]:
    """Like :func:`read_yaml` for text already read; ``source`` names it."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(
            _(
                "{path}:{line}: this is not valid YAML ({problem}); fix the syntax "
                "there (indentation, a missing colon or quote)."
            ).format(path=source, line=line, problem=problem),
            path=source,
            line=line,
        ) from exc
    lines: dict[Path_, int] = {}
    problems = Problems(source, lines)
    data = _to_data(node, (), lines, problems)
    problems.raise_if_any()
    return data, lines


_SCALARS = yaml.constructor.SafeConstructor()


def _to_data(
    node: yaml.Node | None, path: Path_, lines: dict[Path_, int], problems: Problems
) -> Any:
    if node is None:
        return None
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _SCALARS.construct_object(key_node)
            key = str(key) if not isinstance(key, str) else key
            key_path = (*path, key)
            if key in result:
                lines[key_path + ("#again",)] = key_node.start_mark.line + 1
                problems.add(
                    key_path + ("#again",),
                    _(
                        "{key} appears twice in the same mapping (first on line "
                        "{line}); keep one."
                    ).format(key=key, line=lines[key_path]),
                )
                continue
            lines[key_path] = key_node.start_mark.line + 1
            result[key] = _to_data(value_node, key_path, lines, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            items.append(_to_data(item, (*path, index), lines, problems))
        return items
    return _SCALARS.construct_object(node)


def explain_schema_error(error: jsonschema.ValidationError) -> str:
    """What ``error`` refuses, in the product's language (never jsonschema's)."""
    value = error.instance
    if error.validator == "type":
        return _("expected {expected}, got {value!r}").format(
            expected=_type_name(error.validator_value), value=value
        )
    if error.validator == "enum":
        return _("{value!r} is not one of {choices}").format(
            value=value, choices=", ".join(map(str, error.validator_value))
        )
    if error.validator == "pattern":
        return _("{value!r} does not have the expected form ({pattern})").format(
            value=value, pattern=error.validator_value
        )
    if error.validator == "required":
        present = value if isinstance(value, Mapping) else {}
        missing = [key for key in error.validator_value if key not in present]
        return _("{keys} is missing").format(keys=", ".join(missing))
    if error.validator == "additionalProperties":
        return _("unknown key here")
    limits = {
        "minimum": _("{value!r} is too small; the least allowed is {limit}"),
        "exclusiveMinimum": _("{value!r} is too small; it must be more than {limit}"),
        "maximum": _("{value!r} is too large; the most allowed is {limit}"),
        "minLength": _("must not be empty"),
        "maxLength": _("{value!r} is too long; at most {limit} characters"),
        "minItems": _("the list needs at least {limit} items"),
        "maxItems": _("the list takes at most {limit} items"),
    }
    if error.validator in limits:
        return limits[str(error.validator)].format(
            value=value, limit=error.validator_value
        )
    if error.validator == "uniqueItems":
        return _("the list repeats an item")
    if error.validator in ("oneOf", "anyOf"):
        return _("{value!r} is not one of the accepted forms").format(value=value)
    return _("{value!r} is not accepted here").format(value=value)


def _type_name(expected: object) -> str:
    names = {
        "string": _("a string"),
        "integer": _("a whole number"),
        "number": _("a number"),
        "boolean": _("true or false"),
        "array": _("a list"),
        "object": _("a mapping"),
    }
    if isinstance(expected, list):
        return " / ".join(names.get(str(e), str(e)) for e in expected)
    return names.get(str(expected), str(expected))
