"""Latency and throughput of the feed's list endpoint over 1M entries (MariaDB).

    python bench/feed_list.py [--entries 1000000] [--requests 2000] [--clients 8]

Builds a bridge database with N entries (MariaDB's SEQUENCE engine, one
statement) and a SuiteCRM database seeded like a fresh install, starts
``dscrm serve`` in a subprocess on a loopback port, and lets a load generator
(threads with keep-alive HTTP) ask ``GET /api/v1/entries`` with an API token:
first pages, and pages deep in the feed by cursor.  Prints p50 / p99 latency
and requests per second for an admin and for a user whose roles leave every
module at SuiteCRM's default (All), so that the ACL evaluation is paid per
request.  Both databases are dropped at the end.  Not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pymysql
import requests
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dscrm_bridge.feed import upgrade  # noqa: E402
from dscrm_bridge.feed.timeline import Cursor  # noqa: E402
from dscrm_bridge.sandbox import seed  # noqa: E402
from dscrm_bridge.suitecrm import tables as t  # noqa: E402
from dscrm_bridge.web.auth import create_api_token  # noqa: E402

HOST = "127.0.0.1"
MODULES = ("Accounts", "Contacts", "Opportunities", "Notes", "Documents", "Meetings")


def _mysql() -> pymysql.connections.Connection:
    return pymysql.connect(host=HOST, user="root", charset="utf8mb4", autocommit=True)


def _create_database(conn: pymysql.connections.Connection) -> str:
    name = "dscrm_bench_" + uuid.uuid4().hex[:10]
    with conn.cursor() as cur:
        cur.execute(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
        )
    return name


def _url(name: str) -> str:
    return f"mysql+pymysql://root@{HOST}:3306/{name}?charset=utf8mb4"


def _fill_feed(url: str, entries: int) -> None:
    upgrade(url)
    engine = sa.create_engine(url)
    modules = ",".join(f"'{m}'" for m in MODULES)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO feed_entries (change_key, module, record_id, record_name,"
                " action, actor_id, actor_name, occurred_at, text_zh, text_en,"
                " created_at) "
                "SELECT CONCAT('bench:', seq), "
                f" ELT(1 + seq % 6, {modules}),"
                " LPAD(HEX(seq), 36, '0'), CONCAT('客户 ', seq),"
                " ELT(1 + seq % 3, 'create', 'update', 'relate'),"
                " '1', '张三',"
                " TIMESTAMP('2026-01-01') + INTERVAL seq SECOND,"
                " CONCAT('张三 新建了客户「客户 ', seq, '」'),"
                " CONCAT('张三 created account \"客户 ', seq, '\"'),"
                " NOW() "
                f"FROM seq_1_to_{entries}"
            )
        )
        # Fresh statistics, as a server that has lived with its data would have.
        conn.execute(sa.text("ANALYZE TABLE feed_entries"))
    engine.dispose()
    print(f"filled {entries:,} entries in {time.perf_counter() - started:.1f} s")


def _regular_user(url: str) -> str:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            t.users.insert().values(
                id="bench-user",
                user_name="bench",
                first_name="三",
                last_name="张",
                status="Active",
                is_admin=0,
                deleted=0,
            )
        )
    engine.dispose()
    return "bench"


def _start_server(feed_url: str, crm_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DSCRM_BRIDGE_DATABASE_URL": feed_url,
        "DSCRM_SUITECRM_DATABASE_URL": crm_url,
        "DSCRM_SUITECRM_CLIENT_ID": "bench-client",
        "DSCRM_SUITECRM_CLIENT_SECRET": "bench-secret-not-used",
        "DSCRM_WEB_SESSION_SECRET": uuid.uuid4().hex,
    }
    server = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "cli.py"),
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
        ],
        env=env,
        cwd="/tmp",
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://{HOST}:{port}/healthz", timeout=1).ok:
                return server
        except requests.ConnectionError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("dscrm serve did not come up")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _deep_cursors(entries: int, count: int) -> list[str]:
    """Cursors at random positions of the whole feed (entry k is at base + k s)."""
    rng = random.Random(6)
    base = datetime(2026, 1, 1)
    positions = [rng.randrange(100, entries) for _ in range(count)]
    return [Cursor(base + timedelta(seconds=k), k).encode() for k in positions]


def _load(
    base: str, token: str, requests_total: int, clients: int, cursors: list[str]
) -> tuple[list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = requests_total // clients

    def run(index: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        mine = []
        for n in range(per_client):
            params = {"limit": 30}
            if cursors and n % 2:
                params["cursor"] = cursors[(index + n) % len(cursors)]
            started = time.perf_counter()
            answer = session.get(f"{base}/api/v1/entries", params=params)
            mine.append(time.perf_counter() - started)
            if answer.status_code != 200 or len(answer.json()["entries"]) != 30:
                raise SystemExit(f"bad answer {answer.status_code}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - started


def _report(label: str, latencies: list[float], elapsed: float) -> None:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(
        f"{label:<34} {len(ordered):>6} req  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms"
        f"  {len(ordered) / elapsed:7.1f} req/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()

    conn = _mysql()
    feed_db = _create_database(conn)
    crm_db = _create_database(conn)
    server = None
    try:
        crm_engine = sa.create_engine(_url(crm_db))
        seed(crm_engine)
        crm_engine.dispose()
        regular = _regular_user(_url(crm_db))
        _fill_feed(_url(feed_db), args.entries)
        port = _free_port()
        server = _start_server(_url(feed_db), _url(crm_db), port)
        base = f"http://{HOST}:{port}"
        print(
            f"dscrm serve at {base}; {args.clients} clients on loopback, "
            f"limit=30, half first pages and half deep cursors"
        )
        for label, user in (
            ("admin", "admin"),
            ("regular user (role default All)", regular),
        ):
            _id, token = create_api_token(
                _url(feed_db), _url(crm_db), user, name="bench"
            )
            cursors = _deep_cursors(args.entries, 200)
            _load(base, token, args.clients * 10, args.clients, cursors)  # warm-up
            latencies, elapsed = _load(
                base, token, args.requests, args.clients, cursors
            )
            _report(label, latencies, elapsed)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=15)
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{feed_db}`")
            cur.execute(f"DROP DATABASE IF EXISTS `{crm_db}`")
        conn.close()


if __name__ == "__main__":
    main()
