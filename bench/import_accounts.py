"""Import speed: dry-run rows per second, and live creates through the V8 API.

    python bench/import_accounts.py [--rows 10000] [--db URL] [--threads 1,4,8]
                                    [--loop-rows 500]

1. dry run: a --rows customer sheet with bad rows (unknown dropdown label,
   missing name, malformed phone, repeated name) as .xlsx and as GBK .csv,
   checked without a server; prints rows per second.
2. live: the sandbox (SQLite in a temporary directory, or --db, e.g. a MariaDB
   database you created) answers the V8 API on 127.0.0.1; the .xlsx is imported
   with each --threads setting into a fresh set of names, and a second import of
   the last one shows it creates nothing.  For comparison, a plain loop creates
   --loop-rows accounts one request at a time through the same client.

Rates are per second of wall-clock time on this machine; a real SuiteCRM tops
out near 30 creates per second (performance-notes.md), the sandbox elsewhere.
Not part of the test run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dscrm_bridge.sandbox import running_sandbox  # noqa: E402
from dscrm_bridge.suitecrm.v8client import V8Client  # noqa: E402
from dscrm_bridge.workflows.importer import ImportSummary, import_sheet  # noqa: E402
from dscrm_bridge.workflows.labels import load_labels  # noqa: E402
from dscrm_bridge.workflows.values import zone  # noqa: E402
from tests.unit.workflows.sheets import (  # noqa: E402
    customer_sheet,
    write_csv,
    write_xlsx,
)

ADMIN_PASSWORD = "bench-admin-password"
TZ = zone("Asia/Shanghai")


def main() -> None:
    options = _arguments()
    with tempfile.TemporaryDirectory(prefix="dscrm-import-bench-") as workdir:
        work = Path(workdir)
        _dry_runs(work, options.rows)
        _live(work, options)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--db", default=None, help="sandbox database URL")
    parser.add_argument("--threads", default="1,4,8")
    parser.add_argument("--loop-rows", type=int, default=500)
    return parser.parse_args()


def _timed_import(
    client: V8Client | None, path: Path, **options: Any
) -> tuple[ImportSummary, float]:
    started = time.perf_counter()
    summary = import_sheet(
        client,
        path,
        module="Accounts",
        labels=load_labels(),
        tz=TZ,
        dry_run=client is None,
        **options,
    )
    return summary, time.perf_counter() - started


def _dry_runs(work: Path, rows: int) -> None:
    sheet = customer_sheet(rows, bad_every=97, emoji=False)
    files = {
        "xlsx": write_xlsx(work / "dry.xlsx", sheet.rows),
        "csv (GBK)": write_csv(work / "dry.csv", sheet.rows, "gbk"),
    }
    for kind, path in files.items():
        summary, elapsed = _timed_import(None, path)
        print(
            f"dry run {kind:9s}: {summary.total} rows in {elapsed:.2f} s = "
            f"{summary.total / elapsed:,.0f} rows/s "
            f"({summary.created} valid, {summary.failed} rejected)"
        )


def _live(work: Path, options: argparse.Namespace) -> None:
    db_url = options.db or f"sqlite:///{work / 'sandbox.db'}"
    with running_sandbox(
        db_url, upload_dir=work / "upload", admin_password=ADMIN_PASSWORD
    ) as sandbox:
        info = sandbox.info
        client = V8Client(
            sandbox.base_url,
            client_id=info.password_client_id,
            client_secret=info.password_client_secret,
            username=info.admin_user_name,
            password=ADMIN_PASSWORD,
        )
        owner = client.verify_identity(info.admin_user_name).id
        _one_at_a_time(client, options.loop_rows, owner)
        last = None
        for threads in [int(n) for n in options.threads.split(",")]:
            last = _import_live(work, client, options.rows, threads, owner)
        if last is not None:
            summary, elapsed = _timed_import(client, last, owner_id=owner)
            print(
                f"same sheet again      : {summary.created} created, "
                f"{summary.updated} updated, {summary.skipped} unchanged "
                f"in {elapsed:.2f} s"
            )
        client.close()


def _one_at_a_time(client: V8Client, rows: int, owner: str) -> None:
    started = time.perf_counter()
    for index in range(rows):
        client.create(
            "Accounts",
            {
                "name": f"逐条{index:05d}有限公司",
                "industry": "Technology",
                "phone_office": f"021-{56000000 + index}",
                "assigned_user_id": owner,
            },
        )
    elapsed = time.perf_counter() - started
    print(
        f"one request at a time : {rows} creates in {elapsed:.2f} s = "
        f"{rows / elapsed:,.1f} records/s"
    )


def _import_live(
    work: Path, client: V8Client, rows: int, threads: int, owner: str
) -> Path:
    sheet = customer_sheet(rows, bad_every=97, prefix=f"并发{threads}号", emoji=False)
    path = write_xlsx(work / f"live{threads}.xlsx", sheet.rows)
    summary, elapsed = _timed_import(client, path, concurrency=threads, owner_id=owner)
    print(
        f"import, {threads} at once{'':3s}: {summary.created} created of "
        f"{summary.total} rows ({summary.failed} rejected) in {elapsed:.2f} s = "
        f"{summary.created / elapsed:,.1f} records/s"
    )
    return path


if __name__ == "__main__":
    main()
