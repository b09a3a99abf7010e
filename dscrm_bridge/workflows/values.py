"""Values typed by people, turned into attributes SuiteCRM stores.

Owns the one conversion shared by workflow inputs and import rows: field labels to
field names, dropdown labels to keys (:mod:`labels`), local dates and times to
SuiteCRM's UTC ``Y-m-d H:i:s`` (Q17: anything else is stored as NULL), phone and
e-mail checks, and the normalized forms used to find duplicates.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dscrm_bridge.errors import ConfigError, InputError
from dscrm_bridge.i18n import _
from dscrm_bridge.suitecrm.text import strip_tags
from dscrm_bridge.suitecrm.v8client import format_datetime
from dscrm_bridge.workflows.labels import Labels

logger = logging.getLogger(__name__)

# Fields holding a moment (stored as UTC datetime) or a calendar day (schema.sql).
DATETIME_FIELDS = frozenset({"date_start", "date_end", "date_due"})
DATE_FIELDS = frozenset({"date_closed", "birthdate", "active_date", "exp_date"})
PHONE_FIELDS = frozenset(
    {
        "phone_office",
        "phone_alternate",
        "phone_fax",
        "phone_work",
        "phone_mobile",
        "phone_home",
        "phone_other",
        "assistant_phone",
    }
)
EMAIL_FIELDS = frozenset({"email1", "email2"})
NUMBER_FIELDS = frozenset(
    {
        "amount",
        "probability",
        "duration_hours",
        "duration_minutes",
        "opportunity_amount",
    }
)
# Modules whose records are people: their name is composed from last + first (Q15).
PERSON_MODULES = frozenset({"Contacts", "Leads", "Users"})

_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")
_TIME_FORMATS = ("%H:%M:%S", "%H:%M")
_PHONE = re.compile(r"^\+?[0-9 ()\-]+$")
_PHONE_DIGITS_MIN = 7
_PHONE_DIGITS_MAX = 15  # E.164
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_SPACES = re.compile(r"\s+")
# Q13: SuiteCRM drops tags from varchar fields when it saves a record (text
# fields keep them).  SuiteCRM's SugarBean::cleanBean (data/SugarBean.php,
# salesagility/SuiteCRM) runs every char field through its HTML cleaner on
# save; what the transcript shows left is the text outside "<...>".


@dataclass(frozen=True)
class Converted:
    """One record's attributes, or the problems that keep it from being written."""

    attributes: dict[str, Any]
    problems: list[str] = field(default_factory=list)


def zone(name: str) -> ZoneInfo:
    """The time zone called ``name`` (an IANA name such as Asia/Shanghai)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            _(
                "Unknown time zone {zone}; use an IANA name such as Asia/Shanghai"
            ).format(zone=name)
        ) from exc


def convert_record(
    labels: Labels,
    module: str,
    values: Mapping[str, Any],
    *,
    tz: dt.tzinfo,
    columns: Mapping[str, str] | None = None,
) -> Converted:
    """``values`` keyed by field label (or field name) as SuiteCRM attributes.

    ``columns`` maps extra names (import headers) to fields before the labels are
    tried.  Empty values are left out.  Every problem is collected, not just the
    first, so a person can fix a row in one go.
    """
    attributes: dict[str, Any] = {}
    problems: list[str] = []
    for name, raw in values.items():
        try:
            field_name = _field_of(labels, module, str(name), columns)
            value = convert_value(labels, module, field_name, raw, tz=tz)
        except InputError as exc:
            problems.append(exc.message)
            continue
        if value is not None:
            attributes[field_name] = value
    return Converted(attributes=attributes, problems=problems)


def convert_value(
    labels: Labels, module: str, field_name: str, raw: Any, *, tz: dt.tzinfo
) -> Any:
    """One value as SuiteCRM stores it; None for an empty value."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    label = labels.field_label(module, field_name)
    if labels.dropdown(module, field_name) is not None:
        return labels.to_key(module, field_name, _text(raw))
    if field_name in DATETIME_FIELDS:
        return format_datetime(parse_local_datetime(raw, tz=tz, label=label))
    if field_name in DATE_FIELDS:
        return parse_date(raw, label=label).isoformat()
    if field_name in PHONE_FIELDS:
        return check_phone(raw, label=label)
    if field_name in EMAIL_FIELDS:
        return check_email(raw, label=label)
    if field_name in NUMBER_FIELDS:
        return check_number(raw, label=label)
    return _text(raw)


def parse_local_datetime(raw: Any, *, tz: dt.tzinfo, label: str) -> dt.datetime:
    """A date and time typed in ``tz`` (or a datetime from a sheet) made aware."""
    value: dt.datetime | None
    if isinstance(raw, dt.datetime):
        value = raw
    else:
        text = _folded(raw).replace("T", " ")
        value = _parse_with(
            text, [f"{d} {t}" for d in _DATE_FORMATS for t in _TIME_FORMATS]
        )
        if value is None:
            raise InputError(
                _(
                    '{field}: "{value}" is not a date and time like 2026-12-10 10:00'
                ).format(field=label, value=raw)
            )
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value


def parse_date(raw: Any, *, label: str) -> dt.date:
    """A calendar day typed as 2027-03-31, 2027/3/31 or taken from a sheet cell."""
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    value = _parse_with(_folded(raw), list(_DATE_FORMATS))
    if value is None:
        raise InputError(
            _('{field}: "{value}" is not a date like 2027-03-31').format(
                field=label, value=raw
            )
        )
    return value.date()


def check_phone(raw: Any, *, label: str) -> str:
    """A phone number of 7 to 15 digits with optional + ( ) - and spaces."""
    text = _folded(raw)
    digits = sum(ch.isdigit() for ch in text)
    if not _PHONE.match(text) or not _PHONE_DIGITS_MIN <= digits <= _PHONE_DIGITS_MAX:
        raise InputError(
            _('{field}: "{value}" is not a phone number (7 to 15 digits)').format(
                field=label, value=raw
            )
        )
    return text


def check_email(raw: Any, *, label: str) -> str:
    text = _folded(raw)
    if not _EMAIL.match(text):
        raise InputError(
            _('{field}: "{value}" is not an e-mail address').format(
                field=label, value=raw
            )
        )
    return text


def check_number(raw: Any, *, label: str) -> str:
    """A number as the API takes it: a plain decimal string (Q12)."""
    if isinstance(raw, bool):
        raise InputError(
            _('{field}: "{value}" is not a number').format(field=label, value=raw)
        )
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        return str(int(raw)) if raw.is_integer() else repr(raw)
    text = _folded(raw).replace(",", "")
    if not _NUMBER.match(text):
        raise InputError(
            _('{field}: "{value}" is not a number').format(field=label, value=raw)
        )
    return text


def person_name(attributes: Mapping[str, Any]) -> str:
    """A person's name as Chinese readers write it: family name first (Q15)."""
    last = str(attributes.get("last_name") or "").strip()
    first = str(attributes.get("first_name") or "").strip()
    return (
        f"{last}{first}"
        if _is_cjk(last + first)
        else " ".join(part for part in (first, last) if part)
    )


def record_name(module: str, attributes: Mapping[str, Any]) -> str:
    """The name a person knows a record by."""
    if module in PERSON_MODULES:
        return person_name(attributes)
    if module == "Documents":
        return str(attributes.get("document_name") or "")
    return str(attributes.get("name") or "")


def stored_varchar(value: Any) -> str:
    """``value`` as SuiteCRM keeps it in a varchar field: without tags (Q13)."""
    return strip_tags(str(value or ""))


def match_name(value: Any) -> str:
    """A name as compared for duplicates: as stored (Q13: no tags), width-folded,
    spaces collapsed, no case."""
    # Tags go before NFKC: a full-width ＜ is not a tag to SuiteCRM.
    text = unicodedata.normalize("NFKC", stored_varchar(value))
    return _SPACES.sub(" ", text).strip().casefold()


def match_phone(value: Any) -> str:
    """A phone number as compared for duplicates: its digits, without +86 / 0."""
    digits = "".join(ch for ch in str(value or "") if ch.isdigit())
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) > 11:
        digits = digits[2:]
    return digits.lstrip("0")


def match_email(value: Any) -> str:
    return str(value or "").strip().casefold()


def _field_of(
    labels: Labels, module: str, name: str, columns: Mapping[str, str] | None
) -> str:
    if columns:
        mapped = columns.get(unicodedata.normalize("NFKC", name).strip())
        if mapped:
            return mapped
    return labels.field_for(module, name)


def _parse_with(text: str, formats: list[str]) -> dt.datetime | None:
    for fmt in formats:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _text(raw: Any) -> str:
    """``raw`` as text, trimmed; stored text keeps the width the person typed."""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # a number typed in a sheet cell: 13800000000.0
    return str(raw).strip()


def _folded(raw: Any) -> str:
    """``raw`` as text to parse: full-width digits and punctuation folded (NFKC)."""
    return unicodedata.normalize("NFKC", _text(raw))


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)
