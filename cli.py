"""The ``dscrm`` command tree: each command parses, calls the package, prints.

No business logic lives here.  Errors of the bridge are caught once, in
:func:`main`, and shown as one translated line (``--debug`` shows the traceback).
The language is chosen before the tree is built so that help texts are translated
too: ``--lang``, else ``DSCRM_LANGUAGE``, else the POSIX locale, else zh_CN.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click

from dscrm_bridge import i18n
from dscrm_bridge.config import Config, load_config, mask_url
from dscrm_bridge.errors import BridgeError, InputError
from dscrm_bridge.i18n import _

logger = logging.getLogger("dscrm_bridge.cli")


def _early_language(argv: Sequence[str], env: dict[str, str]) -> str:
    """The language asked for, read before click parses anything."""
    for index, arg in enumerate(argv):
        if arg == "--lang" and index + 1 < len(argv):
            return i18n.normalize_language(argv[index + 1])
        if arg.startswith("--lang="):
            return i18n.normalize_language(arg.split("=", 1)[1])
    if env.get("DSCRM_LANGUAGE"):
        return i18n.normalize_language(env["DSCRM_LANGUAGE"])
    return i18n.language_from_locale(env)


i18n.set_language(_early_language(sys.argv[1:], dict(os.environ)))


class State:
    """What the group options leave for the commands: config path, flags."""

    def __init__(self, config_path: str | None, debug: bool) -> None:
        self.config_path = config_path
        self.debug = debug
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


pass_state = click.make_pass_decorator(State)


def _set_language(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    if value:
        i18n.set_language(value)
    return value


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise InputError(
        _(
            "--since {value!r} is not a date; write it as 2026-12-01 or "
            "2026-12-01 08:30:00 (UTC)."
        ).format(value=value)
    )


class UserFacingError(click.ClickException):
    """A BridgeError on its way out: one translated line and the error's exit code."""

    def __init__(self, error: BridgeError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code

    def show(self, file: Any = None) -> None:
        click.echo(_("Error: {message}").format(message=self.message), err=True)


class BridgeGroup(click.Group):
    """Turns every BridgeError raised by a command into a :class:`UserFacingError`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BridgeError as exc:
            state = ctx.find_object(State)
            if state is not None and state.debug:
                logger.exception("failed")
            raise UserFacingError(exc) from exc


@click.group(
    cls=BridgeGroup,
    help=_("dscrm-bridge: provisioning, workflows and a change feed beside SuiteCRM."),
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    envvar="DSCRM_CONFIG",
    help=_("Configuration file (default: dscrm.yaml in the current directory)."),
)
@click.option(
    "--lang",
    type=click.Choice(["zh_CN", "en"]),
    default=None,
    expose_value=False,
    is_eager=True,
    callback=_set_language,
    help=_("Language of messages: zh_CN (default) or en."),
)
@click.option("--debug", is_flag=True, help=_("Show debug logs and tracebacks."))
@click.version_option(package_name="dscrm-bridge")
@click.pass_context
def root(ctx: click.Context, config_path: str | None, debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = State(config_path, debug)


def _feed_engine(state: State) -> Any:
    """The bridge's own database, migrated to the newest schema."""
    from dscrm_bridge.feed import upgrade

    url = state.config.bridge.sql_url()
    upgrade(url)
    return url


def _echo_feed(entries: list[dict[str, Any]], *, as_json: bool) -> None:
    if as_json:
        _echo_json(entries)
        return
    if not entries:
        click.echo(_("The feed is empty."))
        return
    text_key = "text_en" if i18n.current_language() == "en" else "text_zh"
    for entry in entries:
        click.echo(f"{entry['occurred_at']}  {entry[text_key]}")


@root.command(help=_("Serve a local SuiteCRM V8 API sandbox on 127.0.0.1."))
@click.option(
    "--db",
    "db_url",
    default="sqlite:///dscrm-sandbox.db",
    show_default=True,
    help=_("Database of the sandbox: a SQLite file or mysql+pymysql://..."),
)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
def sandbox(db_url: str, port: int) -> None:
    from dscrm_bridge.sandbox import connection_lines, serve

    def ready(base_url: str, info: Any) -> None:
        for line in connection_lines(base_url, info):
            click.echo(line)
        click.echo(_("Press Ctrl-C to stop."))

    click.echo(
        _("Preparing the sandbox database {url} ...").format(url=mask_url(db_url))
    )
    serve(db_url, port=port, on_ready=ready)


@root.group(help=_("The bridge's own database."))
def db() -> None:
    pass


@db.command(
    "upgrade", help=_("Create or upgrade the bridge's tables to the newest schema.")
)
@pass_state
def db_upgrade(state: State) -> None:
    from dscrm_bridge.feed import upgrade

    url = state.config.bridge.sql_url()
    revision = upgrade(url)
    click.echo(
        _("The bridge database {url} is at revision {revision}.").format(
            url=mask_url(url), revision=revision
        )
    )


@root.group(
    invoke_without_command=True,
    help=_("Mirror SuiteCRM's record changes into the feed."),
)
@click.option("--once", is_flag=True, help=_("Run one sync now and exit (for cron)."))
@click.option(
    "--since",
    default=None,
    help=_("First run only: backfill changes from this UTC date (2026-12-01)."),
)
@click.pass_context
def sync(ctx: click.Context, once: bool, since: str | None) -> None:
    if ctx.invoked_subcommand is not None:
        return
    if not once:
        raise click.UsageError(_("Say --once to run one sync now."))
    from dscrm_bridge.sync import sync_once

    state = ctx.find_object(State)
    assert state is not None
    config = state.config
    if not config.suitecrm.database_url:
        raise InputError(
            _(
                "No SuiteCRM database is configured: set suitecrm.database_url in the "
                "configuration or DSCRM_SUITECRM_DATABASE_URL."
            )
        )
    feed_url = _feed_engine(state)
    result = sync_once(
        config.suitecrm.sql_url(),
        feed_url,
        modules=list(config.sync.modules),
        since=_parse_since(since),
        batch_size=config.sync.batch_size,
    )
    for module, count in sorted(result.appended.items()):
        click.echo(
            _("{module}: {count} new entries").format(module=module, count=count)
        )
    click.echo(_("Sync done: {count} new feed entries.").format(count=result.total))


@root.command(help=_("Print the feed, newest first."))
@click.option("--json", "as_json", is_flag=True, help=_("Print JSON."))
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@click.option("--module", default=None, help=_("Only entries of this module."))
@pass_state
def feed(state: State, as_json: bool, limit: int, module: str | None) -> None:
    from dscrm_bridge.feed import FeedStore

    store = FeedStore(_feed_engine(state))
    _echo_feed(store.list_entries(limit=limit, module=module), as_json=as_json)


@root.command(help=_("Run the quickstart story end to end and show the feed."))
@click.option(
    "--target",
    type=click.Choice(["sandbox", "config"]),
    default="sandbox",
    show_default=True,
    help=_(
        "sandbox: a fresh sandbox in a temporary directory; config: the "
        "SuiteCRM of the configuration."
    ),
)
@click.option(
    "--db",
    "db_url",
    default=None,
    help=_("Database for the sandbox (default: SQLite in the temporary directory)."),
)
@click.option(
    "--json", "as_json", is_flag=True, help=_("Print the final feed as JSON.")
)
@pass_state
def demo(state: State, target: str, db_url: str | None, as_json: bool) -> None:
    from dscrm_bridge import demo as story

    report = (lambda line: None) if as_json else click.echo
    if target == "config":
        entries = story.run_against_config(state.config, report=report)
    else:
        entries = story.run_in_sandbox(db_url, report=report)
    _echo_feed(entries, as_json=as_json)


# --- check: is SuiteCRM reachable and usable -------------------------------


# --- roles: security groups, ACL roles and users from YAML --------------------


# --- serve: the feed's HTTP service --------------------------------------------


# --- workflow and import ---------------------------------------------------------


@root.group(help=_("Localized workflows: several records in one go, from one file."))
def workflow() -> None:
    pass


@workflow.command("list", help=_("List the shipped and your own workflows."))
@click.option("--json", "as_json", is_flag=True, help=_("Print JSON."))
@click.option(
    "--example",
    "example_of",
    default=None,
    metavar="NAME",
    help=_("Print an example input file of workflow NAME."),
)
@pass_state
def workflow_list(state: State, as_json: bool, example_of: str | None) -> None:
    from dscrm_bridge.workflows import service

    if example_of:
        click.echo(service.example_input(state.config, example_of), nl=False)
        return
    infos = service.list_workflows(state.config)
    if as_json:
        _echo_json([info.__dict__ for info in infos])
        return
    for info in infos:
        origin = _("shipped") if info.shipped else info.source
        click.echo(f"{info.name}  ({origin})")
        click.echo(f"    {info.description}")
        names = "、".join(info.inputs)
        click.echo("    " + _("Input sections: {names}").format(names=names))


@workflow.command("run", help=_("Run workflow NAME with the input file."))
@click.argument("name")
@click.option(
    "-f",
    "--file",
    "input_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help=_("Input file (YAML with Chinese labels)."),
)
@click.option(
    "--dry-run", is_flag=True, help=_("Check and show the steps; write nothing.")
)
@click.option(
    "--as",
    "as_user",
    default=None,
    metavar="USER",
    help=_("Act as this SuiteCRM user (password from DSCRM_WORKFLOWS_AS_PASSWORD)."),
)
@click.option("--json", "as_json", is_flag=True, help=_("Print the result as JSON."))
@pass_state
def workflow_run(
    state: State,
    name: str,
    input_path: str,
    dry_run: bool,
    as_user: str | None,
    as_json: bool,
) -> None:
    from dscrm_bridge.workflows import service

    report = (lambda line: None) if as_json else click.echo
    result = service.run_workflow_file(
        state.config, name, input_path, dry_run=dry_run, as_user=as_user, report=report
    )
    if as_json:
        _echo_json(service.result_dict(result))
        return
    if dry_run:
        click.echo(_("Dry run: nothing was written."))
    else:
        click.echo(_("Workflow {name} done.").format(name=result.workflow))


@root.command(
    "import",
    help=_("Import an .xlsx or .csv sheet with Chinese headers into a module."),
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--module",
    required=True,
    type=click.Choice(["Accounts", "Contacts", "Opportunities", "Leads"]),
)
@click.option(
    "--mapping",
    "mapping_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help=_("Header map (YAML) instead of the shipped one."),
)
@click.option(
    "--match",
    "match_key",
    default=None,
    type=click.Choice(["name", "phone", "email"]),
    help=_("Find existing records by this (default: workflows.import_match_key)."),
)
@click.option("--dry-run", is_flag=True, help=_("Check and count; write nothing."))
@click.option("--json", "as_json", is_flag=True, help=_("Print the summary as JSON."))
@pass_state
def import_command(
    state: State,
    path: str,
    module: str,
    mapping_path: str | None,
    match_key: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    import contextlib

    from dscrm_bridge.workflows import service

    with contextlib.ExitStack() as stack:

        def start_progress(total: int) -> Any:
            bar = click.progressbar(
                length=total, label=_("Importing"), file=sys.stderr, show_pos=True
            )
            return stack.enter_context(bar).update

        summary = service.import_file(
            state.config,
            path,
            module=module,
            mapping_path=mapping_path,
            match_key=match_key,
            dry_run=dry_run,
            start_progress=start_progress,
        )
    if as_json:
        _echo_json(summary.as_dict())
        return
    for line in service.summary_lines(summary):
        click.echo(line)


# --- plugin: the SuiteCRM Module Loader package ----------------------------------


def main(args: Sequence[str] | None = None) -> None:
    """Entry point of the ``dscrm`` console script and ``python cli.py``."""
    root.main(args=args, prog_name="dscrm")


if __name__ == "__main__":
    main()
