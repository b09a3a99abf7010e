"""Configuration: load once at the entry point, validate all at once, freeze.

Order of precedence: defaults, then the YAML file, then ``DSCRM_*`` environment
variables.  The merged settings are validated against ``schemas/config.schema.json``
and every problem is reported together, each with its key path and, where it came
from the file, its line.  Secrets (passwords, client secrets) come from the
environment only and are kept in :class:`Secret`, which never prints its value.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jsonschema
import yaml

from dscrm_bridge.errors import ConfigError, InputError
from dscrm_bridge.i18n import _
from dscrm_bridge.yamlfile import explain_schema_error, parse_yaml

logger = logging.getLogger(__name__)

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
ENV_PREFIX = "DSCRM_"
DEFAULT_CONFIG_FILE = "dscrm.yaml"

DEFAULTS: dict[str, Any] = {
    "language": "zh_CN",
    "suitecrm": {
        "url": "http://127.0.0.1:8080",
        "api_prefix": "/Api",
        "grant_type": "password",
        "client_id": "",
        "username": "admin",
        "timeout_s": 30,
        "verify_tls": True,
        "database_url": "",
    },
    "bridge": {"database_url": "sqlite:///dscrm-bridge.db"},
    "sync": {
        "modules": [
            "Accounts",
            "Contacts",
            "Opportunities",
            "Notes",
            "Documents",
            "Meetings",
            "Calls",
            "Tasks",
            "Leads",
            "Cases",
        ],
        "batch_size": 500,
        "source": "auto",
        "overlap_s": 30,
        "security_groups": True,
        "bridge_user_ids": [],
        "ignore_api_user": False,
        "interval_s": 60,
        "jobs": [],
        "lease_s": 20,
        "reconcile_interval_s": 3600,
        "writeback": False,
    },
    "web": {
        "host": "127.0.0.1",
        "port": 8000,
        "public_url": "",
        "session_max_age_s": 43200,
        "login_max_failures": 5,
        "login_window_s": 900,
        "page_size": 30,
    },
    "webhook": {
        "url": "",
        "replay_window_s": 300,
    },
    "workflows": {
        "directory": "",
        "timezone": "Asia/Shanghai",
        "import_match_key": "name",
        "import_concurrency": 4,
    },
}

# Secrets: environment variable -> what it is.  Never accepted from the file.
SECRET_ENV = {
    "DSCRM_SUITECRM_CLIENT_SECRET": ("suitecrm", "client_secret"),
    "DSCRM_SUITECRM_PASSWORD": ("suitecrm", "password"),
    "DSCRM_SUITECRM_DATABASE_PASSWORD": ("suitecrm", "database_password"),
    "DSCRM_BRIDGE_DATABASE_PASSWORD": ("bridge", "database_password"),
    "DSCRM_WEB_SESSION_SECRET": ("web", "session_secret"),
    "DSCRM_WEBHOOK_SECRET": ("webhook", "secret"),
    "DSCRM_WORKFLOWS_AS_PASSWORD": ("workflows", "as_password"),
}
_SECRET_KEYS = {
    "password",
    "client_secret",
    "secret",
    "session_secret",
    "database_password",
    "token",
    "as_password",
}


class Secret:
    """A secret value that never shows itself in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value or ""

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class SuiteCRMConfig:
    url: str
    api_prefix: str
    grant_type: str
    client_id: str
    username: str
    timeout_s: float
    verify_tls: bool
    database_url: str
    client_secret: Secret = field(default_factory=lambda: Secret(""))
    password: Secret = field(default_factory=lambda: Secret(""))
    database_password: Secret = field(default_factory=lambda: Secret(""))

    def sql_url(self) -> str:
        """``database_url`` with the password from the environment filled in."""
        return with_password(self.database_url, self.database_password)


@dataclass(frozen=True)
class BridgeConfig:
    database_url: str
    database_password: Secret = field(default_factory=lambda: Secret(""))

    def sql_url(self) -> str:
        return with_password(self.database_url, self.database_password)


@dataclass(frozen=True)
class SyncConfig:
    modules: tuple[str, ...]
    batch_size: int
    # sql (suitecrm.database_url), api (the V8 API) or auto (sql when configured).
    source: str = "auto"
    # Seconds re-read behind each cursor (late commits, same-second saves).
    overlap_s: float = 30
    # Mirror security-group membership of records and of users.
    security_groups: bool = True
    # SuiteCRM user ids whose changes are the bridge's own, never told in the feed.
    bridge_user_ids: tuple[str, ...] = ()
    # Also treat suitecrm.username (the bridge's API user) as the bridge's own.
    ignore_api_user: bool = False
    # `dscrm sync run`: seconds between runs of the default job.
    interval_s: float = 60
    # `dscrm sync run`: jobs per module group, each {name, modules, interval_s|cron}.
    jobs: tuple[dict[str, Any], ...] = ()
    # Seconds a runner's lease on a job lasts unless renewed.
    lease_s: float = 20
    # API source: seconds between id reconciliations that find deleted records.
    reconcile_interval_s: float = 3600
    # Also write feed entries into SuiteCRM's sugarfeed table.
    writeback: bool = False


@dataclass(frozen=True)
class WebConfig:
    host: str
    port: int
    # Where users reach `dscrm serve` (for links in messages); empty: http://host:port
    public_url: str
    # How long a login lasts in the signed session cookie.
    session_max_age_s: int = 43200
    # Failed logins per user name (and per client address) within the window.
    login_max_failures: int = 5
    login_window_s: int = 900
    # Entries per page of the timeline and the API (the API takes ?limit= up to 200).
    page_size: int = 30
    session_secret: Secret = field(default_factory=lambda: Secret(""))


@dataclass(frozen=True)
class WebhookConfig:
    # Where SuiteCRM's plugin posts change events (the bridge's /webhook URL).
    url: str
    replay_window_s: int
    secret: Secret = field(default_factory=lambda: Secret(""))


@dataclass(frozen=True)
class WorkflowsConfig:
    # A directory of the user's own workflow files (*.yaml); empty: shipped only.
    directory: str
    # The time zone of dates and times typed in workflow inputs and import sheets.
    timezone: str
    # Import: which value finds an existing record to update (name, phone, email).
    import_match_key: str
    # Import: requests sent to SuiteCRM at once.
    import_concurrency: int
    # The password of the user named by --as (DSCRM_WORKFLOWS_AS_PASSWORD).
    as_password: Secret = field(default_factory=lambda: Secret(""))


@dataclass(frozen=True)
class Config:
    language: str
    suitecrm: SuiteCRMConfig
    bridge: BridgeConfig
    sync: SyncConfig
    web: WebConfig
    webhook: WebhookConfig
    workflows: WorkflowsConfig
    source: str | None = None
    # Where ``language`` came from: "default", "file" or "env".
    language_origin: str = "default"


# Section name -> its dataclass.  A new section is a dataclass, a DEFAULTS entry,
# a schema entry and a commented block in config.example.yaml.
SECTIONS: dict[str, type] = {
    "suitecrm": SuiteCRMConfig,
    "bridge": BridgeConfig,
    "sync": SyncConfig,
    "web": WebConfig,
    "webhook": WebhookConfig,
    "workflows": WorkflowsConfig,
}


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Load, merge and validate the configuration.

    Args:
        path: the YAML file; ``None`` uses ``dscrm.yaml`` in the current directory
            when it exists, else defaults and environment only.
        env: the environment to read ``DSCRM_*`` from (``os.environ`` by default).

    Raises:
        ConfigError: listing every problem with its key path and line.
    """
    env = os.environ if env is None else env
    file_path = _resolve_path(path)

    data, lines = _read_file(file_path) if file_path else ({}, {})
    problems = _find_secrets_in_file(data, lines)
    overrides, env_problems = _read_env(env)
    problems += env_problems
    merged = _merge(_merge(DEFAULTS, data), overrides)
    problems += _validate(merged, lines, overrides)
    if problems:
        where = str(file_path) if file_path else _("the environment")
        raise ConfigError(
            _("The configuration in {where} is invalid:").format(where=where),
            problems=problems,
        )
    config = _freeze(merged, env, file_path)
    if "language" in overrides:
        return replace(config, language_origin="env")
    if "language" in data:
        return replace(config, language_origin="file")
    return config


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe to show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    if not parts.password:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def with_password(url: str, password: Secret) -> str:
    """Put ``password`` into a database URL that names a user but no password."""
    if not url or not password:
        return url
    from sqlalchemy.engine import make_url

    return (
        make_url(url)
        .set(password=password.reveal())
        .render_as_string(hide_password=False)
    )


def _resolve_path(path: str | os.PathLike[str] | None) -> Path | None:
    if path is not None:
        candidate = Path(path)
        if not candidate.is_file():
            raise ConfigError(
                _(
                    "Configuration file {path} does not exist; "
                    "copy config.example.yaml there or pass --config."
                ).format(path=candidate)
            )
        return candidate
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def _read_file(path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    """Parse the YAML file, keeping the line of every key."""
    try:
        text = path.read_text(encoding="utf-8")
        data, node_lines = parse_yaml(text, str(path))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            _("{path} is not UTF-8 text; save it as UTF-8.").format(path=path)
        ) from exc
    except InputError as exc:
        raise ConfigError(exc.message) from exc
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(
            _("{path}: the top level must be a mapping of settings.").format(path=path)
        )
    # jsonschema reports list positions as numbers; the lookups here use text.
    lines = {tuple(str(part) for part in key): line for key, line in node_lines.items()}
    return data, lines


def _find_secrets_in_file(
    data: Mapping[str, Any], lines: Mapping[tuple[str, ...], int]
) -> list[str]:
    problems = []
    for section, values in data.items():
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            path = (str(section), str(key))
            if key in _SECRET_KEYS:
                problems.append(
                    _describe(path, lines)
                    + _(
                        "secrets are not read from the file; remove it and set "
                        "{env} in the environment instead"
                    ).format(env=ENV_PREFIX + "_".join(path).upper())
                )
            elif key.endswith("database_url") and isinstance(value, str):
                if _url_has_password(value):
                    problems.append(
                        _describe(path, lines)
                        + _(
                            "the URL holds a password; remove it and set {env} "
                            "in the environment instead"
                        ).format(
                            env=ENV_PREFIX + section.upper() + "_DATABASE_PASSWORD"
                        )
                    )
    return problems


def _url_has_password(url: str) -> bool:
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False


def _read_env(env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """``DSCRM_SECTION_KEY`` variables for every scalar setting of the schema."""
    overrides: dict[str, Any] = {}
    problems: list[str] = []
    for path in _setting_paths(DEFAULTS):
        name = ENV_PREFIX + "_".join(path).upper()
        if name not in env:
            continue
        raw = env[name]
        default = _get(DEFAULTS, path)
        if isinstance(default, list):
            value: Any = [item.strip() for item in raw.split(",") if item.strip()]
        elif isinstance(default, str):
            value = raw
        else:
            try:
                value = yaml.safe_load(raw)
            except yaml.YAMLError:
                value = raw
        _put(overrides, path, value)
    return overrides, problems


def _setting_paths(
    tree: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for key, value in tree.items():
        if isinstance(value, dict):
            paths += _setting_paths(value, (*prefix, key))
        else:
            paths.append((*prefix, key))
    return paths


def _get(tree: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def _put(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validate(
    data: Mapping[str, Any],
    lines: Mapping[tuple[str, ...], int],
    overrides: Mapping[str, Any],
) -> list[str]:
    schema = json.loads((SCHEMA_DIR / "config.schema.json").read_text("utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.path)):
        path = tuple(str(p) for p in error.path)
        if error.validator == "additionalProperties":
            problems += _describe_unknown_keys(error, path, data, lines)
            continue
        if _is_secret_path(path):
            continue  # already reported by _find_secrets_in_file
        origin = _describe(path, lines, from_env=_has(overrides, path))
        problems.append(origin + explain_schema_error(error))
    return problems


def _is_secret_path(path: tuple[str, ...]) -> bool:
    return bool(path) and path[-1] in _SECRET_KEYS


def _describe_unknown_keys(
    error: jsonschema.ValidationError,
    path: tuple[str, ...],
    data: Mapping[str, Any],
    lines: Mapping[tuple[str, ...], int],
) -> list[str]:
    known = set(error.schema.get("properties", {}))
    instance = error.instance if isinstance(error.instance, dict) else {}
    problems = []
    for key in instance:
        if key in known or key in _SECRET_KEYS:
            continue
        key_path = (*path, str(key))
        problems.append(
            _describe(key_path, lines)
            + _("unknown setting; known here: {known}").format(
                known=", ".join(sorted(known))
            )
        )
    return problems


def _has(tree: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    for key in path:
        if not isinstance(tree, Mapping) or key not in tree:
            return False
        tree = tree[key]
    return True


def _describe(
    path: tuple[str, ...],
    lines: Mapping[tuple[str, ...], int],
    *,
    from_env: bool = False,
) -> str:
    dotted = ".".join(path) or _("(top level)")
    if from_env:
        env_name = ENV_PREFIX + "_".join(p for p in path if not p.isdigit()).upper()
        return _("{key} (from {env}): ").format(key=dotted, env=env_name)
    line = _nearest_line(path, lines)
    if line is None:
        return dotted + ": "
    return _("{key} (line {line}): ").format(key=dotted, line=line)


def _nearest_line(
    path: tuple[str, ...], lines: Mapping[tuple[str, ...], int]
) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


def _freeze(
    data: Mapping[str, Any], env: Mapping[str, str], source: Path | None
) -> Config:
    secrets: dict[str, dict[str, Secret]] = {}
    for name, (section, key) in SECRET_ENV.items():
        secrets.setdefault(section, {})[key] = Secret(env.get(name))
    sections = {
        name: _build_section(cls, data[name], secrets.get(name, {}))
        for name, cls in SECTIONS.items()
    }
    return Config(
        language=data["language"],
        source=str(source) if source else None,
        **sections,
    )


def _build_section(
    cls: type, values: Mapping[str, Any], secrets: Mapping[str, Secret]
) -> Any:
    """One frozen section: settings converted to the field types, secrets added."""
    kwargs: dict[str, Any] = {}
    for item in fields(cls):
        if item.name in secrets:
            kwargs[item.name] = secrets[item.name]
        elif item.name in values:
            kwargs[item.name] = _convert(item.type, values[item.name])
    return cls(**kwargs)


def _convert(annotation: Any, value: Any) -> Any:
    kind = str(annotation)
    if kind == "float":
        return float(value)
    if kind == "int":
        return int(value)
    if kind == "bool":
        return bool(value)
    if kind.startswith("tuple"):
        return tuple(value)
    if kind == "str" and isinstance(value, str) and value.startswith("http"):
        return value.rstrip("/")
    return value
