"""The sandbox: a local server answering like SuiteCRM 7.13's V8 API.

It serves SuiteCRM-shaped tables (:mod:`dscrm_bridge.suitecrm.tables`) on SQLite
or MariaDB, with the recorded quirks a client must cope with, and without the
recorded security holes (:data:`REFUSED_HOLES`).

    create_app(engine_or_url, *, upload_dir=None, signing_key=None) -> FastAPI
    seed(engine, *, admin_password=None, ...) -> SeedInfo
    serve(db_url, *, host="127.0.0.1", port=8080, ..., on_ready=None) -> None
    running_sandbox(db_url, *, ..., webhook=None) -> context manager: RunningSandbox
    running_app(app) -> context manager yielding the base URL of any ASGI app
    WebhookTarget(url, secret, modules=None): where writes are posted as events
    connection_lines(base_url, info) -> list[str]
    write_role_matrix(engine, role_id, levels) -> None
"""

from __future__ import annotations

from dataclasses import dataclass

from dscrm_bridge.sandbox.app import create_app, make_engine
from dscrm_bridge.sandbox.events import WebhookTarget
from dscrm_bridge.sandbox.seed import SeedInfo, seed, write_role_matrix
from dscrm_bridge.sandbox.server import (
    RunningSandbox,
    connection_lines,
    running_app,
    running_sandbox,
    serve,
)


@dataclass(frozen=True)
class RefusedHole:
    """A careless behaviour of the recorded SuiteCRM that the sandbox refuses."""

    steps: tuple[str, ...]
    quirk: str
    refusal: str


REFUSED_HOLES: tuple[RefusedHole, ...] = (
    RefusedHole(
        ("D7", "H10"),
        "Q24",
        "a non-admin creating a User (worse: with is_admin=1 and a password) gets "
        "400 AccessDeniedException",
    ),
    RefusedHole(
        ("D6",),
        "Q24",
        "a non-admin creating a SecurityGroup gets 400 AccessDeniedException",
    ),
    RefusedHole(
        ("D8",),
        "Q14/Q24",
        "a non-admin may list users' names but not filter or sort on hidden user "
        "fields (user_hash, is_admin, status ...): 400 AccessDeniedException",
    ),
    RefusedHole(
        ("F34", "F35", "H1"),
        "Q3",
        "a client used with a grant type other than its allowed_grant_type gets "
        "400 unauthorized_client",
    ),
    RefusedHole(
        ("F39",),
        "Q4",
        "an Inactive user gets no token: 400 invalid_grant",
    ),
    RefusedHole(
        ("F32",),
        "Q2",
        "a wrong password answers 'The password is invalid' without echoing it",
    ),
)

__all__ = [
    "REFUSED_HOLES",
    "RefusedHole",
    "RunningSandbox",
    "SeedInfo",
    "WebhookTarget",
    "connection_lines",
    "create_app",
    "make_engine",
    "running_app",
    "running_sandbox",
    "seed",
    "serve",
    "write_role_matrix",
]
