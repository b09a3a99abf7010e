"""Creating and upgrading the bridge's database: Alembic, run from code.

The only way the bridge's tables come to exist.  ``dscrm db upgrade`` calls
:func:`upgrade`; :func:`pending` tells whether a database needs it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from dscrm_bridge.feed.schema import VERSION_TABLE
from dscrm_bridge.suitecrm.gateway import open_engine, translate_errors

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def upgrade(url_or_engine: str | sa.URL | Engine, *, revision: str = "head") -> str:
    """Bring the bridge's database up to ``revision``; returns the revision reached.

    Raises:
        DatabaseError: the database could not be reached or a migration failed.
    """
    engine = open_engine(url_or_engine)
    with translate_errors(engine), engine.begin() as conn:
        config = _config()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    reached = current_revision(engine)
    logger.info("bridge database at revision %s", reached)
    return reached or ""


def current_revision(url_or_engine: str | sa.URL | Engine) -> str | None:
    """The revision the database is at; None when it was never upgraded."""
    engine = open_engine(url_or_engine)
    with translate_errors(engine), engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE}
        )
        return context.get_current_revision()


def head_revision() -> str:
    """The newest revision the shipped migrations know."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    return head or ""


def pending(url_or_engine: str | sa.URL | Engine) -> bool:
    """Whether :func:`upgrade` would change the database."""
    return current_revision(url_or_engine) != head_revision()


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config
