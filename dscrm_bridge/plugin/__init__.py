"""The SuiteCRM plugin: a Module Loader package that reports changes as they happen.

build_package(config, *, output=None) -> Path       the zip for Module Loader
package_files(settings) -> dict[str, bytes]         its files, by path
settings_from_config(config) -> PluginSettings
signing: ChangeEvent, signature(), signed_headers(), signature_matches()
"""

from __future__ import annotations

from dscrm_bridge.plugin.package import (
    MODULES,
    PluginSettings,
    build_package,
    index_name,
    package_files,
    settings_from_config,
)
from dscrm_bridge.plugin.signing import (
    ChangeEvent,
    event_now,
    parse_event,
    signature,
    signature_matches,
    signed_headers,
)

__all__ = [
    "MODULES",
    "ChangeEvent",
    "PluginSettings",
    "build_package",
    "event_now",
    "index_name",
    "package_files",
    "parse_event",
    "settings_from_config",
    "signature",
    "signature_matches",
    "signed_headers",
]
