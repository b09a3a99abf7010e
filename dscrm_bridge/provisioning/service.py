"""One plain function per ``dscrm roles`` command; the CLI is a thin front on these.

The ``*_roles`` functions take a database (URL or engine) and, for apply, a V8
client; the ``*_with_config`` ones build both from the configuration
(``suitecrm.*`` for V8, ``suitecrm.database_url`` for SQL).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import sqlalchemy as sa

from dscrm_bridge.config import Config
from dscrm_bridge.errors import ConfigError, InputError
from dscrm_bridge.i18n import _
from dscrm_bridge.provisioning.apply import ApplyResult, Report, apply_plan
from dscrm_bridge.provisioning.explain import Explanation, explain_user
from dscrm_bridge.provisioning.export import export_text
from dscrm_bridge.provisioning.live import LiveState, read_live
from dscrm_bridge.provisioning.loader import load_roles_file, preset_file, presets
from dscrm_bridge.provisioning.model import RoleSpec
from dscrm_bridge.provisioning.plan import Plan, make_plan
from dscrm_bridge.suitecrm.gateway import open_engine, translate_errors
from dscrm_bridge.suitecrm.v8client import V8Client

logger = logging.getLogger(__name__)

Database = str | sa.Engine


def read_state(database: Database) -> LiveState:
    """The live groups, roles, users and memberships of SuiteCRM's database."""
    engine = open_engine(database)
    with translate_errors(engine), engine.connect() as conn:
        return read_live(conn)


def plan_roles(
    database: Database,
    path: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    protected_users: Iterable[str] = (),
) -> Plan:
    """What ``dscrm roles plan -f path`` shows; nothing is written."""
    live = read_state(database)
    known = {module for module, _action in live.actions}
    spec = load_roles_file(path, known_modules=known)
    return make_plan(spec, live, protected_users=protected_users, env=env)


def apply_roles(
    database: Database,
    client: V8Client,
    path: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    protected_users: Iterable[str] = (),
    confirm: Callable[[Plan], bool] | None = None,
    report: Report | None = None,
) -> ApplyResult | None:
    """Plan, ask ``confirm`` (when given), then apply; None when declined."""
    engine = open_engine(database)
    plan = plan_roles(engine, path, env=env, protected_users=protected_users)
    if plan.is_empty:
        return ApplyResult(plan=plan, applied=0)
    if confirm is not None and not confirm(plan):
        return None
    return apply_plan(plan, engine=engine, client=client, report=report)


def export_roles(database: Database) -> str:
    """The live SuiteCRM as a roles file (YAML text)."""
    return export_text(read_state(database))


def explain_roles(
    database: Database, user_name: str, module: str | None = None
) -> Explanation:
    """The effective rights of ``user_name`` and the role behind each."""
    engine = open_engine(database)
    with translate_errors(engine), engine.connect() as conn:
        return explain_user(conn, user_name, module)


# From the widest rights to the narrowest, as `dscrm roles presets` lists them.
PRESET_ORDER = ("销售总监", "销售经理", "销售代表", "售前", "客服", "财务", "只读")


def list_presets() -> list[RoleSpec]:
    """The shipped presets, widest rights first."""
    rank = {name: index for index, name in enumerate(PRESET_ORDER)}
    names = sorted(presets(), key=lambda name: (rank.get(name, len(rank)), name))
    return [presets()[name] for name in names]


def preset_text(name: str) -> str:
    """The YAML of one shipped preset, as shipped."""
    path = preset_file(name)
    if path is None:
        raise InputError(
            _("There is no preset {name}; the presets are: {names}.").format(
                name=name, names=", ".join(sorted(presets()))
            )
        )
    return path.read_text(encoding="utf-8")


# -- from the configuration -----------------------------------------------------


def database_of(config: Config) -> str:
    """SuiteCRM's database URL, required by every roles command."""
    if not config.suitecrm.database_url:
        raise ConfigError(
            _(
                "The roles commands read SuiteCRM's database: set "
                "suitecrm.database_url in the configuration or "
                "DSCRM_SUITECRM_DATABASE_URL."
            )
        )
    return config.suitecrm.sql_url()


def client_of(config: Config) -> V8Client:
    """The V8 client of the configured administrator (``suitecrm.*``)."""
    return V8Client.from_settings(config.suitecrm)


def plan_with_config(
    config: Config, path: str | Path, *, env: Mapping[str, str]
) -> Plan:
    return plan_roles(
        database_of(config), path, env=env, protected_users=[config.suitecrm.username]
    )


def apply_with_config(
    config: Config,
    path: str | Path,
    *,
    env: Mapping[str, str],
    confirm: Callable[[Plan], bool] | None = None,
    report: Report | None = None,
) -> ApplyResult | None:
    database = database_of(config)
    with client_of(config) as client:
        return apply_roles(
            database,
            client,
            path,
            env=env,
            protected_users=[config.suitecrm.username],
            confirm=confirm,
            report=report,
        )
