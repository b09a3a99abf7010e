"""The sandbox under misuse: busy ports, re-seeding, duplicate users, bad input.

Every failure answers in the V8 error shape (Q10) and the server keeps serving.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from dscrm_bridge.errors import BridgeError
from dscrm_bridge.i18n import _
from dscrm_bridge.sandbox import (
    RunningSandbox,
    connection_lines,
    create_app,
    make_engine,
    running_app,
    seed,
    serve,
)
from dscrm_bridge.sandbox import app as sandbox_app
from dscrm_bridge.sandbox.auth import check_password
from dscrm_bridge.suitecrm import tables as t
from dscrm_bridge.suitecrm.passwords import hash_password

from .conftest import ADMIN_PASSWORD, TIMEOUT_S, V8, password_grant

DATABASE_FAILURE = {"status": 400, "title": None, "detail": "Database failure"}


def _v8_error(answer: requests.Response) -> dict[str, Any]:
    """The ``errors`` object of a Q10-shaped 400 answer."""
    assert answer.status_code == 400, answer.text
    errors = answer.json()["errors"]
    assert isinstance(errors, dict)
    assert errors["status"] == 400
    assert errors["title"] is None
    assert "Traceback" not in answer.text
    return errors  # type: ignore[no-any-return]


def _admin_hash(db_url: str) -> str:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return str(
                conn.execute(
                    sa.select(t.users.c.user_hash).where(t.users.c.id == "1")
                ).scalar_one()
            )
    finally:
        engine.dispose()


# --- 1: port first, then seed ---------------------------------------------------


def test_busy_port_leaves_the_seeded_database_alone(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'sandbox.db'}"
    engine = make_engine(db_url)
    seed(engine, admin_password="first-password")
    engine.dispose()
    before = _admin_hash(db_url)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        with pytest.raises(BridgeError) as caught:
            serve(db_url, port=busy.getsockname()[1], admin_password="second")
    finally:
        busy.close()
    assert _admin_hash(db_url) == before
    assert check_password("first-password", before)
    message = str(caught.value)
    assert _("the port is already in use by another program") in message
    assert "Address already in use" not in message  # no raw strerror


def test_reseeding_says_that_the_secrets_were_replaced(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sandbox.db'}")
    try:
        first = seed(engine)
        again = seed(engine)
    finally:
        engine.dispose()
    warning = _(
        "This database was already seeded: the admin password and client "
        "secrets below REPLACE the earlier ones; clients of another sandbox "
        "still running on it must use them."
    )
    assert not first.reseeded
    assert again.reseeded
    assert again.password_client_id == first.password_client_id
    assert warning not in connection_lines("http://127.0.0.1:1", first)
    assert connection_lines("http://127.0.0.1:1", again)[0] == warning


# --- 2: one live user per user_name ------------------------------------------


def test_duplicate_user_name_is_refused_and_admin_still_logs_in(
    sandbox: RunningSandbox, admin: V8
) -> None:
    clash = admin.call(
        "POST",
        "module",
        {"data": {"type": "Users", "attributes": {"user_name": "admin"}}},
    )
    assert "admin" in _v8_error(clash)["detail"]
    user = admin.create("Users", user_name="user1", status="Active")
    renamed = admin.call(
        "PATCH",
        "module",
        {
            "data": {
                "type": "Users",
                "id": user["id"],
                "attributes": {"user_name": "admin"},
            }
        },
    )
    _v8_error(renamed)
    # Saving a user under its own name again is no clash.
    same = admin.call(
        "PATCH",
        "module",
        {
            "data": {
                "type": "Users",
                "id": user["id"],
                "attributes": {"user_name": "user1"},
            }
        },
    )
    assert same.status_code == 201, same.text
    assert password_grant(sandbox, "admin", ADMIN_PASSWORD).status_code == 200


def test_login_needs_exactly_one_active_user_of_that_name(
    sandbox: RunningSandbox,
) -> None:
    # A database written by another tool may hold duplicates.
    with sandbox.engine.begin() as conn:
        for user_id in ("dup-1", "dup-2"):
            conn.execute(
                t.users.insert().values(
                    id=user_id,
                    user_name="twin",
                    user_hash=hash_password("twin-pw"),
                    status="Active",
                    deleted=0,
                    is_admin=0,
                )
            )
    assert password_grant(sandbox, "twin", "twin-pw").status_code != 200
    with sandbox.engine.begin() as conn:
        conn.execute(t.users.update().where(t.users.c.id == "dup-2").values(deleted=1))
    assert password_grant(sandbox, "twin", "twin-pw").status_code == 200


# --- 3: errors answer in the V8 shape and the server keeps serving -------------


@pytest.mark.parametrize("param", ["page[size]", "page[number]"])
def test_huge_page_numbers_are_a_400(admin: V8, param: str) -> None:
    admin.create("Accounts", name="云启科技")
    params = {"page[size]": "2", param: "99999999999999999999999"}
    _v8_error(admin.call("GET", "module/Accounts", **params))
    assert admin.call("GET", "module/Accounts").status_code == 200  # keep-alive


def test_deeply_nested_json_body_is_a_400(admin: V8) -> None:
    depth = 100_000
    body = b'{"data":' + b"[" * depth + b"]" * depth + b"}"
    answer = admin.session.post(
        f"{admin.base}/Api/V8/module", data=body, timeout=TIMEOUT_S
    )
    assert _v8_error(answer)["detail"] == 'The required option "data" is missing.'
    assert admin.call("GET", "module/Accounts").status_code == 200


def test_any_unexpected_failure_is_a_v8_400_logged_without_its_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any) -> Any:
        # Built at run time: the logged code lines must not hold it either.
        raise RuntimeError("-".join(("secret", "value")))

    route = next(r for r in sandbox_app.ROUTES if r[0].pattern.endswith("modules$"))
    monkeypatch.setitem(route[2], "GET", broken)
    db_url = f"sqlite:///{tmp_path / 'sandbox.db'}"
    engine = make_engine(db_url)
    seed(engine, admin_password=ADMIN_PASSWORD)
    app = create_app(engine, upload_dir=tmp_path / "upload")
    caplog.set_level(logging.ERROR, logger="dscrm_bridge.sandbox.app")
    try:
        with running_app(app) as base_url, requests.Session() as session:
            answer = session.get(f"{base_url}/Api/V8/meta/modules", timeout=TIMEOUT_S)
            _v8_error(answer)
            again = session.get(f"{base_url}/Api/V8/nowhere", timeout=TIMEOUT_S)
            assert again.status_code == 404
    finally:
        engine.dispose()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "RuntimeError" in errors[0].getMessage()
    assert "secret-value" not in caplog.text


def _too_long_values(admin: V8) -> None:
    refused = admin.call(
        "POST",
        "module",
        {"data": {"type": "Accounts", "attributes": {"name": "x" * 300}}},
    )
    assert _v8_error(refused) == DATABASE_FAILURE
    fits = admin.create("Accounts", name="x" * 150, description="长" * 20_000)
    assert len(fits["attributes"]["name"]) == 150
    long_text = admin.call(
        "POST",
        "module",
        {"data": {"type": "Accounts", "attributes": {"description": "d" * 70_000}}},
    )
    assert _v8_error(long_text) == DATABASE_FAILURE
    assert admin.call("GET", "module/Accounts").status_code == 200


def test_values_longer_than_their_column_are_refused_on_sqlite(admin: V8) -> None:
    _too_long_values(admin)


@pytest.mark.mysql
def test_values_longer_than_their_column_are_refused_on_mariadb(
    mariadb_admin: V8,
) -> None:
    _too_long_values(mariadb_admin)


@pytest.mark.mysql
def test_database_refusal_is_a_400_database_failure(
    mariadb_sandbox: RunningSandbox, mariadb_admin: V8
) -> None:
    with mariadb_sandbox.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE accounts CONVERT TO CHARACTER SET utf8mb3"))
    answer = mariadb_admin.call(
        "POST",
        "module",
        {"data": {"type": "Accounts", "attributes": {"name": "云启 😀"}}},
    )
    assert _v8_error(answer) == DATABASE_FAILURE
    created = mariadb_admin.create("Accounts", name="云启")  # still serving
    assert created["attributes"]["name"] == "云启"


# --- 5: the recorded server's answers --------------------------------------------


def test_hidden_user_fields_are_dropped_from_sparse_fieldsets(admin: V8) -> None:
    answer = admin.call(
        "GET", "module/Users", **{"fields[Users]": "user_hash,last_name"}
    )
    assert answer.status_code == 200, answer.text
    attributes = answer.json()["data"][0]["attributes"]
    assert attributes == {"last_name": "Administrator"}


def test_a_filter_value_nested_too_deep_is_a_400(admin: V8) -> None:
    admin.create("Accounts", name="云启科技")
    answer = admin.call("GET", "module/Accounts", **{"filter[name][eq][x]": "1"})
    assert answer.headers["content-type"] == "application/json"
    assert "name" in _v8_error(answer)["detail"]
