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
from dscrm_bridge.config import Config, load_config
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


def main(args: Sequence[str] | None = None) -> None:
    """Entry point of the ``dscrm`` console script and ``python cli.py``."""
    root.main(args=args, prog_name="dscrm")


if __name__ == "__main__":
    main()
