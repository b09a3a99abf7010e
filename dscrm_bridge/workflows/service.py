"""The workflow commands as plain functions: what ``dscrm workflow ...`` calls.

    list_workflows(config) -> list[WorkflowInfo]
    example_input(config, name) -> str
    run_workflow_file(config, name, input_path, *, dry_run, as_user, report)
    import_file(config, path, *, module, mapping_path, match_key, dry_run,
                start_progress) -> ImportSummary
    summary_lines(summary) -> list[str]; result_dict(result) -> dict
    open_client(config, *, as_user=None) -> Session (client + acting user)

Signing in happens here, once per command: as ``suitecrm.username`` with
DSCRM_SUITECRM_PASSWORD, or, with ``--as USER``, as that user with
DSCRM_WORKFLOWS_AS_PASSWORD; ``/V8/current-user`` then proves the token acts as
the user asked for before anything is written.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dscrm_bridge.config import Config
from dscrm_bridge.errors import ConfigError, InputError
from dscrm_bridge.i18n import _
from dscrm_bridge.suitecrm.v8client import V8Client
from dscrm_bridge.workflows.definition import (
    Workflow,
    available_workflows,
    find_workflow,
    read_yaml_lines,
)
from dscrm_bridge.workflows.engine import RunResult, prepare_inputs, run_workflow
from dscrm_bridge.workflows.importer import ImportSummary, import_sheet
from dscrm_bridge.workflows.labels import join_names, load_labels
from dscrm_bridge.workflows.values import zone
from dscrm_bridge.yamlfile import Path_

logger = logging.getLogger(__name__)

Report = Callable[[str], None]
Progress = Callable[[int], None]


@dataclass(frozen=True)
class WorkflowInfo:
    name: str
    description: str
    inputs: list[str]
    source: str
    shipped: bool


@dataclass
class Session:
    """A signed-in client and the user its token acts as."""

    client: V8Client
    user_id: str
    user_name: str

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def list_workflows(config: Config) -> list[WorkflowInfo]:
    """Every workflow the configuration offers, shipped ones first."""
    workflows = available_workflows(config.workflows.directory or None)
    ordered = sorted(workflows.values(), key=lambda wf: (not wf.shipped, wf.name))
    return [
        WorkflowInfo(
            name=wf.name,
            description=wf.description,
            inputs=list(wf.inputs),
            source=str(wf.path),
            shipped=wf.shipped,
        )
        for wf in ordered
    ]


def example_input(config: Config, name: str) -> str:
    """The example input of workflow ``name`` as YAML, to start an input file from."""
    workflow = find_workflow(name, config.workflows.directory or None)
    return yaml.safe_dump(dict(workflow.example), allow_unicode=True, sort_keys=False)


def open_client(config: Config, *, as_user: str | None = None) -> Session:
    """Sign in as the configured user, or as ``as_user``, and prove who acts."""
    crm = config.suitecrm
    user_name = as_user or crm.username
    password = config.workflows.as_password if as_user else crm.password
    problems = []
    if not crm.client_id or not crm.client_secret:
        problems.append(
            _(
                "suitecrm.client_id and DSCRM_SUITECRM_CLIENT_SECRET "
                "(a password-grant client)"
            )
        )
    if not password:
        problems.append(
            _("DSCRM_WORKFLOWS_AS_PASSWORD (the password of {user})").format(
                user=user_name
            )
            if as_user
            else _("DSCRM_SUITECRM_PASSWORD (the password of {user})").format(
                user=user_name
            )
        )
    if problems:
        raise ConfigError(_("Signing in to SuiteCRM needs:"), problems=problems)

    client = V8Client(
        crm.url,
        client_id=crm.client_id,
        client_secret=crm.client_secret.reveal(),
        username=user_name,
        password=password.reveal(),
        api_prefix=crm.api_prefix,
        timeout_s=crm.timeout_s,
        verify_tls=crm.verify_tls,
    )
    try:
        return verified_session(client, user_name)
    except BaseException:
        client.close()
        raise


def verified_session(client: V8Client, user_name: str) -> Session:
    """``client`` with the user its token acts as, which must be ``user_name``."""
    me = client.verify_identity(user_name)
    return Session(client=client, user_id=me.id, user_name=str(me.get("user_name")))


def run_workflow_file(
    config: Config,
    name: str,
    input_path: str | Path,
    *,
    dry_run: bool = False,
    as_user: str | None = None,
    report: Report,
) -> RunResult:
    """Run workflow ``name`` on the input file through the configured SuiteCRM."""
    workflow = find_workflow(name, config.workflows.directory or None)
    # --as names who acts: without its password the run must not quietly fall
    # back to checking the input alone, so open_client says what is missing.
    offline = dry_run and not as_user and not _can_sign_in(config, None)
    if offline:
        report(_("No SuiteCRM credentials: checking the input without lookups."))
        return run_with_session(
            None,
            workflow,
            input_path,
            timezone=config.workflows.timezone,
            dry_run=True,
            report=report,
        )
    with open_client(config, as_user=as_user) as session:
        report(_("Signed in as {user}.").format(user=session.user_name))
        return run_with_session(
            session,
            workflow,
            input_path,
            timezone=config.workflows.timezone,
            dry_run=dry_run,
            report=report,
        )


def run_with_session(
    session: Session | None,
    workflow: Workflow,
    input_path: str | Path,
    *,
    timezone: str,
    dry_run: bool,
    report: Report,
) -> RunResult:
    """Prepare the input file and run ``workflow`` as the session's user."""
    path = Path(input_path)
    inputs, lines = _read_input(path)
    prepared = prepare_inputs(
        workflow,
        inputs,
        labels=load_labels(),
        tz=zone(timezone),
        base_dir=path.parent,
        source=str(path),
        lines=lines,
    )
    return run_workflow(
        session.client if session else None,
        workflow,
        prepared,
        acting_user_id=session.user_id if session else None,
        dry_run=dry_run,
        report=report,
    )


def _can_sign_in(config: Config, as_user: str | None) -> bool:
    password = config.workflows.as_password if as_user else config.suitecrm.password
    return bool(
        config.suitecrm.client_id and config.suitecrm.client_secret and password
    )


def _read_input(path: Path) -> tuple[Mapping[str, Any], Mapping[Path_, int]]:
    """The input file's sections and the line of every key and list item."""
    data, lines = read_yaml_lines(path)
    if not isinstance(data, Mapping):
        raise InputError(
            _("{path} must map input sections to their values").format(path=path),
            path=str(path),
        )
    return data, lines


def import_file(
    config: Config,
    path: str | Path,
    *,
    module: str,
    mapping_path: str | Path | None = None,
    match_key: str | None = None,
    dry_run: bool = False,
    start_progress: Callable[[int], Progress] | None = None,
) -> ImportSummary:
    """Import an .xlsx or .csv file into ``module`` of the configured SuiteCRM.

    A dry run without credentials checks the file alone (every valid row counts
    as a create); with credentials it also compares with the records in SuiteCRM.
    """
    settings = config.workflows
    run = functools.partial(
        import_sheet,
        module=module,
        labels=load_labels(),
        tz=zone(settings.timezone),
        mapping_path=mapping_path,
        match_key=match_key or settings.import_match_key,
        dry_run=dry_run,
        concurrency=settings.import_concurrency,
        start_progress=start_progress,
    )
    if dry_run and not _can_sign_in(config, None):
        return run(None, path)
    with open_client(config) as session:
        return run(session.client, path, owner_id=session.user_id)


def summary_lines(summary: ImportSummary) -> list[str]:
    """The import's summary as lines to print."""
    lines = []
    if summary.encoding:
        lines.append(_("Read as {encoding}.").format(encoding=summary.encoding))
    if summary.ignored_columns:
        lines.append(
            _("Ignored columns (no field of that name): {names}").format(
                names=join_names(summary.ignored_columns)
            )
        )
    for error in summary.errors:
        lines.append(
            _("Row {row}: {reason}").format(row=error.row, reason=error.reason)
        )
    template = (
        _(
            "Dry run of {total} rows: {created} to create, {updated} to update, "
            "{skipped} unchanged, {failed} rejected."
        )
        if summary.dry_run
        else _(
            "{total} rows: {created} created, {updated} updated, {skipped} "
            "unchanged, {failed} failed."
        )
    )
    lines.append(
        template.format(
            total=summary.total,
            created=summary.created,
            updated=summary.updated,
            skipped=summary.skipped,
            failed=summary.failed,
        )
    )
    if summary.error_file:
        lines.append(
            _("Rejected rows and their reasons: {path}").format(path=summary.error_file)
        )
    return lines


def result_dict(result: RunResult) -> dict[str, Any]:
    """A workflow run as JSON-ready data: per step, the records it touched."""
    return {
        "workflow": result.workflow,
        "dry_run": result.dry_run,
        "steps": {
            step: [
                {"module": record.module, "id": record.id, "name": record.name}
                for record in records
            ]
            for step, records in result.records.items()
        },
        "lines": result.lines,
    }
