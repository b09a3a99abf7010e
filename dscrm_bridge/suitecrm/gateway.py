"""The SQL gateway: read access to SuiteCRM's own database.

Everything the bridge reads from SuiteCRM by SQL goes through here, over the table
definitions of :mod:`dscrm_bridge.suitecrm.tables`: changed rows in keyset order
(``date_modified``, ``id``), record names and user names as SuiteCRM stores them.
It also opens engines for any database the bridge uses (SuiteCRM's or its own), so
that MySQL connections always speak utf8mb4 and errors name a masked URL.

SQLAlchemy errors are translated into :class:`~dscrm_bridge.errors.DatabaseError`
here, once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping

from dscrm_bridge.errors import DatabaseError, InputError
from dscrm_bridge.i18n import N_, _
from dscrm_bridge.suitecrm import tables

logger = logging.getLogger(__name__)

# Modules whose records the gateway can name, with the table that holds them.
MODULE_TABLES: dict[str, sa.Table] = {
    "Accounts": tables.accounts,
    "Contacts": tables.contacts,
    "Opportunities": tables.opportunities,
    "Notes": tables.notes,
    "Documents": tables.documents,
    "Meetings": tables.meetings,
    "Calls": tables.calls,
    "Tasks": tables.tasks,
    "Leads": tables.leads,
    "Cases": tables.cases,
    "Users": tables.users,
    "SecurityGroups": tables.securitygroups,
}
# Modules that are named (as a link's other side) but not mirrored themselves.
NAMED_ONLY = frozenset({"Users", "SecurityGroups"})

# Look-ups by id are split so that an IN list stays well below driver limits.
_IDS_PER_QUERY = 500


@dataclass(frozen=True)
class Keyset:
    """A position in a table ordered by (date_modified, id)."""

    date_modified: datetime
    id: str


@dataclass(frozen=True)
class RecordInfo:
    """What the feed needs to know about a record another row points at."""

    name: str
    modified_user_id: str | None
    date_modified: datetime | None
    date_entered: datetime | None = None


SUPPORTED_BACKENDS = ("sqlite", "mysql", "mariadb")


def open_engine(url_or_engine: str | sa.URL | Engine) -> Engine:
    """An engine for ``url_or_engine``; MySQL URLs get ``charset=utf8mb4``."""
    if isinstance(url_or_engine, Engine):
        return url_or_engine
    try:
        url = sa.make_url(url_or_engine)
    except sa.exc.ArgumentError as exc:
        raise InputError(
            _("{url} is not a database URL; expected e.g. {example}").format(
                url=str(url_or_engine), example="sqlite:///dscrm-bridge.db"
            )
        ) from exc
    backend = url.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise InputError(
            _(
                "{url}: only SQLite (sqlite:///file.db) and MySQL/MariaDB "
                "(mysql+pymysql://user@host/db) databases are supported."
            ).format(url=url.render_as_string(hide_password=True))
        )
    if backend in ("mysql", "mariadb"):
        # PyMySQL is the driver the bridge ships with; mysql:// alone would ask
        # for MySQLdb, which is not installed.
        url = url.set(drivername=f"{backend}+pymysql")
        if "charset" not in url.query:
            # Chinese text and emoji need 4-byte UTF-8 on the wire.
            url = url.update_query_dict({"charset": "utf8mb4"})
    if backend == "sqlite" and url.database in (None, "", ":memory:"):
        # One in-memory database shared by every thread of the process.
        return sa.create_engine(
            url, poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False}
        )
    return sa.create_engine(url, pool_pre_ping=True)


def mask_url(engine: Engine) -> str:
    """The engine's URL with any password hidden, for messages."""
    return engine.url.render_as_string(hide_password=True)


# MySQL/MariaDB error codes of a connection that failed, and what to do.
_ACCESS_DENIED, _CANNOT_CONNECT, _UNKNOWN_DATABASE = 1045, 2003, 1049
_CONNECTION_FAILURES = {
    _ACCESS_DENIED: N_(
        "The database {url} refused the login (access denied): check the user "
        "name and the password in the URL, or the user's grants"
    ),
    _CANNOT_CONNECT: N_(
        "Cannot connect to the database server of {url}: check that it runs and "
        "that the host and port in the URL are right"
    ),
    _UNKNOWN_DATABASE: N_(
        "The database named in {url} does not exist on that server: check the "
        "database name in the URL, or create it"
    ),
}


def database_error(engine: Engine, exc: sa.exc.SQLAlchemyError) -> DatabaseError:
    """A :class:`DatabaseError` telling what failed on ``engine`` (URL masked).

    A refused login, an unreachable server and an unknown database say so and
    what to do; any other failure names the statement's error.
    """
    orig = getattr(exc, "orig", None)
    code = orig.args[0] if orig is not None and orig.args else None
    if isinstance(exc, sa.exc.OperationalError) and code in _CONNECTION_FAILURES:
        return DatabaseError(_(_CONNECTION_FAILURES[code]).format(url=mask_url(engine)))
    reason = str(orig or exc).splitlines()[0]
    return DatabaseError(
        _("A statement on the database {url} failed: {reason}").format(
            url=mask_url(engine), reason=reason
        )
    )


@contextmanager
def translate_errors(engine: Engine) -> Iterator[None]:
    """Turn SQLAlchemy errors raised inside into a :class:`DatabaseError`."""
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        raise database_error(engine, exc) from exc


def compose_person_name(first_name: str | None, last_name: str | None) -> str:
    """A person's name from its parts, as a Chinese SuiteCRM shows it.

    Chinese names read family name first with no space (last 张 + first 三 ->
    张三); other names read "first last".  NOTE: a stock SuiteCRM formats with
    its locale pattern ``s f l`` and shows ``三 张`` (Q15); the bridge follows the
    convention of a zh_CN deployment instead.
    """
    first = (first_name or "").strip()
    last = (last_name or "").strip()
    if _has_cjk(first) or _has_cjk(last):
        return last + first
    return " ".join(part for part in (first, last) if part)


def _has_cjk(text: str) -> bool:
    return any(
        "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff" for char in text
    )


# Tables every SuiteCRM database has; their absence means a wrong database.
_TELLTALE_TABLES = ("accounts", "users")


class SuiteCRMGateway:
    """Reads SuiteCRM's database; never writes to it."""

    def __init__(self, url_or_engine: str | sa.URL | Engine) -> None:
        if not isinstance(url_or_engine, Engine):
            _refuse_missing_sqlite_file(url_or_engine)
        self.engine = open_engine(url_or_engine)

    def verify(self) -> None:
        """Refuse a database that cannot be reached or is not SuiteCRM's.

        Raises:
            DatabaseError: the connection failed (what to do is said), or a
                table every SuiteCRM database has is missing.
        """
        with self.connect() as conn:
            present = set(sa.inspect(conn).get_table_names())
        for name in _TELLTALE_TABLES:
            if name not in present:
                raise DatabaseError(
                    _(
                        "{url} does not look like a SuiteCRM database: table "
                        "{table} missing"
                    ).format(url=mask_url(self.engine), table=name)
                )

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection whose SQLAlchemy errors surface as :class:`DatabaseError`."""
        with translate_errors(self.engine), self.engine.connect() as conn:
            yield conn

    def now(self) -> datetime:
        """The database's clock as naive UTC (what a cursor may not pass)."""
        if self.engine.dialect.name == "sqlite":
            clock: sa.ColumnElement[Any] = sa.func.datetime("now")
        else:
            clock = sa.func.utc_timestamp()
        with self.connect() as conn:
            value = conn.execute(sa.select(clock)).scalar_one()
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(microsecond=0)

    def last_keyset(self, table: sa.Table) -> Keyset | None:
        """The newest (date_modified, id) of ``table``; None when it holds no rows."""
        query = (
            sa.select(table.c.date_modified, table.c.id)
            .where(table.c.date_modified.is_not(None))
            .order_by(table.c.date_modified.desc(), table.c.id.desc())
            .limit(1)
        )
        with self.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else Keyset(row.date_modified, row.id)

    def changed_rows(
        self, table: sa.Table, *, after: Keyset | None, limit: int
    ) -> list[RowMapping]:
        """Up to ``limit`` rows of ``table`` after ``after``, by (date_modified, id).

        Rows without a ``date_modified`` cannot be placed on the cursor and are
        never returned.
        """
        query = sa.select(table).where(table.c.date_modified.is_not(None))
        if after is not None:
            query = query.where(_after(table, after))
        query = query.order_by(table.c.date_modified, table.c.id).limit(limit)
        with self.connect() as conn:
            rows = list(conn.execute(query).mappings())
        logger.debug("read %d changed rows of %s", len(rows), table.name)
        return rows

    def count_after(self, table: sa.Table, after: Keyset | None) -> int:
        """How many rows of ``table`` sort after ``after`` (a backfill's total)."""
        query = (
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.date_modified.is_not(None))
        )
        if after is not None:
            query = query.where(_after(table, after))
        with self.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def user_names(self, user_ids: Iterable[str | None]) -> dict[str, str]:
        """Display names of users by id (deleted users included)."""
        return {uid: info.name for uid, info in self.records("Users", user_ids).items()}

    def records(self, module: str, ids: Iterable[str | None]) -> dict[str, RecordInfo]:
        """Name and last change of records of ``module`` by id (deleted included).

        Unknown modules give an empty mapping: a parent may be of any module.
        """
        table = MODULE_TABLES.get(module)
        if table is None:
            return {}
        columns = (
            table.c.id,
            table.c.modified_user_id,
            table.c.date_modified,
            table.c.date_entered,
        )
        name_columns = _name_columns(table)
        found: dict[str, RecordInfo] = {}
        for row in self._rows_by_id(table, columns + name_columns, ids):
            found[row.id] = RecordInfo(
                name=record_name(module, row._mapping),
                modified_user_id=row.modified_user_id,
                date_modified=row.date_modified,
                date_entered=row.date_entered,
            )
        return found

    def _rows_by_id(
        self,
        table: sa.Table,
        columns: Sequence[sa.ColumnElement[object]],
        ids: Iterable[str | None],
    ) -> list[sa.Row[tuple[object, ...]]]:
        wanted = sorted({i for i in ids if i})
        rows: list[sa.Row[tuple[object, ...]]] = []
        with self.connect() as conn:
            for start in range(0, len(wanted), _IDS_PER_QUERY):
                chunk = wanted[start : start + _IDS_PER_QUERY]
                query = sa.select(*columns).where(table.c.id.in_(chunk))
                rows.extend(conn.execute(query))
        return rows


def _refuse_missing_sqlite_file(url_or_text: str | sa.URL) -> None:
    # SQLite would create an empty file and fail later with "no such table".
    try:
        url = sa.make_url(url_or_text)
    except sa.exc.ArgumentError:
        return  # open_engine says what is wrong with it
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    if not Path(url.database).is_file():
        raise DatabaseError(
            _(
                "The SuiteCRM database file {path} does not exist: check "
                "suitecrm.database_url"
            ).format(path=url.database)
        )


def record_name(module: str, row: Mapping[Any, Any]) -> str:
    """A record's name as SuiteCRM stores it (people composed from their parts)."""
    if module in ("Contacts", "Leads", "Users"):
        composed = compose_person_name(row.get("first_name"), row.get("last_name"))
        if composed or module != "Users":
            return composed
        return row.get("user_name") or ""
    if module == "Documents":
        return row.get("document_name") or ""
    return row.get("name") or ""


def _after(table: sa.Table, after: Keyset) -> sa.ColumnElement[bool]:
    # The leading ``>=`` gives MySQL and SQLite a range on an index over
    # (date_modified, id) where one exists; the OR then orders ties by id.
    return sa.and_(
        table.c.date_modified >= after.date_modified,
        sa.or_(
            table.c.date_modified > after.date_modified,
            sa.and_(
                table.c.date_modified == after.date_modified, table.c.id > after.id
            ),
        ),
    )


def _name_columns(table: sa.Table) -> tuple[sa.Column[object], ...]:
    names = ("name", "document_name", "first_name", "last_name", "user_name")
    return tuple(table.c[name] for name in names if name in table.c)
