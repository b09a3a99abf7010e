"""Security groups, ACL roles and users from YAML: presets, plan, apply, export.

    plan_roles(database, path, *, env, protected_users) -> Plan
    apply_roles(database, client, path, *, env, protected_users, confirm, report)
        -> ApplyResult | None
    export_roles(database) -> str
    explain_roles(database, user_name, module=None) -> Explanation
    list_presets() -> list[RoleSpec];  preset_text(name) -> str
    render_plan(plan) / render_explanation(explanation) -> list[str]

``database`` is SuiteCRM's database (URL or engine); ``client`` the V8 client of
an administrator.  The ``*_with_config`` variants build both from a Config.
"""

from __future__ import annotations

from dscrm_bridge.provisioning.apply import ApplyResult
from dscrm_bridge.provisioning.explain import Explanation, render_explanation
from dscrm_bridge.provisioning.loader import load_roles_file
from dscrm_bridge.provisioning.model import RoleSpec, RolesSpec
from dscrm_bridge.provisioning.plan import Plan, render_plan
from dscrm_bridge.provisioning.service import (
    apply_roles,
    apply_with_config,
    database_of,
    explain_roles,
    export_roles,
    list_presets,
    plan_roles,
    plan_with_config,
    preset_text,
)

__all__ = [
    "ApplyResult",
    "Explanation",
    "Plan",
    "RoleSpec",
    "RolesSpec",
    "apply_roles",
    "apply_with_config",
    "database_of",
    "explain_roles",
    "export_roles",
    "list_presets",
    "load_roles_file",
    "plan_roles",
    "plan_with_config",
    "preset_text",
    "render_explanation",
    "render_plan",
]
