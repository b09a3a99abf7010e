"""The live tier's contracts with the sandbox as the target, in every normal run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from dscrm_bridge.sandbox import running_sandbox
from dscrm_bridge.suitecrm import tables
from dscrm_bridge.suitecrm.v8client import forget_probed_prefixes
from tests.live.contract import CONTRACTS, LiveTarget, Scratch


@pytest.fixture(scope="module")
def sandbox_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveTarget]:
    workdir: Path = tmp_path_factory.mktemp("live-sandbox")
    url = f"sqlite:///{workdir / 'crm.db'}"
    forget_probed_prefixes()
    with running_sandbox(url, upload_dir=workdir / "upload") as box:
        info = box.info
        yield LiveTarget(
            base_url=box.base_url,
            client_id=info.password_client_id,
            client_secret=info.password_client_secret,
            username=info.admin_user_name,
            password=info.admin_password,
            db_url=box.engine,
        )
    forget_probed_prefixes()


@pytest.mark.parametrize("contract", list(CONTRACTS.values()), ids=list(CONTRACTS))
def test_sandbox_meets_the_live_contract(
    sandbox_target: LiveTarget, contract: Callable[[Scratch], None]
) -> None:
    with Scratch.opened(sandbox_target) as scratch:
        contract(scratch)

    _assert_scratch_records_deleted(sandbox_target, scratch)


def _assert_scratch_records_deleted(target: LiveTarget, scratch: Scratch) -> None:
    """The contract left nothing of its own behind (deleted=1 in every table)."""
    engine = target.db_url
    assert isinstance(engine, sa.Engine)
    ids = [record_id for _, record_id in scratch.created]
    with engine.connect() as conn:
        for table in (tables.accounts, tables.contacts, tables.notes, tables.meetings):
            alive = conn.execute(
                sa.select(sa.func.count())
                .select_from(table)
                .where(table.c.id.in_(ids), table.c.deleted == 0)
            ).scalar()
            assert alive == 0, table.name
