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


def _language_from_env(env: dict[str, str]) -> bool:
    """Whether DSCRM_LANGUAGE or a POSIX locale names a language."""
    if env.get("DSCRM_LANGUAGE"):
        return True
    return any(
        env.get(key) not in (None, "", "C", "POSIX", "C.UTF-8")
        for key in ("LC_ALL", "LC_MESSAGES", "LANG")
    )


i18n.set_language(_early_language(sys.argv[1:], dict(os.environ)))
i18n.route_click_messages()


class State:
    """What the group options leave for the commands: config path, flags."""

    def __init__(
        self, config_path: str | None, debug: bool, *, language_chosen: bool
    ) -> None:
        self.config_path = config_path
        self.debug = debug
        self.language_chosen = language_chosen
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        """The configuration, loaded on first use; its language applies from then
        on unless --lang, DSCRM_LANGUAGE or the locale chose one."""
        if self._config is None:
            self._config = load_config(self.config_path)
            if not self.language_chosen and self._config.language_origin == "file":
                i18n.set_language(self._config.language)
        return self._config


pass_state = click.make_pass_decorator(State)


def _set_language(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    if value:
        i18n.set_language(value)
        ctx.meta["dscrm.language_chosen"] = True
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
        # click reads the exit code from the instance; each BridgeError has its own.
        self.exit_code = error.exit_code  # type: ignore[misc]

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
    chosen = ctx.meta.get("dscrm.language_chosen", False) or _language_from_env(
        dict(os.environ)
    )
    ctx.obj = State(config_path, debug, language_chosen=chosen)


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
@click.option(
    "--webhook",
    "webhook_url",
    default=None,
    help=_(
        "Also post each write as a signed change event to this URL, as a SuiteCRM "
        "with the dscrm plugin installed does."
    ),
)
@click.option(
    "--webhook-secret-env",
    default="DSCRM_WEBHOOK_SECRET",
    show_default=True,
    help=_("Environment variable that holds the webhook's shared secret."),
)
def sandbox(
    db_url: str, port: int, webhook_url: str | None, webhook_secret_env: str
) -> None:
    from dscrm_bridge.sandbox import connection_lines, serve
    from dscrm_bridge.sandbox.events import webhook_target_from_env

    webhook = None
    if webhook_url:
        webhook = webhook_target_from_env(webhook_url, webhook_secret_env, os.environ)

    def ready(base_url: str, info: Any) -> None:
        for line in connection_lines(base_url, info):
            click.echo(line)
        click.echo(_("Press Ctrl-C to stop."))

    click.echo(
        _("Preparing the sandbox database {url} ...").format(url=mask_url(db_url))
    )
    serve(db_url, port=port, on_ready=ready, webhook=webhook)


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
    help=_(
        "Backfill changes from this UTC date (2026-12-01); run the same command "
        "again to resume an interrupted backfill."
    ),
)
@click.pass_context
def sync(ctx: click.Context, once: bool, since: str | None) -> None:
    if ctx.invoked_subcommand is not None:
        return
    if not once:
        raise click.UsageError(
            _("Say --once to run one sync now, or use: sync run, sync status.")
        )
    from dscrm_bridge.sync.runner import run_once

    state = ctx.find_object(State)
    assert state is not None
    outcomes = run_once(
        state.config, since=_parse_since(since), progress=_echo_progress
    )
    total = 0
    for outcome in outcomes:
        if outcome.sync is not None:
            for module, count in sorted(outcome.sync.appended.items()):
                line = _("{module}: {count} new entries")
                click.echo(line.format(module=module, count=count))
            total += outcome.sync.total
        for module, count in sorted(outcome.deleted.items()):
            line = _("{module}: {count} deletions found by reconciliation")
            click.echo(line.format(module=module, count=count))
        if outcome.written:
            line = _("Written back to SuiteCRM's activity stream: {count}")
            click.echo(line.format(count=outcome.written))
    click.echo(_("Sync done: {count} new feed entries.").format(count=total))


def _echo_progress(progress: Any) -> None:
    """One line on stderr per batch: records done, rate, time left."""
    if progress.total:
        line = _("{source}: {done}/{total} records, {rate:.0f}/s, about {left} s left")
    else:
        line = _("{source}: {done} records, {rate:.0f}/s")
    left = "?" if progress.remaining_s is None else f"{progress.remaining_s:.0f}"
    click.echo(
        line.format(
            source=progress.source,
            done=progress.done,
            total=progress.total,
            rate=progress.rate_per_s,
            left=left,
        ),
        err=True,
    )


@sync.command("run", help=_("Run the scheduled sync jobs until SIGTERM or Ctrl-C."))
@pass_state
def sync_run(state: State) -> None:
    from dscrm_bridge.sync.runner import run_forever

    def report(outcome: Any) -> None:
        if outcome.sync is not None and outcome.sync.total:
            line = _("{job}: {count} new feed entries")
            click.echo(line.format(job=outcome.job, count=outcome.sync.total))

    click.echo(_("Sync runner started; press Ctrl-C to stop."))
    run_forever(state.config, report=report)
    click.echo(_("Sync runner stopped."))


@sync.command("status", help=_("Per source: cursor, lag, last run, rows, last error."))
@click.option("--json", "as_json", is_flag=True, help=_("Print JSON."))
@pass_state
def sync_status(state: State, as_json: bool) -> None:
    from dscrm_bridge.sync.runner import status_report

    rows = status_report(state.config)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo(_("No sync has run yet."))
        return
    for row in rows:
        lag = "-" if row["lag_s"] is None else f"{row['lag_s']:.0f}s"
        click.echo(
            _(
                "{source}: cursor {cursor}, lag {lag}, last run {last_run}, rows {rows}"
            ).format(
                source=row["source"],
                cursor=row["cursor"] or "-",
                lag=lag,
                last_run=row["last_run_at"] or "-",
                rows=row["total_rows"],
            )
        )
        if row.get("backfill"):
            click.echo("  " + _("backfill: {state}").format(state=row["backfill"]))
        if row["last_error"]:
            line = _("  last error at {at}: {error}")
            click.echo(line.format(at=row["last_error_at"], error=row["last_error"]))


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


@root.command(help=_("Check that SuiteCRM's API and database work for the bridge."))
@click.option("--json", "as_json", is_flag=True, help=_("Print JSON."))
@pass_state
@click.pass_context
def check(ctx: click.Context, state: State, as_json: bool) -> None:
    from dscrm_bridge.suitecrm.check import check_config

    report = check_config(state.config)
    if as_json:
        _echo_json(report.as_dict())
    else:
        for line in report.lines():
            click.echo(line)
    ctx.exit(0 if report.ok else 1)


# --- roles: security groups, ACL roles and users from YAML --------------------


@root.group(help=_("Security groups, ACL roles and users from a YAML roles file."))
def roles() -> None:
    pass


def _echo_report(report: dict[str, Any] | list[str]) -> None:
    """A JSON object as JSON, or lines of text one by one."""
    if isinstance(report, dict):
        _echo_json(report)
        return
    for line in report:
        click.echo(line)


_roles_file = click.option(
    "-f",
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False),
    help=_("The roles file (YAML)."),
)


@roles.command("plan", help=_("Show the changes that make SuiteCRM match the file."))
@_roles_file
@click.option("--json", "as_json", is_flag=True, help=_("Print JSON."))
@pass_state
def roles_plan(state: State, path: str, as_json: bool) -> None:
    from dscrm_bridge import provisioning

    plan = provisioning.plan_with_config(state.config, path, env=dict(os.environ))
    _echo_report(plan.to_json() if as_json else provisioning.render_plan(plan))


@roles.command("apply", help=_("Make SuiteCRM match the roles file."))
@_roles_file
@click.option("--yes", is_flag=True, help=_("Apply without asking."))
@pass_state
def roles_apply(state: State, path: str, yes: bool) -> None:
    from dscrm_bridge import provisioning

    def confirm(plan: Any) -> bool:
        for line in provisioning.render_plan(plan):
            click.echo(line)
        return yes or click.confirm(_("Apply these changes?"), default=False)

    result = provisioning.apply_with_config(
        state.config,
        path,
        env=dict(os.environ),
        confirm=confirm,
        report=lambda step: click.echo(f"  {step}"),
    )
    if result is None:
        click.echo(_("Nothing was changed."))
        return
    if result.applied == 0:
        click.echo(_("No changes: SuiteCRM already matches {path}.").format(path=path))
        return
    click.echo(_("Applied {count} changes.").format(count=result.applied))
    for user, password in sorted(result.generated_passwords.items()):
        click.echo(
            _(
                "Password of {user}: {password} (shown only now; pass it on safely)"
            ).format(user=user, password=password)
        )


@roles.command("export", help=_("Write the live groups, roles and users as a file."))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help=_("Write to this file instead of the screen."),
)
@pass_state
def roles_export(state: State, output: str | None) -> None:
    from dscrm_bridge import provisioning

    text = provisioning.export_roles(provisioning.database_of(state.config))
    if output is None:
        click.echo(text, nl=False)
        return
    with open(output, "w", encoding="utf-8") as handle:
        handle.write(text)
    click.echo(_("Wrote {path}.").format(path=output))


@roles.command(
    "explain", help=_("Show a user's effective rights and the role behind each.")
)
@click.argument("user")
@click.argument("module", required=False)
@click.option("--json", "as_json", is_flag=True, help=_("Print JSON."))
@pass_state
def roles_explain(state: State, user: str, module: str | None, as_json: bool) -> None:
    from dscrm_bridge import provisioning

    explanation = provisioning.explain_roles(
        provisioning.database_of(state.config), user, module
    )
    _echo_report(
        explanation.to_json()
        if as_json
        else provisioning.render_explanation(explanation)
    )


@roles.command("presets", help=_("List the shipped role presets, or show one."))
@click.argument("name", required=False)
def roles_presets(name: str | None) -> None:
    from dscrm_bridge import provisioning

    if name is not None:
        click.echo(provisioning.preset_text(name), nl=False)
        return
    for preset in provisioning.list_presets():
        click.echo(f"{preset.name}\t{preset.description}")


# --- serve: the feed's HTTP service --------------------------------------------


@root.group(
    invoke_without_command=True,
    help=_("Serve the feed: JSON API, web page with replies, webhook receiver."),
)
@click.option("--host", default=None, help=_("Listen address (default: web.host)."))
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help=_("Port (default: web.port)."),
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from dscrm_bridge.web.server import serve as serve_feed

    state = ctx.find_object(State)
    assert state is not None

    def ready(url: str) -> None:
        message = _("Serving the feed at {url}; press Ctrl-C to stop.")
        click.echo(message.format(url=url))

    serve_feed(state.config, host=host, port=port, on_ready=ready)


@serve.group("token", help=_("API tokens that let scripts read and reply."))
def serve_token() -> None:
    pass


@serve_token.command("create", help=_("Create an API token acting as USER_NAME."))
@click.argument("user_name")
@click.option("--name", default="script", show_default=True, help=_("A label."))
@pass_state
def serve_token_create(state: State, user_name: str, name: str) -> None:
    from dscrm_bridge.web.auth import create_api_token

    config = state.config
    token_id, token = create_api_token(
        _feed_engine(state), config.suitecrm.sql_url(), user_name, name=name
    )
    shown = _("API token {id} for {user_name} (shown only now):")
    click.echo(shown.format(id=token_id, user_name=user_name))
    click.echo(token)


@serve_token.command("list", help=_("List API tokens (never the tokens themselves)."))
@click.option("--json", "as_json", is_flag=True, help=_("Print JSON."))
@pass_state
def serve_token_list(state: State, as_json: bool) -> None:
    from dscrm_bridge.web.auth import list_api_tokens

    tokens = list_api_tokens(_feed_engine(state))
    if as_json:
        _echo_json(tokens)
        return
    for item in tokens:
        state_text = _("revoked") if item["revoked_at"] else _("live")
        click.echo(
            f"{item['id']}  {item['user_name']}  {item['name']}  "
            f"{item['created_at']}  {state_text}"
        )


@serve_token.command("revoke", help=_("Revoke the API token with this id."))
@click.argument("token_id", type=int)
@pass_state
def serve_token_revoke(state: State, token_id: int) -> None:
    from dscrm_bridge.web.auth import revoke_api_token

    revoke_api_token(_feed_engine(state), token_id)
    click.echo(_("API token {id} revoked.").format(id=token_id))


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


@root.group(help=_("The SuiteCRM plugin that reports each change to the bridge."))
def plugin() -> None:
    pass


@plugin.command(
    "build", help=_("Write the SuiteCRM Module Loader package for this configuration.")
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default="dscrm-bridge-suitecrm-plugin.zip",
    show_default=True,
    help=_("Where to write the package (zip)."),
)
@pass_state
def plugin_build(state: State, output: str) -> None:
    from dscrm_bridge.plugin import build_package

    config = state.config
    path = build_package(config, output=output)
    click.echo(
        _("Wrote {path}: change events of {modules} go to {url}.").format(
            path=path, modules=", ".join(config.sync.modules), url=config.webhook.url
        )
    )
    click.echo(_("Install it in SuiteCRM under Admin -> Module Loader."))
    click.echo(
        _(
            "Then set the shared secret in SuiteCRM's config_override.php as "
            "$sugar_config['dscrm_bridge']['webhook_secret'] (the value of "
            "DSCRM_WEBHOOK_SECRET; the package does not contain it)."
        )
    )
    if not config.webhook.secret:
        click.echo(
            _(
                "Warning: DSCRM_WEBHOOK_SECRET is not set here; the bridge refuses "
                "every event until it is."
            ),
            err=True,
        )


def main(args: Sequence[str] | None = None) -> None:
    """Entry point of the ``dscrm`` console script and ``python cli.py``."""
    root.main(args=args, prog_name="dscrm")


if __name__ == "__main__":
    main()
