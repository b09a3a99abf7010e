"""The SuiteCRM Module Loader package of the bridge: files, manifest and zip.

The package is generated from the bridge's configuration (``webhook.url`` and
``sync.modules``) and installs, through SuiteCRM's own Module Loader:

- ``custom/include/DscrmBridge/`` with the hook class (``php/DscrmBridgeHook.php``)
  and its generated ``settings.php`` (webhook URL, synced modules, timeouts);
- ``logic_hooks`` entries (after_save, after_delete, after_relationship_add,
  after_relationship_delete) on each synced module, which SuiteCRM writes into
  ``custom/modules/<Module>/logic_hooks.php`` and removes on uninstall;
- a ``vardefs`` extension per synced module (installed into
  ``custom/Extension/modules/<Module>/Ext/Vardefs/``) declaring an index on
  ``(date_modified, id)``, so that SuiteCRM's Repair creates and keeps it;
- ``language`` extensions (en_us, zh_cn) for the labels the package adds.

Those installdefs keys and target paths follow SuiteCRM's ModuleInstaller
(``ModuleInstall/ModuleInstaller.php`` and ``ModuleInstall/extensions.php`` in
salesagility/SuiteCRM): ``logic_hooks`` items carry module/hook/order/
description/file/class/function, ``vardefs`` items from/to_module, ``language``
items from/to_module/language.

The shared secret is NOT in the package: the hook reads it from SuiteCRM's
configuration (``$sugar_config['dscrm_bridge']['webhook_secret']``, set by the
administrator in ``config_override.php``), so the zip can be stored and passed
around freely and the secret rotates without rebuilding it.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dscrm_bridge.config import Config
from dscrm_bridge.errors import InputError
from dscrm_bridge.i18n import _
from dscrm_bridge.plugin.signing import EVENTS

logger = logging.getLogger(__name__)

PHP_DIR = Path(__file__).parent / "php"
PACKAGE_ID = "dscrm_bridge_events"
HOOK_CLASS = "DscrmBridgeHook"
INSTALL_DIR = "custom/include/DscrmBridge"
HOOK_ORDER = 100
CONNECT_TIMEOUT_MS = 500
TOTAL_TIMEOUT_MS = 1500
INDEX_FIELDS = ("date_modified", "id")
DEFAULT_OUTPUT = "dscrm-bridge-suitecrm-plugin.zip"

# Module -> (vardefs dictionary key, table).  Cases keep their bean under
# $dictionary['Case'] although the class is aCase.
MODULES: dict[str, tuple[str, str]] = {
    "Accounts": ("Account", "accounts"),
    "Contacts": ("Contact", "contacts"),
    "Opportunities": ("Opportunity", "opportunities"),
    "Notes": ("Note", "notes"),
    "Documents": ("Document", "documents"),
    "Meetings": ("Meeting", "meetings"),
    "Calls": ("Call", "calls"),
    "Tasks": ("Task", "tasks"),
    "Leads": ("Lead", "leads"),
    "Cases": ("Case", "cases"),
}

_HOOK_METHODS = {
    "after_save": "afterSave",
    "after_delete": "afterDelete",
    "after_relationship_add": "afterRelationshipAdd",
    "after_relationship_delete": "afterRelationshipDelete",
}

# Labels the package adds, by SuiteCRM language code.
LABELS: dict[str, dict[str, str]] = {
    "en_us": {
        "LBL_DSCRM_BRIDGE_EVENTS": "dscrm-bridge change events",
        "LBL_DSCRM_BRIDGE_EVENTS_HELP": (
            "Tells dscrm-bridge about every record saved, deleted, linked or "
            "unlinked, so that its feed follows at once."
        ),
        "LBL_DSCRM_BRIDGE_MODIFIED_INDEX": (
            "Index on date modified and id, read by dscrm-bridge's sync"
        ),
    },
    "zh_cn": {
        "LBL_DSCRM_BRIDGE_EVENTS": "dscrm-bridge 变更通知",
        "LBL_DSCRM_BRIDGE_EVENTS_HELP": (
            "记录保存、删除、关联或取消关联时立即通知 dscrm-bridge，动态随即更新。"
        ),
        "LBL_DSCRM_BRIDGE_MODIFIED_INDEX": (
            "修改时间与 id 索引（供 dscrm-bridge 同步读取）"
        ),
    },
}


@dataclass(frozen=True)
class PluginSettings:
    """What the package is generated from."""

    webhook_url: str
    modules: tuple[str, ...]
    version: str
    published: str


def settings_from_config(config: Config) -> PluginSettings:
    """The package settings of ``config``; InputError when they cannot work."""
    url = config.webhook.url.strip()
    if not url:
        raise InputError(
            _(
                "No webhook URL is configured: set webhook.url to the address where "
                "SuiteCRM reaches the bridge (e.g. http://bridge.example:8000/webhook)."
            )
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(_("webhook.url {url} is not an http(s) URL.").format(url=url))
    modules = tuple(dict.fromkeys(config.sync.modules))
    unknown = [module for module in modules if module not in MODULES]
    if unknown:
        raise InputError(
            _("The plugin cannot watch module {module}; it knows: {known}.").format(
                module=", ".join(unknown), known=", ".join(MODULES)
            )
        )
    if not modules:
        raise InputError(_("sync.modules is empty: there is nothing to watch."))
    return PluginSettings(
        webhook_url=url,
        modules=modules,
        version=_package_version(),
        published=datetime.now(UTC).strftime("%Y-%m-%d"),
    )


def _package_version() -> str:
    try:
        return metadata.version("dscrm-bridge")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def build_package(config: Config, *, output: str | Path | None = None) -> Path:
    """Write the Module Loader zip for ``config``; returns its path.

    Raises:
        InputError: no webhook URL, an unknown module, or the file cannot be written.
    """
    settings = settings_from_config(config)
    target = Path(output) if output is not None else Path(DEFAULT_OUTPUT)
    data = zip_bytes(package_files(settings))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    except OSError as exc:
        raise InputError(
            _("Cannot write {path}: {error}").format(path=target, error=exc.strerror)
        ) from exc
    logger.info(
        "plugin package %s written for %d modules", target, len(settings.modules)
    )
    return target


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """A zip of ``files`` (path -> content) with fixed timestamps: reproducible."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()


def package_files(settings: PluginSettings) -> dict[str, bytes]:
    """Every file of the package by its path inside the zip."""
    files: dict[str, bytes] = {
        "manifest.php": _manifest(settings).encode("utf-8"),
        f"DscrmBridge/{HOOK_CLASS}.php": (PHP_DIR / f"{HOOK_CLASS}.php").read_bytes(),
        "DscrmBridge/settings.php": _settings_file(settings).encode("utf-8"),
    }
    for module in settings.modules:
        files[_vardefs_path(module)] = _index_vardef(module).encode("utf-8")
    for language, labels in LABELS.items():
        files[_language_path(language)] = _language_file(labels).encode("utf-8")
    return files


def _vardefs_path(module: str) -> str:
    return f"vardefs/{module}/dscrm_bridge_indexes.php"


def _language_path(language: str) -> str:
    return f"language/application/{language}.lang.php"


def index_name(module: str) -> str:
    """The name of the (date_modified, id) index added to ``module``'s table."""
    return f"idx_{MODULES[module][1]}_dscrm_mod"


# --- PHP sources -----------------------------------------------------------------

_HEADER = "<?php\n// Generated by `dscrm plugin build` (dscrm-bridge {version}).\n"


def _manifest(settings: PluginSettings) -> str:
    manifest = {
        "name": "dscrm-bridge change events",
        "description": (
            "Sends a signed change event to dscrm-bridge on every save, delete, "
            "link and unlink of the synced modules, and indexes (date_modified, id)."
            " / 同步模块的记录变化时签名通知 dscrm-bridge，"
            "并添加 (date_modified, id) 索引。"
        ),
        "author": "dscrm-bridge",
        "version": settings.version,
        "published_date": settings.published,
        "type": "module",
        "is_uninstallable": True,
        "readme": "",
        "icon": "",
        # SuiteCRM 7.10+ and 8.x report a sugar_version of 6.5.x and their own
        # suitecrm_version; the Module Loader checks the latter when it is given.
        "acceptable_sugar_versions": {"regex_matches": [r"^6\.5\..*$"]},
        "acceptable_suitecrm_versions": {
            "regex_matches": [r"^7\.1[0-9](\..*)?$", r"^8\..*$"]
        },
        "acceptable_sugar_flavors": ["CE"],
    }
    installdefs = {
        "id": PACKAGE_ID,
        "copy": [{"from": "<basepath>/DscrmBridge", "to": INSTALL_DIR}],
        "logic_hooks": list(_hook_entries(settings.modules)),
        "vardefs": [
            {"from": f"<basepath>/{_vardefs_path(module)}", "to_module": module}
            for module in settings.modules
        ],
        "language": [
            {
                "from": f"<basepath>/{_language_path(language)}",
                "to_module": "application",
                "language": language,
            }
            for language in LABELS
        ],
    }
    return (
        _HEADER.format(version=settings.version)
        + "\n$manifest = "
        + php_literal(manifest)
        + ";\n\n$installdefs = "
        + php_literal(installdefs)
        + ";\n"
    )


def _hook_entries(modules: Sequence[str]) -> Iterable[dict[str, Any]]:
    for module in modules:
        for event in EVENTS:
            yield {
                "module": module,
                "hook": event,
                "order": HOOK_ORDER,
                "description": "dscrm-bridge: change event",
                "file": f"{INSTALL_DIR}/{HOOK_CLASS}.php",
                "class": HOOK_CLASS,
                "function": _HOOK_METHODS[event],
            }


def _settings_file(settings: PluginSettings) -> str:
    values = {
        "webhook_url": settings.webhook_url,
        "modules": list(settings.modules),
        "connect_timeout_ms": CONNECT_TIMEOUT_MS,
        "timeout_ms": TOTAL_TIMEOUT_MS,
    }
    return (
        _HEADER.format(version=settings.version)
        + "// The shared secret is not here: set it in config_override.php as\n"
        + "// $sugar_config['dscrm_bridge']['webhook_secret'].\n\n"
        + "return "
        + php_literal(values)
        + ";\n"
    )


def _index_vardef(module: str) -> str:
    dictionary_key = MODULES[module][0]
    index = {"name": index_name(module), "type": "index", "fields": list(INDEX_FIELDS)}
    return (
        "<?php\n// dscrm-bridge: keyset reads of changed rows in (date_modified, id) "
        "order.\n"
        + f"$dictionary[{php_literal(dictionary_key)}]['indices']"
        + f"[{php_literal(index['name'])}] = "
        + php_literal(index)
        + ";\n"
    )


def _language_file(labels: Mapping[str, str]) -> str:
    lines = ["<?php"]
    lines += [
        f"$app_strings[{php_literal(key)}] = {php_literal(text)};"
        for key, text in labels.items()
    ]
    return "\n".join(lines) + "\n"


def php_literal(value: Any, indent: int = 0) -> str:
    """``value`` (str, bool, int, None, list, dict) as PHP source."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        return f"'{escaped}'"
    pad = "    " * (indent + 1)
    if isinstance(value, Mapping):
        items = [
            f"{pad}{php_literal(str(key))} => {php_literal(item, indent + 1)},"
            for key, item in value.items()
        ]
    elif isinstance(value, (list, tuple)):
        items = [f"{pad}{php_literal(item, indent + 1)}," for item in value]
    else:
        raise TypeError(f"no PHP literal for {type(value).__name__}")
    if not items:
        return "array()"
    return "array(\n" + "\n".join(items) + "\n" + "    " * indent + ")"
