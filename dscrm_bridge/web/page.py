"""The timeline page: Jinja2 templates, relative times, headlines with links.

Templates autoescape everything; the only markup built in Python is
:func:`headline`, whose parts are escaped by :class:`markupsafe.Markup.format`
before they are put into the translated sentence.  The page has no script at
all: filters are a GET form, replies a POST form carrying the CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from dscrm_bridge.i18n import N_, translator

TEMPLATES_DIR = Path(__file__).parent / "templates"
STYLESHEET = TEMPLATES_DIR / "feed.css"

_HEADLINES = {
    "create": N_("{actor} created {module} {record}"),
    "update": N_("{actor} updated {module} {record}"),
    "delete": N_("{actor} deleted {module} {record}"),
    "relate": N_("{actor} linked {module} {record} to {related}"),
    "unrelate": N_("{actor} unlinked {module} {record} from {related}"),
}
_ACTION_NAMES = {
    "create": N_("created"),
    "update": N_("updated"),
    "delete": N_("deleted"),
    "relate": N_("linked"),
    "unrelate": N_("unlinked"),
}
_JUST_NOW = N_("just now")
_MINUTES_AGO = N_("{count} minutes ago")
_HOURS_AGO = N_("{count} hours ago")
_DAYS_AGO = N_("{count} days ago")
_NO_NAME = N_("(no name)")
_UNKNOWN_ACTOR = N_("(unknown user)")


def environment(lang: str) -> Environment:
    """A Jinja2 environment whose ``_`` speaks ``lang``; autoescaping on."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    gettext = translator(lang)
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=gettext, ngettext=lambda s, p, n: gettext(s if n == 1 else p)
    )
    env.globals["action_names"] = {k: gettext(v) for k, v in _ACTION_NAMES.items()}
    env.filters["ago"] = lambda iso, now: relative_time(iso, now, gettext)
    env.filters["headline"] = lambda entry: headline(entry, gettext)
    return env


def relative_time(iso: str, now: datetime, gettext: Callable[[str], str]) -> str:
    """ "3 分钟前" for an ISO time three minutes before ``now`` (aware UTC)."""
    moment = datetime.fromisoformat(iso)
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return gettext(_JUST_NOW)
    minutes = int(seconds // 60)
    if minutes < 60:
        return gettext(_MINUTES_AGO).format(count=minutes)
    hours = minutes // 60
    if hours < 24:
        return gettext(_HOURS_AGO).format(count=hours)
    days = hours // 24
    if days < 30:
        return gettext(_DAYS_AGO).format(count=days)
    return moment.strftime("%Y-%m-%d")


def headline(entry: dict[str, Any], gettext: Callable[[str], str]) -> Markup:
    """Who did what to which record, the record linked to SuiteCRM when known."""
    template = _HEADLINES.get(entry["action"], _HEADLINES["update"])
    record_name = entry["record_name"] or gettext(_NO_NAME)
    record: Markup | str = record_name
    if entry.get("record_url"):
        record = Markup('<a class="record" href="{url}">{name}</a>').format(
            url=entry["record_url"], name=record_name
        )
    else:
        record = Markup('<span class="record">{name}</span>').format(name=record_name)
    related = Markup('<span class="record">{module} {name}</span>').format(
        module=entry.get("related_module_label") or entry.get("related_module") or "",
        name=entry.get("related_name") or gettext(_NO_NAME),
    )
    return Markup(gettext(template)).format(
        actor=Markup("<strong>{}</strong>").format(
            entry["actor"] or gettext(_UNKNOWN_ACTOR)
        ),
        module=entry.get("module_label") or entry["module"],
        record=record,
        related=related,
    )


def render(env: Environment, name: str, **context: Any) -> str:
    return env.get_template(name).render(**context)
