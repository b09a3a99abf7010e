"""What a fresh SuiteCRM install holds, written into a sandbox database.

:func:`seed` creates SuiteCRM's tables where missing and writes the admin user
(``admin``, id ``1``), one OAuth2 client per grant type, the installer's
``acl_actions`` and ``config`` rows.  It can run again on the same database: the
admin password and client secrets are then replaced by the ones given (or new
generated ones), and :attr:`SeedInfo.reseeded` says so, so that the lines printed
at start (:func:`dscrm_bridge.sandbox.server.connection_lines`) warn that clients
of a sandbox still running on that database must use the new secrets.  Client ids
are kept.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from dscrm_bridge.errors import DatabaseError
from dscrm_bridge.i18n import _
from dscrm_bridge.sandbox.auth import hash_secret
from dscrm_bridge.sandbox.modules import default_acl_actions, default_config
from dscrm_bridge.sandbox.protocol import utc_now
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.suitecrm.passwords import hash_password

logger = logging.getLogger(__name__)

ADMIN_ID = "1"
ADMIN_USER_NAME = "admin"
PASSWORD_CLIENT_NAME = "dscrm sandbox (password grant)"
CC_CLIENT_NAME = "dscrm sandbox (client_credentials grant)"


@dataclass(frozen=True)
class SeedInfo:
    """How to connect to a seeded sandbox. Holds secrets: never log it."""

    admin_user_name: str
    admin_password: str
    password_client_id: str
    password_client_secret: str
    cc_client_id: str
    cc_client_secret: str
    #: the database was seeded before: the secrets above replaced earlier ones
    reseeded: bool = False

    def __repr__(self) -> str:
        return (
            f"SeedInfo(admin_user_name={self.admin_user_name!r}, "
            f"password_client_id={self.password_client_id!r}, "
            f"cc_client_id={self.cc_client_id!r}, secrets=***)"
        )


def seed(
    engine: sa.Engine,
    *,
    admin_password: str | None = None,
    password_client_id: str | None = None,
    password_client_secret: str | None = None,
    cc_client_id: str | None = None,
    cc_client_secret: str | None = None,
) -> SeedInfo:
    """Create the tables if missing and write the rows of a fresh install.

    Secrets not given are generated for this run.  Client ids not given are
    kept from an earlier seed of the same database, else generated.
    """
    admin_password = admin_password or secrets.token_urlsafe(12)
    password_client_secret = password_client_secret or secrets.token_urlsafe(24)
    cc_client_secret = cc_client_secret or secrets.token_urlsafe(24)
    try:
        t.metadata.create_all(engine, checkfirst=True)
        with engine.begin() as conn:
            now = utc_now()
            reseeded = _write_admin(conn, admin_password, now)
            password_id = _write_client(
                conn,
                PASSWORD_CLIENT_NAME,
                password_client_id,
                password_client_secret,
                "password",
                now,
            )
            cc_id = _write_client(
                conn,
                CC_CLIENT_NAME,
                cc_client_id,
                cc_client_secret,
                "client_credentials",
                now,
            )
            _write_acl_actions(conn, now)
            _write_config(conn)
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(
            _("Could not prepare the sandbox database {url}: {error}").format(
                url=engine.url.render_as_string(hide_password=True),
                error=type(exc).__name__,
            )
        ) from exc
    logger.info("sandbox database seeded (%s)", engine.url.render_as_string())
    return SeedInfo(
        admin_user_name=ADMIN_USER_NAME,
        admin_password=admin_password,
        password_client_id=password_id,
        password_client_secret=password_client_secret,
        cc_client_id=cc_id,
        cc_client_secret=cc_client_secret,
        reseeded=reseeded,
    )


def _write_admin(conn: sa.Connection, password: str, now: dt.datetime) -> bool:
    """Write the admin user; True when it existed (its password is replaced)."""
    users = t.users
    values = {
        "user_hash": hash_password(password),
        "pwd_last_changed": now,
        "date_modified": now,
    }
    exists = conn.execute(sa.select(users.c.id).where(users.c.id == ADMIN_ID)).first()
    if exists is not None:
        conn.execute(users.update().where(users.c.id == ADMIN_ID).values(**values))
        return True
    conn.execute(
        users.insert().values(
            id=ADMIN_ID,
            user_name=ADMIN_USER_NAME,
            system_generated_password=0,
            sugar_login=1,
            first_name="",
            last_name="Administrator",
            is_admin=1,
            external_auth_only=0,
            receive_notifications=1,
            date_entered=now,
            modified_user_id=ADMIN_ID,
            created_by=ADMIN_ID,
            title="Administrator",
            status="Active",
            deleted=0,
            portal_only=0,
            show_on_employees=1,
            employee_status="Active",
            is_group=0,
            **values,
        )
    )
    return False


def _write_client(
    conn: sa.Connection,
    name: str,
    client_id: str | None,
    secret: str,
    grant: str,
    now: dt.datetime,
) -> str:
    clients = t.oauth2clients
    existing = conn.execute(
        sa.select(clients.c.id).where(clients.c.name == name, clients.c.deleted == 0)
    ).first()
    if client_id is None and existing is not None:
        client_id = str(existing.id)
    client_id = client_id or str(uuid.uuid4())
    values = {
        "name": name,
        "date_modified": now,
        "secret": hash_secret(secret),
        "allowed_grant_type": grant,
        # Tokens of the client_credentials client act as admin (transcript setup).
        "assigned_user_id": ADMIN_ID if grant == "client_credentials" else None,
        "deleted": 0,
    }
    found = conn.execute(
        sa.select(clients.c.id).where(clients.c.id == client_id)
    ).first()
    if found is not None:
        conn.execute(clients.update().where(clients.c.id == client_id).values(**values))
        return client_id
    conn.execute(
        clients.insert().values(
            id=client_id,
            date_entered=now,
            modified_user_id=ADMIN_ID,
            created_by=ADMIN_ID,
            is_confidential=1,
            **values,
        )
    )
    return client_id


def _write_acl_actions(conn: sa.Connection, now: dt.datetime) -> None:
    acts = t.acl_actions
    present = {
        (row.category, row.name)
        for row in conn.execute(
            sa.select(acts.c.category, acts.c.name).where(acts.c.acltype == "module")
        )
    }
    rows = [
        {
            "id": str(uuid.uuid4()),
            "date_entered": now,
            "date_modified": now,
            "modified_user_id": ADMIN_ID,
            "created_by": "",
            "name": action,
            "category": category,
            "acltype": "module",
            "aclaccess": access,
            "deleted": 0,
        }
        for category, action, access in default_acl_actions()
        if (category, action) not in present
    ]
    if rows:
        conn.execute(acts.insert(), rows)


def _write_config(conn: sa.Connection) -> None:
    cfg = t.config
    present = {
        (row.category, row.name)
        for row in conn.execute(sa.select(cfg.c.category, cfg.c.name))
    }
    rows = [
        {"category": category, "name": name, "value": value}
        for category, name, value in default_config()
        if (category, name) not in present
    ]
    if rows:
        conn.execute(cfg.insert(), rows)


def write_role_matrix(
    engine: sa.Engine, role_id: str, levels: Mapping[str, Mapping[str, int]]
) -> None:
    """Set a role's access levels as the legacy role editor saves them (B7c).

    ``levels`` maps a module (ACL category) to ``{action: level}``, e.g.
    ``{"Accounts": {"access": 89, "view": 80}}``.  V8 cannot do this (Q35).
    """
    acts = t.acl_actions
    rra = t.acl_roles_actions
    now = utc_now()
    with engine.begin() as conn:
        for category, actions in levels.items():
            for action, level in actions.items():
                action_id = conn.execute(
                    sa.select(acts.c.id).where(
                        acts.c.category == category,
                        acts.c.name == action,
                        acts.c.acltype == "module",
                    )
                ).scalar_one()
                mine = sa.and_(rra.c.role_id == role_id, rra.c.action_id == action_id)
                updated = conn.execute(
                    rra.update()
                    .where(mine)
                    .values(access_override=level, date_modified=now, deleted=0)
                )
                if updated.rowcount:
                    continue
                conn.execute(
                    rra.insert().values(
                        id=str(uuid.uuid4()),
                        role_id=role_id,
                        action_id=action_id,
                        access_override=level,
                        date_modified=now,
                        deleted=0,
                    )
                )
