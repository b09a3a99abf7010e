"""Sync throughput (SQL path vs API path) and the cost of an idle poll.

    python bench/sync_throughput.py [--rows 100000] [--table-rows 1000000]
                                    [--mysql mysql+pymysql://root@127.0.0.1:3306]

1. Records per second captured from the same N changed accounts (one saved per
   second, as a day of activity looks) by the SQL path (``SuiteCRMGateway``) and
   by the API path (``ApiReader`` over the sandbox's V8 API on a loopback port),
   each into a fresh feed store, as a backfill (``since``).
2. The cost of one idle poll (nothing changed: the overlap window is re-read)
   on an accounts table of M rows, without and then with an index on
   (date_modified, id) - SuiteCRM creates none.

SQLite files in a temporary directory by default; ``--mysql`` takes a server
URL (no database) and creates, then drops, databases of its own there.  Prints
figures only; not part of the test run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dscrm_bridge.feed import FeedStore, upgrade  # noqa: E402
from dscrm_bridge.sandbox import running_sandbox  # noqa: E402
from dscrm_bridge.suitecrm import tables  # noqa: E402
from dscrm_bridge.suitecrm.gateway import Keyset, SuiteCRMGateway  # noqa: E402
from dscrm_bridge.suitecrm.v8client import V8Client  # noqa: E402
from dscrm_bridge.sync import sync_once  # noqa: E402
from dscrm_bridge.sync.api_source import ApiReader  # noqa: E402

START = datetime(2026, 11, 1)
USER_ID = "1"
INSERT_CHUNK = 5000
IDLE_POLLS = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--table-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--mysql",
        default="",
        help="server URL, e.g. mysql+pymysql://root@127.0.0.1:3306",
    )
    parser.add_argument("--skip-api", action="store_true")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="dscrm-bench-") as workdir,
        _databases(args.mysql, Path(workdir)) as make_db,
    ):
        throughput(make_db, args.rows, skip_api=args.skip_api)
        idle_poll(make_db, args.table_rows)


def throughput(make_db, rows: int, *, skip_api: bool) -> None:  # type: ignore[no-untyped-def]
    crm_url = make_db()
    with running_sandbox(crm_url) as box:
        _fill_accounts(box.engine, rows)
        since = START - timedelta(seconds=1)
        took = _timed(
            lambda: sync_once(
                SuiteCRMGateway(box.engine),
                _store(make_db),
                modules=["Accounts"],
                since=since,
                batch_size=500,
            )
        )
        print(
            f"SQL path: {rows} changed rows in {took:.1f} s = "
            f"{rows / took:,.0f} records/s"
        )
        if skip_api:
            return
        info = box.info
        with V8Client(
            box.base_url,
            client_id=info.password_client_id,
            client_secret=info.password_client_secret,
            username=info.admin_user_name,
            password=info.admin_password,
        ) as client:
            took = _timed(
                lambda: sync_once(
                    ApiReader(client, page_size=100),
                    _store(make_db),
                    modules=["Accounts"],
                    since=since,
                    batch_size=500,
                )
            )
        print(
            f"API path: {rows} changed rows in {took:.1f} s = "
            f"{rows / took:,.0f} records/s"
        )


def idle_poll(make_db, table_rows: int) -> None:  # type: ignore[no-untyped-def]
    engine = sa.create_engine(make_db())
    tables.accounts.create(engine)
    _fill_accounts(engine, table_rows)
    gateway = SuiteCRMGateway(engine)
    newest = gateway.last_keyset(tables.accounts)
    assert newest is not None
    window = Keyset(newest.date_modified - timedelta(seconds=30), "")

    def poll() -> None:
        gateway.changed_rows(tables.accounts, after=window, limit=500)

    plain = _median_ms(poll)
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE INDEX idx_dscrm_dm_id ON accounts (date_modified, id)")
        )
    indexed = _median_ms(poll)
    print(
        f"idle poll on {table_rows:,} rows: {plain:.1f} ms without an index on "
        f"(date_modified, id), {indexed:.2f} ms with it"
    )
    engine.dispose()


def _fill_accounts(engine: sa.Engine, rows: int) -> None:
    began = time.monotonic()
    for start in range(0, rows, INSERT_CHUNK):
        batch = [
            {
                "id": str(uuid.UUID(int=n)),
                "name": f"客户 {n}",
                "date_entered": START + timedelta(seconds=n),
                "date_modified": START + timedelta(seconds=n),
                "created_by": USER_ID,
                "modified_user_id": USER_ID,
                "deleted": 0,
                "industry": "Banking",
            }
            for n in range(start, min(start + INSERT_CHUNK, rows))
        ]
        with engine.begin() as conn:
            conn.execute(tables.accounts.insert(), batch)
    print(
        f"  (filled {rows:,} accounts in {time.monotonic() - began:.1f} s)",
        file=sys.stderr,
    )


def _store(make_db) -> FeedStore:  # type: ignore[no-untyped-def]
    url = make_db()
    upgrade(url)
    return FeedStore(url)


def _timed(action) -> float:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def _median_ms(action) -> float:  # type: ignore[no-untyped-def]
    action()  # warm the cache: the figure is the steady state
    return statistics.median(_timed(action) for _ in range(IDLE_POLLS)) * 1000


@contextmanager
def _databases(server: str, workdir: Path) -> Iterator[object]:
    created: list[str] = []

    def make() -> str:
        name = "dscrm_bench_" + uuid.uuid4().hex[:10]
        if not server:
            return f"sqlite:///{workdir / (name + '.db')}"
        with sa.create_engine(server).connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        created.append(name)
        return f"{server.rstrip('/')}/{name}?charset=utf8mb4"

    try:
        yield make
    finally:
        if created:
            with sa.create_engine(server).connect() as conn:
                for name in created:
                    conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))


if __name__ == "__main__":
    main()
