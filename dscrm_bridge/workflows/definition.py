"""Workflow definitions: the shipped YAML files, the user's own, and their checks.

A workflow file is validated against ``schemas/workflow.schema.json`` and then
for what a schema cannot say: step ids are unique, every ``$step`` reference
names an earlier step, every ``input`` names a declared input section.  The
shipped workflows live in ``shipped/``; a directory from the configuration
(``workflows.directory``) adds the user's own, and one of those with the name of
a shipped workflow replaces it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import jsonschema

from dscrm_bridge.errors import ConfigError, InputError
from dscrm_bridge.i18n import _
from dscrm_bridge.workflows.labels import join_names
from dscrm_bridge.yamlfile import Path_, parse_yaml

logger = logging.getLogger(__name__)

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "workflow.schema.json"
_REFERENCE = re.compile(r"^\$([a-z][a-z0-9_]*)(?:\.([a-z][a-z0-9_]*))?$")


class Action(Enum):
    FIND = "find"
    CREATE = "create"
    LINK = "link"


class InputKind(Enum):
    RECORD = "record"  # field labels and values of a record to create
    LOOKUP = "lookup"  # the name(s) of existing records


@dataclass(frozen=True)
class InputSection:
    name: str
    module: str
    kind: InputKind
    many: bool
    required: bool
    description: str = ""


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    action: Action
    module: str = ""
    input: str | None = None
    match: str = "name"
    within: tuple[str, str] | None = None  # (reference, link)
    set: Mapping[str, Any] = field(default_factory=dict)
    record: str | None = None
    link: str | None = None
    records: str | None = None


@dataclass(frozen=True)
class Workflow:
    name: str
    description: str
    inputs: Mapping[str, InputSection]
    steps: tuple[Step, ...]
    example: Mapping[str, Any]
    path: Path
    shipped: bool


@dataclass(frozen=True)
class Reference:
    """``$step`` (the step's record id) or ``$step.field`` (one attribute)."""

    step: str
    field: str | None


def parse_reference(value: Any) -> Reference | None:
    """The reference ``value`` holds, or None when it is a plain value."""
    if not isinstance(value, str):
        return None
    match = _REFERENCE.match(value)
    return Reference(match.group(1), match.group(2)) if match else None


def load_workflow(path: Path, *, shipped: bool = False) -> Workflow:
    """Read, validate and check one workflow file."""
    raw = read_yaml_file(path)
    problems = [_schema_problem(error) for error in _validator().iter_errors(raw)]
    if problems:
        raise ConfigError(
            _("The workflow file {path} is invalid:").format(path=path),
            problems=problems,
        )
    workflow = _build(raw, path, shipped=shipped)
    problems = _check_references(workflow)
    if problems:
        raise ConfigError(
            _("The workflow file {path} is invalid:").format(path=path),
            problems=problems,
        )
    return workflow


def available_workflows(user_dir: str | Path | None = None) -> dict[str, Workflow]:
    """Every workflow by name: the shipped ones, then the user's (replacing)."""
    found = {wf.name: wf for wf in _load_dir(SHIPPED_DIR, shipped=True)}
    if user_dir:
        directory = Path(user_dir).expanduser()
        if not directory.is_dir():
            raise ConfigError(
                _(
                    "The workflow directory {path} does not exist; create it or "
                    "fix workflows.directory"
                ).format(path=directory)
            )
        for workflow in _load_dir(directory, shipped=False):
            if workflow.name in found:
                logger.info(
                    "workflow %s from %s replaces the shipped one",
                    workflow.name,
                    workflow.path,
                )
            found[workflow.name] = workflow
    return found


def find_workflow(name: str, user_dir: str | Path | None = None) -> Workflow:
    """The workflow called ``name`` (its Chinese name or its file name)."""
    workflows = available_workflows(user_dir)
    if name in workflows:
        return workflows[name]
    for workflow in workflows.values():
        if workflow.path.stem == name:
            return workflow
    raise InputError(
        _("There is no workflow {name}; available: {known}").format(
            name=name, known=join_names(workflows)
        )
    )


def _load_dir(directory: Path, *, shipped: bool) -> list[Workflow]:
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    return [load_workflow(path, shipped=shipped) for path in paths]


def read_yaml_file(path: Path) -> Any:
    """The YAML document in ``path``; a repeated key or broken YAML names its line."""
    data, _lines = read_yaml_lines(path)
    return data


def read_yaml_lines(path: Path) -> tuple[Any, dict[Path_, int]]:
    """Like :func:`read_yaml_file`, with the line of every key and list item."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            _("Cannot read {path}: {reason}").format(
                path=path, reason=exc.strerror or exc
            ),
            path=str(path),
        ) from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            _("{path} is not UTF-8 text; save it as UTF-8").format(path=path),
            path=str(path),
        ) from exc
    return parse_yaml(text, str(path))


_VALIDATOR: list[jsonschema.protocols.Validator] = []


def _validator() -> jsonschema.protocols.Validator:
    if not _VALIDATOR:
        schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
        _VALIDATOR.append(jsonschema.Draft202012Validator(schema))
    return _VALIDATOR[0]


def _schema_problem(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or _("(top level)")
    return f"{where}: {error.message}"


def _build(raw: Mapping[str, Any], path: Path, *, shipped: bool) -> Workflow:
    inputs = {
        str(name): InputSection(
            name=str(name),
            module=spec["module"],
            kind=InputKind(spec.get("kind", "record")),
            many=bool(spec.get("many", False)),
            required=bool(spec.get("required", True)),
            description=str(spec.get("description", "")),
        )
        for name, spec in raw["inputs"].items()
    }
    steps = tuple(
        Step(
            id=spec["id"],
            title=spec["title"],
            action=Action(spec["action"]),
            module=spec.get("module", ""),
            input=spec.get("input"),
            match=spec.get("match", "name"),
            within=(
                (spec["within"]["record"], spec["within"]["link"])
                if "within" in spec
                else None
            ),
            set=dict(spec.get("set") or {}),
            record=spec.get("record"),
            link=spec.get("link"),
            records=spec.get("records"),
        )
        for spec in raw["steps"]
    )
    return Workflow(
        name=raw["name"],
        description=raw.get("description", ""),
        inputs=inputs,
        steps=steps,
        example=dict(raw.get("example") or {}),
        path=path,
        shipped=shipped,
    )


def _check_references(workflow: Workflow) -> list[str]:
    problems: list[str] = []
    earlier: set[str] = set()
    for step in workflow.steps:
        where = f"steps/{step.id}"
        if step.id in earlier:
            problems.append(_("{where}: the step id is used twice").format(where=where))
        if step.input is not None:
            section = workflow.inputs.get(step.input)
            if section is None:
                problems.append(
                    _("{where}: input {input} is not declared under inputs").format(
                        where=where, input=step.input
                    )
                )
            elif (section.kind is InputKind.LOOKUP) != (step.action is Action.FIND):
                problems.append(
                    _(
                        "{where}: a find step reads a lookup input and a create "
                        "step a record input ({input})"
                    ).format(where=where, input=step.input)
                )
        for value in _references_of(step):
            reference = parse_reference(value)
            if reference is None or reference.step not in earlier:
                problems.append(
                    _("{where}: {value} does not name an earlier step").format(
                        where=where, value=value
                    )
                )
        earlier.add(step.id)
    return problems


def _references_of(step: Step) -> list[str]:
    values = [v for v in step.set.values() if isinstance(v, str) and v.startswith("$")]
    values += [v for v in (step.record, step.records) if v]
    if step.within:
        values.append(step.within[0])
    return values
