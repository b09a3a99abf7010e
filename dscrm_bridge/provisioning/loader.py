"""Reading a roles file (and the shipped presets) into a :class:`RolesSpec`.

Every problem is found before anything is written and reported together, each
as ``file:line: what is wrong; the fix`` (YAML syntax, unknown module, action or
level, a level the action does not offer, duplicate names, references to groups,
roles or users the file does not declare, unknown presets, passwords in the file).
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema

from dscrm_bridge.config import SCHEMA_DIR
from dscrm_bridge.i18n import _
from dscrm_bridge.provisioning.model import (
    ACCESS_SYNONYMS,
    ACTION_WORDS,
    ALLOWED_LEVELS,
    CANONICAL_WORDS,
    LEVEL_WORDS,
    NOT_IN_MATRIX,
    STANDARD_MODULES,
    SUITECRM_MODULES,
    USER_STATUSES,
    Cell,
    GroupSpec,
    RoleSpec,
    RolesSpec,
    UserSpec,
    split_full_name,
)
from dscrm_bridge.suitecrm.acl import (
    ACL_ALLOW_ALL,
    ACL_ALLOW_DEFAULT,
    ACL_ALLOW_DISABLED,
    ACL_ALLOW_ENABLED,
    ACL_ALLOW_NONE,
    MODULE_ACTIONS,
)
from dscrm_bridge.yamlfile import Path_, Problems, explain_schema_error, read_yaml

logger = logging.getLogger(__name__)

PRESET_DIR = Path(__file__).parent / "presets"
SCHEMA_FILE = SCHEMA_DIR / "roles.schema.json"
ALL_MODULES_KEY = "*"
# Words a roles file may use where it takes true or false (prune, admin).
BOOLEAN_WORDS: Mapping[str, bool] = {"是": True, "否": False, "真": True, "假": False}

# One word for a whole module row (see the schema's description of "modules").
ROW_WORDS: Mapping[int, Mapping[str, int]] = {
    ACL_ALLOW_ALL: {
        action: (ACL_ALLOW_ENABLED if action == "access" else ACL_ALLOW_ALL)
        for action in MODULE_ACTIONS
    },
    ACL_ALLOW_NONE: {
        action: (ACL_ALLOW_DISABLED if action == "access" else ACL_ALLOW_NONE)
        for action in MODULE_ACTIONS
    },
    ACL_ALLOW_DISABLED: {"access": ACL_ALLOW_DISABLED},
    ACL_ALLOW_DEFAULT: dict.fromkeys(MODULE_ACTIONS, ACL_ALLOW_DEFAULT),
}


def load_roles_file(
    path: str | Path, *, known_modules: Iterable[str] | None = None
) -> RolesSpec:
    """The desired state of the roles file ``path``.

    ``known_modules`` adds modules of a live SuiteCRM's matrix (custom modules)
    to the stock ones.

    Raises:
        InputError: listing every problem with its line and the fix.
    """
    data, lines = read_yaml(Path(path))
    return build_spec(data, lines, str(path), known_modules=known_modules)


def build_spec(
    data: Any,
    lines: Mapping[Path_, int],
    source: str,
    *,
    known_modules: Iterable[str] | None = None,
) -> RolesSpec:
    """A :class:`RolesSpec` from parsed YAML; see :func:`load_roles_file`."""
    problems = Problems(source, lines)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.add(
            (),
            _(
                "the top level must be a mapping with groups:, roles: and users:; "
                "see the example in the README."
            ),
        )
        problems.raise_if_any()
    _read_boolean_words(data)
    if not _check_schema(data, problems):
        problems.raise_if_any()

    modules = _module_names(known_modules)
    roles = _read_roles(data.get("roles") or [], modules, problems)
    groups = _read_groups(data.get("groups") or [], problems)
    users = _read_users(data.get("users") or [], problems)
    _add_preset_roles(groups, users, roles, problems)
    _check_references(groups, roles, users, problems)
    problems.raise_if_any()
    return RolesSpec(
        path=source,
        prune=bool(data.get("prune", False)),
        groups=groups,
        roles=roles,
        users=users,
    )


# -- structure ----------------------------------------------------------------


def _read_boolean_words(data: dict[str, Any]) -> None:
    """Turn 是/否 and 真/假 into true/false where the file takes a boolean."""
    users = data.get("users")
    places = [(data, "prune")]
    if isinstance(users, list):
        places += [(user, "admin") for user in users if isinstance(user, dict)]
    for place, key in places:
        value = place.get(key)
        if isinstance(value, str) and value.strip() in BOOLEAN_WORDS:
            place[key] = BOOLEAN_WORDS[value.strip()]


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _check_schema(data: Mapping[str, Any], problems: Problems) -> bool:
    """Report what the schema refuses; False when the shape is too broken to go on."""
    usable = True
    for error in _validator().iter_errors(data):
        path: Path_ = tuple(error.absolute_path)
        if len(path) >= 3 and path[0] == "roles" and path[2] == "modules":
            continue  # modules, actions and levels get their own messages below
        if _is_password_key(error):
            continue
        where = path
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema["properties"]))
            where = (*path, extra[0])  # the line of the unknown key itself
        problems.add(where, _schema_message(error, path))
        usable = usable and error.validator in ("additionalProperties", "enum")
    return usable


def _is_password_key(error: jsonschema.ValidationError) -> bool:
    return (
        error.validator == "additionalProperties"
        and isinstance(error.instance, dict)
        and "password" in error.instance
        and "user_name" in error.instance
    )


def _schema_message(error: jsonschema.ValidationError, path: Path_) -> str:
    where = ".".join(str(part) for part in path) or _("the top level")
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return _(
            "{where}: unknown key {keys}; the keys allowed here are: {allowed}."
        ).format(where=where, keys=", ".join(extra), allowed=", ".join(allowed))
    message = explain_schema_error(error)
    if error.validator == "required":
        return _("{where}: {message}; add it.").format(where=where, message=message)
    return _("{where}: {message}; fix the value.").format(where=where, message=message)


# -- roles --------------------------------------------------------------------


def _module_names(known: Iterable[str] | None) -> dict[str, str]:
    """Every word that names a module of the matrix -> the module name."""
    names = {name: name for name in SUITECRM_MODULES}
    for name in known or ():
        if name not in NOT_IN_MATRIX:
            names[name] = name
    for module, label in STANDARD_MODULES.items():
        names.setdefault(label, module)
    return names


def _read_roles(
    entries: list[dict[str, Any]], modules: Mapping[str, str], problems: Problems
) -> dict[str, RoleSpec]:
    roles: dict[str, RoleSpec] = {}
    for index, entry in enumerate(entries):
        path: Path_ = ("roles", index)
        name = str(entry["name"]).strip()
        if _is_duplicate(name, roles, path, problems, _("role")):
            continue
        cells: dict[Cell, int] = {}
        description = entry.get("description")
        base = entry.get("extends")
        if base is not None:
            preset = presets().get(str(base))
            if preset is None:
                problems.add(
                    (*path, "extends"),
                    _(
                        "role {role}: extends {preset}, which is not a preset; use "
                        "one of: {presets} (dscrm roles presets)."
                    ).format(
                        role=name, preset=base, presets=", ".join(sorted(presets()))
                    ),
                )
            else:
                cells.update(preset.cells)
                if description is None:
                    description = preset.description
        cells.update(
            _read_matrix(
                name, entry.get("modules") or {}, (*path, "modules"), modules, problems
            )
        )
        roles[name] = RoleSpec(
            name=name,
            description=None if description is None else str(description),
            cells={cell: level for cell, level in cells.items()},
            line=problems.line_of(path),
        )
    return roles


def _read_matrix(
    role: str,
    rows: Mapping[str, Any],
    path: Path_,
    modules: Mapping[str, str],
    problems: Problems,
) -> dict[Cell, int]:
    """The cells of a role's ``modules:``; "*" rows apply first, then each module."""
    cells: dict[Cell, int] = {}
    ordered = sorted(rows.items(), key=lambda item: item[0] != ALL_MODULES_KEY)
    for key, row in ordered:
        row_path = (*path, key)
        if key == ALL_MODULES_KEY:
            targets = sorted(set(modules.values()))
        elif key in modules:
            targets = [modules[key]]
        else:
            problems.add(row_path, _unknown_module(role, key, modules))
            continue
        levels = _read_row(role, key, row, row_path, problems)
        for module in targets:
            for action, level in levels.items():
                cells[(module, action)] = level
    return cells


def _unknown_module(role: str, key: str, modules: Mapping[str, str]) -> str:
    close = difflib.get_close_matches(key, list(modules), n=1)
    hint = (
        _("did you mean {name}?").format(name=close[0])
        if close
        else _(
            "use SuiteCRM's module name (Accounts, Contacts ...) or its Chinese "
            "label (客户, 联系人 ...)."
        )
    )
    return _("role {role}: unknown module {module}; {hint}").format(
        role=role, module=key, hint=hint
    )


def _read_row(
    role: str, module: str, row: Any, path: Path_, problems: Problems
) -> dict[str, int]:
    if isinstance(row, list):
        if len(row) != len(MODULE_ACTIONS):
            problems.add(
                path,
                _(
                    "role {role}, module {module}: a list needs exactly 8 levels in "
                    "the order {actions}; it has {count}."
                ).format(
                    role=role,
                    module=module,
                    actions=", ".join(MODULE_ACTIONS),
                    count=len(row),
                ),
            )
            return {}
        items = [
            ((*path, i), a, v)
            for i, (a, v) in enumerate(zip(MODULE_ACTIONS, row, strict=True))
        ]
        return _read_cells(role, module, items, problems)
    if isinstance(row, dict):
        items = []
        for word, value in row.items():
            action = ACTION_WORDS.get(str(word).strip().lower())
            if action is None:
                problems.add(
                    (*path, word),
                    _(
                        "role {role}, module {module}: unknown action {action}; use "
                        "one of {actions} (or 访问, 查看, 列表, 编辑, 删除, 导入, "
                        "导出, 批量更新)."
                    ).format(
                        role=role,
                        module=module,
                        action=word,
                        actions=", ".join(MODULE_ACTIONS),
                    ),
                )
                continue
            items.append(((*path, word), action, value))
        return _read_cells(role, module, items, problems)
    level = _level_of(row)
    if level is None or level not in ROW_WORDS:
        problems.add(
            path,
            _(
                "role {role}, module {module}: {value!r} cannot stand for a whole "
                "row; write all, none, disabled or not_set, a mapping of actions, or "
                "a list of the 8 levels."
            ).format(role=role, module=module, value=row),
        )
        return {}
    return dict(ROW_WORDS[level])


def _read_cells(
    role: str,
    module: str,
    items: list[tuple[Path_, str, Any]],
    problems: Problems,
) -> dict[str, int]:
    cells: dict[str, int] = {}
    for path, action, value in items:
        level = _level_of(value)
        if level is not None and action == "access":
            level = ACCESS_SYNONYMS.get(level, level)
        if level is None:
            problems.add(
                path,
                _(
                    "role {role}, {module}.{action}: unknown level {value!r}; use "
                    "all/全部, group/组, owner/所有者, none/无 or not_set/未设置 "
                    "(access: enabled/启用, disabled/禁用)."
                ).format(role=role, module=module, action=action, value=value),
            )
            continue
        if level not in ALLOWED_LEVELS[action]:
            allowed = sorted(ALLOWED_LEVELS[action], reverse=True)
            problems.add(
                path,
                _(
                    "role {role}, {module}.{action}: SuiteCRM does not offer "
                    "{value} for {action}; use one of: {allowed}."
                ).format(
                    role=role,
                    module=module,
                    action=action,
                    value=value,
                    allowed=", ".join(CANONICAL_WORDS[lv] for lv in allowed),
                ),
            )
            continue
        cells[action] = level
    return cells


def _level_of(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in CANONICAL_WORDS else None
    if isinstance(value, str):
        return LEVEL_WORDS.get(value.strip().lower())
    return None


# -- groups and users ---------------------------------------------------------


def _is_duplicate(
    name: str, seen: Mapping[str, Any], path: Path_, problems: Problems, kind: str
) -> bool:
    key = name.casefold()
    for other, spec in seen.items():
        if other.casefold() == key:
            problems.add(
                path,
                _(
                    "{kind} {name} is declared twice (first on line {line}); merge "
                    "the two entries into one."
                ).format(kind=kind, name=name, line=spec.line),
            )
            return True
    return False


def _name_set(
    values: list[Any] | None, path: Path_, problems: Problems
) -> frozenset[str] | None:
    if values is None:
        return None
    names: list[str] = []
    for index, value in enumerate(values):
        name = str(value).strip()
        if name in names:
            problems.add(
                (*path, index),
                _("{name} is listed twice here; remove one.").format(name=name),
            )
        names.append(name)
    return frozenset(names)


def _read_groups(
    entries: list[dict[str, Any]], problems: Problems
) -> dict[str, GroupSpec]:
    groups: dict[str, GroupSpec] = {}
    for index, entry in enumerate(entries):
        path: Path_ = ("groups", index)
        name = str(entry["name"]).strip()
        if _is_duplicate(name, groups, path, problems, _("group")):
            continue
        description = entry.get("description")
        groups[name] = GroupSpec(
            name=name,
            description=None if description is None else str(description),
            roles=_name_set(entry.get("roles"), (*path, "roles"), problems),
            members=_name_set(entry.get("members"), (*path, "members"), problems),
            line=problems.line_of(path),
        )
    return groups


def _read_users(
    entries: list[dict[str, Any]], problems: Problems
) -> dict[str, UserSpec]:
    users: dict[str, UserSpec] = {}
    for index, entry in enumerate(entries):
        path: Path_ = ("users", index)
        user_name = str(entry["user_name"]).strip()
        if "password" in entry:
            problems.add(
                (*path, "password"),
                _(
                    "user {user}: passwords are not read from roles files; remove "
                    "password and set password_env to the name of an environment "
                    "variable holding it (or leave both out to generate one)."
                ).format(user=user_name),
            )
        if _is_duplicate(user_name, users, path, problems, _("user")):
            continue
        first, last = _user_names(entry)
        users[user_name] = UserSpec(
            user_name=user_name,
            first_name=first,
            last_name=last,
            status=_status(entry.get("status")),
            is_admin=entry.get("admin"),
            groups=_name_set(entry.get("groups"), (*path, "groups"), problems),
            roles=_name_set(entry.get("roles"), (*path, "roles"), problems),
            password_env=entry.get("password_env"),
            email=entry.get("email"),
            title=entry.get("title"),
            department=entry.get("department"),
            line=problems.line_of(path),
        )
    return users


def _status(value: Any) -> str | None:
    if value is None:
        return None
    return USER_STATUSES[str(value).lower()]


def _user_names(entry: Mapping[str, Any]) -> tuple[str | None, str | None]:
    if "first_name" in entry or "last_name" in entry:
        return str(entry.get("first_name") or ""), str(entry.get("last_name") or "")
    if entry.get("full_name"):
        return split_full_name(str(entry["full_name"]))
    return None, None  # the name is not managed by the file


def _add_preset_roles(
    groups: Mapping[str, GroupSpec],
    users: Mapping[str, UserSpec],
    roles: dict[str, RoleSpec],
    problems: Problems,
) -> None:
    """A role named like a preset and not declared is that preset."""
    wanted = {name for g in groups.values() for name in (g.roles or ())}
    wanted |= {name for u in users.values() for name in (u.roles or ())}
    for name in sorted(wanted - set(roles)):
        preset = presets().get(name)
        if preset is not None:
            roles[name] = preset


def _check_references(
    groups: Mapping[str, GroupSpec],
    roles: Mapping[str, RoleSpec],
    users: Mapping[str, UserSpec],
    problems: Problems,
) -> None:
    def check(
        path: Path_,
        owner: str,
        names: Iterable[str],
        kind: str,
        declared: Mapping[str, Any],
        section: str,
    ) -> None:
        for index, name in enumerate(sorted(names)):
            if name in declared:
                continue
            close = difflib.get_close_matches(name, list(declared), n=1)
            hint = _("did you mean {name}?").format(name=close[0]) if close else ""
            problems.add(
                (*path, index),
                _(
                    "{owner}: {kind} {name} does not exist in this file; declare "
                    "it under {section}: or fix the name. {hint}"
                )
                .format(owner=owner, kind=kind, name=name, section=section, hint=hint)
                .strip(),
            )

    for index, group in enumerate(groups.values()):
        owner = _("group {name}").format(name=group.name)
        path: Path_ = ("groups", index)
        check((*path, "roles"), owner, group.roles or (), _("role"), roles, "roles")
        check((*path, "members"), owner, group.members or (), _("user"), users, "users")
    for index, user in enumerate(users.values()):
        owner = _("user {name}").format(name=user.user_name)
        path = ("users", index)
        check((*path, "groups"), owner, user.groups or (), _("group"), groups, "groups")
        check((*path, "roles"), owner, user.roles or (), _("role"), roles, "roles")


# -- presets ------------------------------------------------------------------


@functools.cache
def presets() -> dict[str, RoleSpec]:
    """The shipped presets by name (销售总监, 销售经理 ...), read once."""
    found: dict[str, RoleSpec] = {}
    for path in sorted(PRESET_DIR.glob("*.yaml")):
        data, lines = read_yaml(path)
        problems = Problems(str(path), lines)
        _check_schema({"roles": [data]}, problems)
        problems.raise_if_any()
        modules = _module_names(None)
        cells = _read_matrix(
            data["name"], data.get("modules") or {}, ("modules",), modules, problems
        )
        problems.raise_if_any()
        found[data["name"]] = RoleSpec(
            name=data["name"],
            description=str(data.get("description") or ""),
            cells=cells,
            line=1,
        )
    return found


def preset_file(name: str) -> Path | None:
    """The YAML file of preset ``name``, to show it as shipped."""
    for path in sorted(PRESET_DIR.glob("*.yaml")):
        data, _lines = read_yaml(path)
        if isinstance(data, dict) and data.get("name") == name:
            return path
    return None
