"""``dscrm check``: is the configured SuiteCRM reachable and usable by the bridge?

Each check gives one :class:`CheckResult` (one line for the user): the V8 API and
its prefix, the grant and its token, who the token acts as, SuiteCRM's version,
the database, its privileges, the tables the bridge uses, their character set
and the indexes the sync's keyset scans need.  A check that cannot run because
an earlier one failed is skipped, not failed again.  :func:`run_checks` never
raises for what it checks: every failure becomes a result, so that the report
is complete and says what to fix.  The report is ``ok`` (exit 0) when no check
failed; warnings name what works less well.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from dscrm_bridge.config import Config
from dscrm_bridge.errors import BridgeError, IdentityError
from dscrm_bridge.i18n import N_, _
from dscrm_bridge.suitecrm import tables
from dscrm_bridge.suitecrm.gateway import mask_url, open_engine
from dscrm_bridge.suitecrm.v8client import V8Client

logger = logging.getLogger(__name__)

# Tables the bridge writes by SQL: role actions and memberships (SuiteCRM itself
# writes them by SQL, see performance-notes) and the feed write-back.
WRITE_TABLES = (
    "acl_roles_actions",
    "acl_roles_users",
    "securitygroups_users",
    "securitygroups_acl_roles",
    "sugarfeed",
)
READ_PRIVILEGES = frozenset({"SELECT"})
WRITE_PRIVILEGES = frozenset({"INSERT", "UPDATE", "DELETE"})
KEYSET_COLUMNS = ("date_modified", "id")

_GRANT = re.compile(
    r"^GRANT\s+(?P<privs>.+?)\s+ON\s+(?:(?:TABLE|FUNCTION|PROCEDURE)\s+)?"
    r"(?P<db>`(?:[^`]|``)*`|\*|[\w$]+)\.(?P<table>`(?:[^`]|``)*`|\*|[\w$]+)\s+TO\s",
    re.IGNORECASE,
)


class Status(enum.Enum):
    """How one check came out; only FAIL makes the whole check fail."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    INFO = "info"


STATUS_LABELS = {
    Status.OK: N_("ok"),
    Status.WARN: N_("warning"),
    Status.FAIL: N_("FAILED"),
    Status.SKIP: N_("skipped"),
    Status.INFO: N_("info"),
}


@dataclass(frozen=True)
class CheckResult:
    """One line of the report: a stable key, its outcome, a translated message."""

    key: str
    status: Status
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.key,
            "status": self.status.value,
            "message": self.message,
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class CheckReport:
    """Every result in order; ``ok`` when none failed."""

    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(result.status is not Status.FAIL for result in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [r.as_dict() for r in self.results]}

    def lines(self) -> list[str]:
        """One translated line per check, then a verdict line."""
        shown = [f"[{_(STATUS_LABELS[r.status])}] {r.message}" for r in self.results]
        verdict = (
            _("Everything the bridge needs is in place.")
            if self.ok
            else _("Some checks failed; fix them and run dscrm check again.")
        )
        return [*shown, verdict]


@dataclass(frozen=True)
class Grants:
    """Privileges of the connected user: on every table of the database, or some."""

    database_wide: frozenset[str]
    per_table: Mapping[str, frozenset[str]]

    def on(self, table: str) -> frozenset[str]:
        return self.database_wide | self.per_table.get(table, frozenset())


def check_config(config: Config) -> CheckReport:
    """Run every check with the settings of a loaded configuration."""
    from dscrm_bridge.sync.sources import sources_for

    crm = config.suitecrm
    scanned = [source.table.name for source in sources_for(config.sync.modules)]

    def make_client() -> V8Client:
        return V8Client.from_settings(crm)

    return run_checks(
        make_client, database_url=crm.sql_url() or None, scanned_tables=scanned
    )


def run_checks(
    make_client: Callable[[], V8Client],
    *,
    database_url: str | sa.Engine | None,
    scanned_tables: Sequence[str] = (),
) -> CheckReport:
    """Check the API through ``make_client()`` and the database at ``database_url``.

    ``scanned_tables`` are the tables the sync reads in ``(date_modified, id)``
    order; each should have an index for it.
    """
    api = _check_api(make_client)
    database = _check_database(database_url, scanned_tables)
    version = _check_version(api.prefix, database.sugar_version, api.reached)
    return CheckReport((*api.results, version, *database.results))


# -- the API -------------------------------------------------------------------


@dataclass
class _ApiOutcome:
    results: list[CheckResult]
    prefix: str | None = None
    reached: bool = False


def _check_api(make_client: Callable[[], V8Client]) -> _ApiOutcome:
    try:
        client = make_client()
    except BridgeError as exc:
        return _ApiOutcome(
            [
                CheckResult("api", Status.FAIL, str(exc)),
                _skipped("token", _("API settings are incomplete")),
                _skipped("identity", _("API settings are incomplete")),
            ]
        )
    with client:
        return _check_api_with(client)


def _check_api_with(client: V8Client) -> _ApiOutcome:
    outcome = _ApiOutcome([])
    try:
        prefix = client.reachable_prefix()
    except BridgeError as exc:
        outcome.results += [
            CheckResult("api", Status.FAIL, str(exc), {"url": client.base_url}),
            _skipped("token", _("the API is not reachable")),
            _skipped("identity", _("the API is not reachable")),
        ]
        return outcome
    outcome.prefix, outcome.reached = prefix, True
    outcome.results.append(
        CheckResult(
            "api",
            Status.OK,
            _("SuiteCRM V8 API reachable at {url} (prefix {prefix})").format(
                url=client.api_root, prefix=prefix
            ),
            {"url": client.base_url, "prefix": prefix},
        )
    )

    try:
        client.sign_in()
    except BridgeError as exc:
        outcome.results += [
            CheckResult("token", Status.FAIL, str(exc), {"grant": client.grant}),
            _skipped("identity", _("no token")),
        ]
        return outcome
    token = client.token
    if token is not None and token.refresh_token:
        message = _(
            "Signed in with the {grant} grant; got an access token and a refresh token"
        )
    else:
        # Q1: client_credentials answers without a refresh token.
        message = _(
            "Signed in with the {grant} grant; got an access token without a refresh "
            "token (the bridge signs in again when it expires)"
        )
    outcome.results.append(
        CheckResult(
            "token",
            Status.OK,
            message.format(grant=client.grant),
            {"grant": client.grant},
        )
    )
    outcome.results.append(_check_identity(client))
    return outcome


def _check_identity(client: V8Client) -> CheckResult:
    try:
        user = client.verify_identity()
    except IdentityError as exc:
        return CheckResult(
            "identity",
            Status.FAIL,
            str(exc),
            {"expected": exc.expected, "actual": exc.actual},
        )
    except BridgeError as exc:
        return CheckResult("identity", Status.FAIL, str(exc))
    name = str(user.get("user_name") or user.id)
    admin = str(user.get("is_admin") or "0") in ("1", "true", "True")
    message = (
        _("The token acts as SuiteCRM user {user}, an administrator")
        if admin
        else _("The token acts as SuiteCRM user {user}")
    ).format(user=name)
    return CheckResult(
        "identity", Status.OK, message, {"user_name": name, "is_admin": admin}
    )


def _check_version(
    prefix: str | None, sugar_version: str | None, reached: bool
) -> CheckResult:
    """The V8 API has no version route; the prefix and the config table hint at it."""
    if not reached:
        return _skipped("version", _("the API is not reachable"))
    line = "8.x" if prefix and prefix.lower().startswith("/legacy") else "7.x"
    if sugar_version:
        message = _(
            "SuiteCRM version: the V8 API does not reveal it; the API prefix {prefix} "
            "points to SuiteCRM {line}, and its database to a SugarCRM CE {version} "
            "base"
        )
    else:
        message = _(
            "SuiteCRM version: the V8 API does not reveal it; the API prefix {prefix} "
            "points to SuiteCRM {line}"
        )
    return CheckResult(
        "version",
        Status.INFO,
        message.format(prefix=prefix, line=line, version=sugar_version),
        {"line": line, "sugar_version": sugar_version},
    )


# -- the database ----------------------------------------------------------------


@dataclass
class _DbOutcome:
    results: list[CheckResult]
    sugar_version: str | None = None


_DB_KEYS = ("database", "privileges", "tables", "charset", "indexes")


def _check_database(
    url: str | sa.Engine | None, scanned_tables: Sequence[str]
) -> _DbOutcome:
    if not url:
        return _DbOutcome(
            [
                CheckResult(
                    "database",
                    Status.FAIL,
                    _(
                        "suitecrm.database_url is not set: the sync reads SuiteCRM's "
                        "changes by SQL; set it (password in "
                        "DSCRM_SUITECRM_DATABASE_PASSWORD)"
                    ),
                ),
                *(_skipped(key, _("no database")) for key in _DB_KEYS[1:]),
            ]
        )
    try:
        engine = open_engine(url)
    except BridgeError as exc:
        return _DbOutcome(
            [
                CheckResult("database", Status.FAIL, str(exc)),
                *(_skipped(key, _("no database")) for key in _DB_KEYS[1:]),
            ]
        )
    try:
        return _check_database_with(engine, scanned_tables)
    finally:
        if not isinstance(url, sa.Engine):
            engine.dispose()


def _check_database_with(
    engine: sa.Engine, scanned_tables: Sequence[str]
) -> _DbOutcome:
    where = mask_url(engine)
    try:
        with engine.connect() as conn:
            server = _server_version(conn)
            present = set(sa.inspect(conn).get_table_names())
            outcome = _DbOutcome(
                [
                    CheckResult(
                        "database",
                        Status.OK,
                        _("Database reachable: {server} at {url}").format(
                            server=server, url=where
                        ),
                        {"url": where, "server": server},
                    )
                ],
                sugar_version=_sugar_version(conn, present),
            )
            outcome.results += [
                _check_privileges(conn, present),
                _check_tables(present),
                _check_charset(conn, present),
                _check_indexes(conn, present, scanned_tables),
            ]
            return outcome
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return _DbOutcome(
            [
                CheckResult(
                    "database",
                    Status.FAIL,
                    _("Cannot use the database at {url}: {reason}").format(
                        url=where, reason=reason
                    ),
                    {"url": where},
                ),
                *(_skipped(key, _("no database")) for key in _DB_KEYS[1:]),
            ]
        )


def _server_version(conn: sa.Connection) -> str:
    if _is_mysql(conn):
        version = str(conn.execute(sa.text("SELECT VERSION()")).scalar() or "")
        kind = "MariaDB" if "mariadb" in version.lower() else "MySQL"
        return f"{kind} {version.split('-')[0]}"
    version = ".".join(map(str, conn.dialect.server_version_info or ()))
    return f"{conn.dialect.name} {version}".strip()


def _sugar_version(conn: sa.Connection, present: set[str]) -> str | None:
    """The ``config`` row ``info/sugar_version`` (6.5.25 on SuiteCRM 7.13)."""
    if tables.config.name not in present:
        return None
    query = sa.select(tables.config.c.value).where(
        tables.config.c.category == "info", tables.config.c.name == "sugar_version"
    )
    value = conn.execute(query).scalar()
    return str(value) if value else None


def _check_privileges(conn: sa.Connection, present: set[str]) -> CheckResult:
    if not _is_mysql(conn):
        return CheckResult(
            "privileges",
            Status.SKIP,
            _("Privileges: not applicable to {kind} (file permissions decide)").format(
                kind=conn.dialect.name
            ),
        )
    lines = [str(row[0]) for row in conn.execute(sa.text("SHOW GRANTS"))]
    database = str(conn.execute(sa.text("SELECT DATABASE()")).scalar() or "")
    return assess_privileges(parse_grants(lines, database), present)


def assess_privileges(grants: Grants, present: set[str]) -> CheckResult:
    """Read on every table the bridge uses; write where provisioning writes."""
    wanted = sorted(name for name in tables.metadata.tables if name in present)
    unreadable = [name for name in wanted if not READ_PRIVILEGES <= grants.on(name)]
    if unreadable:
        return CheckResult(
            "privileges",
            Status.FAIL,
            _("The database user may not read {tables}; grant SELECT on them").format(
                tables=", ".join(unreadable)
            ),
            {"unreadable": unreadable},
        )
    unwritable = [
        name
        for name in WRITE_TABLES
        if name in present and not WRITE_PRIVILEGES <= grants.on(name)
    ]
    if unwritable:
        return CheckResult(
            "privileges",
            Status.WARN,
            _(
                "The database user may read but not write {tables}: provisioning of "
                "role actions and memberships and the feed write-back need INSERT, "
                "UPDATE and DELETE there"
            ).format(tables=", ".join(unwritable)),
            {"unwritable": unwritable},
        )
    return CheckResult(
        "privileges",
        Status.OK,
        _("The database user may read every table and write where provisioning does"),
    )


def parse_grants(lines: Iterable[str], database: str) -> Grants:
    """What ``SHOW GRANTS`` lines allow on the tables of ``database``.

    Understands global (``*.*``), database (``db.*``, with ``%``/``_`` wildcards)
    and table grants; ``ALL [PRIVILEGES]`` stands for every privilege checked.
    """
    everything = READ_PRIVILEGES | WRITE_PRIVILEGES
    database_wide: set[str] = set()
    per_table: dict[str, set[str]] = {}
    for line in lines:
        match = _GRANT.match(line.strip())
        if match is None:
            continue
        privileges = _privileges(match.group("privs"), everything)
        db, table = _unquote(match.group("db")), _unquote(match.group("table"))
        if db != "*" and not _matches_database(db, database):
            continue
        if table == "*":
            database_wide |= privileges
        else:
            per_table.setdefault(table, set()).update(privileges)
    return Grants(
        frozenset(database_wide),
        {name: frozenset(privs) for name, privs in per_table.items()},
    )


def _privileges(text: str, everything: frozenset[str]) -> set[str]:
    found: set[str] = set()
    for item in text.split(","):
        if "(" in item:
            continue  # a column grant does not open the whole table
        name = item.strip().upper()
        if name in ("ALL", "ALL PRIVILEGES"):
            found |= everything
        else:
            found.add(name)
    return found


def _unquote(name: str) -> str:
    if name.startswith("`") and name.endswith("`"):
        return name[1:-1].replace("``", "`")
    return name


def _matches_database(pattern: str, database: str) -> bool:
    """A database grant's name, where ``%`` and ``_`` are wildcards unless escaped."""
    regex = ""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            regex += re.escape(pattern[index + 1])
            index += 2
            continue
        regex += ".*" if char == "%" else "." if char == "_" else re.escape(char)
        index += 1
    return re.fullmatch(regex, database) is not None


def _check_tables(present: set[str]) -> CheckResult:
    missing = sorted(set(tables.metadata.tables) - present)
    if missing:
        return CheckResult(
            "tables",
            Status.FAIL,
            _(
                "Tables the bridge uses are missing: {tables}; is this SuiteCRM's "
                "database?"
            ).format(tables=", ".join(missing)),
            {"missing": missing},
        )
    return CheckResult(
        "tables",
        Status.OK,
        _("All {count} tables the bridge uses are present").format(
            count=len(tables.metadata.tables)
        ),
    )


def _check_charset(conn: sa.Connection, present: set[str]) -> CheckResult:
    if not _is_mysql(conn):
        return CheckResult(
            "charset",
            Status.OK,
            _("Text is stored as UTF-8 ({kind}): Chinese and emoji are kept").format(
                kind=conn.dialect.name
            ),
        )
    names = sorted(name for name in tables.metadata.tables if name in present)
    if not names:
        return _skipped("charset", _("no tables"))
    query = sa.text(
        "SELECT TABLE_NAME, COLUMN_NAME, CHARACTER_SET_NAME "
        "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
        "AND CHARACTER_SET_NAME IS NOT NULL AND TABLE_NAME IN :names"
    ).bindparams(sa.bindparam("names", expanding=True))
    by_charset: dict[str, list[str]] = {}
    for table, column, charset in conn.execute(query, {"names": names}):
        by_charset.setdefault(str(charset).lower(), []).append(f"{table}.{column}")
    others = {cs: cols for cs, cols in by_charset.items() if cs != "utf8mb4"}
    details = {cs: len(cols) for cs, cols in by_charset.items()}
    if not others:
        return CheckResult(
            "charset",
            Status.OK,
            _("Text columns are utf8mb4: Chinese and emoji are kept"),
            details,
        )
    examples = ", ".join(_example_column(cols) for cols in others.values())
    narrow = [cs for cs in others if cs not in ("utf8", "utf8mb3")]
    if narrow:
        return CheckResult(
            "charset",
            Status.FAIL,
            _(
                "Text columns use {charsets} (e.g. {examples}): Chinese text cannot "
                "be stored; convert the tables to utf8mb4"
            ).format(charsets=", ".join(sorted(others)), examples=examples),
            details,
        )
    count = sum(len(cols) for cols in others.values())
    return CheckResult(
        "charset",
        Status.WARN,
        _(
            "{count} text columns are utf8mb3 (e.g. {examples}): Chinese works, but "
            "emoji and other 4-byte characters cannot be stored, and writes carrying "
            "them fail or are cut; convert the tables to utf8mb4"
        ).format(count=count, examples=examples),
        details,
    )


def _example_column(columns: Sequence[str]) -> str:
    """A column to name in a message: a text one (``accounts.name``) before an id."""
    for suffix in (".name", ".description"):
        for column in columns:
            if column.endswith(suffix):
                return column
    return columns[0]


def _check_indexes(
    conn: sa.Connection, present: set[str], scanned: Sequence[str]
) -> CheckResult:
    inspector = sa.inspect(conn)
    lacking = [
        name
        for name in dict.fromkeys(scanned)
        if name in present and not _has_keyset_index(inspector, name)
    ]
    if lacking:
        example = lacking[0]
        return CheckResult(
            "indexes",
            Status.WARN,
            _(
                "Tables without an index for (date_modified, id) scans: {tables}; "
                "each sync poll then reads the whole table. Consider e.g. CREATE INDEX "
                "idx_dscrm_keyset ON {example} (date_modified, id)"
            ).format(tables=", ".join(lacking), example=example),
            {"lacking": lacking},
        )
    return CheckResult(
        "indexes",
        Status.OK,
        _("Every synced table has an index for (date_modified, id) scans"),
    )


def _has_keyset_index(inspector: Any, table: str) -> bool:
    """An index leading with date_modified serves ``ORDER BY date_modified, id``."""
    for index in inspector.get_indexes(table):
        columns = [c for c in index.get("column_names") or [] if c]
        if columns[:1] == [KEYSET_COLUMNS[0]]:
            return True
    return False


def _is_mysql(conn: sa.Connection) -> bool:
    return conn.dialect.name in ("mysql", "mariadb")


# What each check is called in a "skipped" line; translated when shown.
LABELS = {
    "api": N_("SuiteCRM API"),
    "token": N_("Sign-in"),
    "identity": N_("Acting user"),
    "version": N_("SuiteCRM version"),
    "database": N_("Database"),
    "privileges": N_("Database privileges"),
    "tables": N_("Tables"),
    "charset": N_("Character set"),
    "indexes": N_("Indexes for sync scans"),
}


def _skipped(key: str, reason: str) -> CheckResult:
    return CheckResult(
        key,
        Status.SKIP,
        _("{check}: skipped, {reason}").format(check=_(LABELS[key]), reason=reason),
    )
