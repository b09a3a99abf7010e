"""Importing the sheets sales staff kept before SuiteCRM: .xlsx or .csv files.

Owns one import from reading to the summary:

1. read: an .xlsx (first sheet) or a .csv in UTF-8, UTF-8 with BOM, or GBK as
   Chinese Excel saves it (tried in that order; GB 18030 decodes GBK);
2. map: headers to fields through a header map (``mappings/import/*.yaml`` or
   ``--mapping``), then the field labels; other columns are ignored and named;
3. check each row: labels to keys, dates, phones, e-mails, the required name;
   a row whose match key (name, phone or e-mail) repeats an earlier row is
   rejected;
4. plan against SuiteCRM: the existing records are read once (only the fields
   needed); a row matching one is an update (or skipped when nothing differs),
   a row matching several is rejected as ambiguous, the rest are creates;
5. write through the V8 client, several requests at once (a real server tops out
   near 30 creates a second, performance-notes.md); never by SQL;
6. report: every rejected or failed row goes to ``<file>.errors.csv`` beside the
   input with its reason; a summary counts created, updated, skipped, failed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from dscrm_bridge.errors import BridgeError, ConfigError, InputError
from dscrm_bridge.i18n import _
from dscrm_bridge.suitecrm import tables
from dscrm_bridge.suitecrm.v8client import V8Client
from dscrm_bridge.workflows.labels import (
    MAPPINGS_DIR,
    Labels,
    join_problems,
    normalize_label,
)
from dscrm_bridge.workflows.values import (
    PERSON_MODULES,
    convert_record,
    match_email,
    match_name,
    match_phone,
    record_name,
    stored_varchar,
)

logger = logging.getLogger(__name__)

IMPORT_MODULES = ("Accounts", "Contacts", "Opportunities", "Leads")
MATCH_KEYS = ("name", "phone", "email")
HEADER_MAP_DIR = MAPPINGS_DIR / "import"
DEFAULT_CONCURRENCY = 4
ERROR_SUFFIX = ".errors.csv"
# performance-notes.md: pages of 1000 records read about 4x faster than pages of 100.
PREFETCH_PAGE_SIZE = 1000

# Which fields a match key compares, per module (the first non-empty one counts).
_MATCH_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "Accounts": {
        "name": ("name",),
        "phone": ("phone_office", "phone_alternate"),
        "email": ("email1",),
    },
    "Opportunities": {"name": ("name",), "phone": (), "email": ()},
    "Contacts": {
        "name": ("last_name", "first_name"),
        "phone": ("phone_mobile", "phone_work"),
        "email": ("email1",),
    },
    "Leads": {
        "name": ("last_name", "first_name"),
        "phone": ("phone_mobile", "phone_work"),
        "email": ("email1",),
    },
}
_REQUIRED = {
    "Accounts": "name",
    "Opportunities": "name",
    "Contacts": "last_name",
    "Leads": "last_name",
}
# The account a Contact or Opportunity row names (by account name), resolved here.
_ACCOUNT_FIELD = "account_name"
_RESOLVES_ACCOUNT = frozenset({"Contacts", "Opportunities"})
_TABLES: dict[str, sa.Table] = {
    "Accounts": tables.accounts,
    "Contacts": tables.contacts,
    "Leads": tables.leads,
    "Opportunities": tables.opportunities,
}

Progress = Callable[[int], None]


class Action(Enum):
    CREATE = "create"
    UPDATE = "update"
    SKIP = "skip"


@dataclass(frozen=True)
class HeaderMap:
    module: str
    columns: Mapping[str, str]  # normalized header -> field
    source: Path | None


@dataclass(frozen=True)
class Sheet:
    headers: list[str]
    rows: list[tuple[int, dict[str, Any]]]  # (row number in the file, header -> value)
    encoding: str | None  # None for .xlsx


@dataclass(frozen=True)
class RowError:
    row: int
    reason: str
    values: Mapping[str, Any]


@dataclass
class ImportSummary:
    """What an import did (or, with ``dry_run``, would do)."""

    module: str
    total: int
    dry_run: bool
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    encoding: str | None = None
    ignored_columns: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    error_file: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "total": self.total,
            "dry_run": self.dry_run,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "failed": self.failed,
            "encoding": self.encoding,
            "ignored_columns": self.ignored_columns,
            "error_file": str(self.error_file) if self.error_file else None,
            "errors": [{"row": e.row, "reason": e.reason} for e in self.errors],
        }


@dataclass
class _Plan:
    row: int
    values: Mapping[str, Any]
    action: Action
    attributes: dict[str, Any]
    record_id: str | None = None
    account_id: str | None = None


# -- reading -------------------------------------------------------------------


def read_sheet(path: str | Path) -> Sheet:
    """The header row and the data rows of an .xlsx or .csv file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            _("The file {path} does not exist").format(path=path), path=str(path)
        )
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return _read_xlsx(path)
    if suffix == ".csv":
        return _read_csv(path)
    raise InputError(
        _("Cannot import {path}: only .xlsx and .csv files are read").format(path=path),
        path=str(path),
    )


def _read_xlsx(path: Path) -> Sheet:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise InputError(
            _("{path} is not a readable .xlsx workbook: {reason}").format(
                path=path, reason=exc
            ),
            path=str(path),
        ) from exc
    try:
        sheet = book.worksheets[0]
        rows = (
            (number, list(values))
            for number, values in enumerate(sheet.iter_rows(values_only=True), 1)
        )
        return _to_sheet(rows, encoding=None)
    finally:
        book.close()


def _read_csv(path: Path) -> Sheet:
    text, encoding = _decode(path.read_bytes(), path)
    reader = csv.reader(io.StringIO(text, newline=""))
    return _to_sheet(
        ((number, list(values)) for number, values in enumerate(reader, 1)),
        encoding=encoding,
    )


def _decode(data: bytes, path: Path) -> tuple[str, str]:
    """Text of a CSV file and the encoding it was in."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "UTF-8 BOM"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        # GB 18030 is a superset of GBK, the code page Chinese Excel saves CSV in.
        return data.decode("gb18030"), "GBK"
    except UnicodeDecodeError as exc:
        raise InputError(
            _(
                "{path} is neither UTF-8 nor GBK text; save it from Excel as CSV UTF-8"
            ).format(path=path),
            path=str(path),
        ) from exc


def _to_sheet(rows: Iterable[tuple[int, list[Any]]], *, encoding: str | None) -> Sheet:
    headers: list[str] | None = None
    data: list[tuple[int, dict[str, Any]]] = []
    for number, values in rows:
        if all(_blank(value) for value in values):
            continue
        if headers is None:
            headers = [
                str(value).strip() if value is not None else "" for value in values
            ]
            continue
        record = {
            header: value
            for header, value in zip(headers, values, strict=False)
            if header and not _blank(value)
        }
        data.append((number, record))
    if headers is None:
        raise InputError(_("The file has no header row"))
    return Sheet(headers=headers, rows=data, encoding=encoding)


# -- header maps ---------------------------------------------------------------


def load_header_map(module: str, path: str | Path | None = None) -> HeaderMap:
    """The header map of ``module``: the shipped one, or the file at ``path``."""
    _check_module(module)
    source = Path(path) if path else HEADER_MAP_DIR / f"{module.lower()}.yaml"
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(
            _("Cannot read the header map {path}: {reason}").format(
                path=source, reason=exc
            ),
            path=str(source),
        ) from exc
    columns = raw.get("columns") if isinstance(raw, Mapping) else None
    if not isinstance(columns, Mapping) or not all(
        isinstance(target, str) for target in columns.values()
    ):
        raise ConfigError(
            _(
                "The header map {path} needs columns: a mapping of header to field name"
            ).format(path=source)
        )
    declared = raw.get("module", module)
    if declared != module:
        raise InputError(
            _("The header map {path} is for {declared}, not {module}").format(
                path=source, declared=declared, module=module
            )
        )
    return HeaderMap(
        module=module,
        columns={normalize_label(str(k)): v for k, v in columns.items()},
        source=source,
    )


def resolve_headers(
    headers: Iterable[str], header_map: HeaderMap, labels: Labels
) -> tuple[dict[str, str], list[str]]:
    """Header -> field for every header that names one, and the ignored headers."""
    mapped: dict[str, str] = {}
    ignored: list[str] = []
    for header in headers:
        if not header:
            continue
        target = header_map.columns.get(normalize_label(header))
        if target is None:
            try:
                target = labels.field_for(header_map.module, header)
            except InputError:
                ignored.append(header)
                continue
        mapped[header] = target
    return mapped, ignored


# -- the import ----------------------------------------------------------------


def import_sheet(
    client: V8Client | None,
    path: str | Path,
    *,
    module: str,
    labels: Labels,
    tz: dt.tzinfo,
    mapping_path: str | Path | None = None,
    match_key: str = "name",
    dry_run: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    owner_id: str | None = None,
    start_progress: Callable[[int], Progress] | None = None,
) -> ImportSummary:
    """Import ``path`` into ``module``; see the module docstring for the steps.

    ``client`` may be None only for a dry run: then nothing is compared with
    SuiteCRM and every valid row counts as a create.  ``start_progress`` is
    called with the number of rows once they are read and returns the function
    that is told of every row done.
    """
    _check_module(module)
    _check_match_key(module, match_key)
    if client is None and not dry_run:
        raise InputError(_("An import that writes needs a SuiteCRM connection"))
    path = Path(path)

    sheet = read_sheet(path)
    tick = start_progress(len(sheet.rows)) if start_progress else _no_progress
    header_map = load_header_map(module, mapping_path)
    columns, ignored = resolve_headers(sheet.headers, header_map, labels)
    summary = ImportSummary(
        module=module,
        total=len(sheet.rows),
        dry_run=dry_run,
        encoding=sheet.encoding,
        ignored_columns=ignored,
    )
    _check_required_column(module, columns, labels)

    checked = _check_rows(sheet, module, columns, labels, tz, match_key, summary, tick)
    plans = _plan(client, module, checked, columns, match_key, summary, tick)
    if owner_id:
        for plan in plans:
            if plan.action is Action.CREATE:
                plan.attributes.setdefault("assigned_user_id", owner_id)  # Q22
    _count_plans(plans, summary)
    if not dry_run and client is not None:
        _write(client, module, plans, summary, concurrency, tick)
    else:
        tick(len(plans))

    summary.errors.sort(key=lambda error: error.row)
    summary.failed = len(summary.errors)
    if summary.errors:
        summary.error_file = write_error_file(path, sheet.headers, summary.errors)
    logger.info(
        "import of %s into %s: %d created, %d updated, %d skipped, %d failed%s",
        path.name,
        module,
        summary.created,
        summary.updated,
        summary.skipped,
        summary.failed,
        " (dry run)" if dry_run else "",
    )
    return summary


def write_error_file(
    source: Path, headers: list[str], errors: Iterable[RowError]
) -> Path:
    """``<name>.errors.csv`` beside ``source``: row number, reason, the row."""
    target = source.with_name(source.stem + ERROR_SUFFIX)
    # UTF-8 with BOM: Excel opens it with the Chinese intact.
    with target.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([_("Row"), _("Reason"), *headers])
        for error in errors:
            writer.writerow(
                [
                    error.row,
                    error.reason,
                    *(_cell(error.values.get(header)) for header in headers),
                ]
            )
    return target


def _check_rows(
    sheet: Sheet,
    module: str,
    columns: Mapping[str, str],
    labels: Labels,
    tz: dt.tzinfo,
    match_key: str,
    summary: ImportSummary,
    tick: Progress,
) -> list[tuple[int, Mapping[str, Any], dict[str, Any], str]]:
    """Rows that convert cleanly and are not repeats: (row, values, attrs, key)."""
    required = _REQUIRED[module]
    first_seen: dict[str, int] = {}
    checked: list[tuple[int, Mapping[str, Any], dict[str, Any], str]] = []
    for number, values in sheet.rows:
        known = {header: value for header, value in values.items() if header in columns}
        converted = convert_record(labels, module, known, tz=tz, columns=columns)
        problems = list(converted.problems)
        attributes = converted.attributes
        if not attributes.get(required):
            problems.append(
                _("{field} is missing").format(
                    field=labels.field_label(module, required)
                )
            )
        key = match_value(module, match_key, attributes) if not problems else ""
        if not problems and not key:
            problems.append(
                _("no {key} to match existing records with").format(
                    key=_match_label(match_key)
                )
            )
        if not problems and key in first_seen:
            problems.append(
                _("repeats row {row} (same {key})").format(
                    row=first_seen[key], key=_match_label(match_key)
                )
            )
        if problems:
            summary.errors.append(RowError(number, join_problems(problems), values))
            tick(1)
            continue
        first_seen[key] = number
        checked.append((number, values, attributes, key))
    return checked


def match_value(module: str, match_key: str, attributes: Mapping[str, Any]) -> str:
    """The normalized value a record is matched on; empty when it has none."""
    fields = _MATCH_FIELDS[module][match_key]
    if match_key == "name":
        if module in PERSON_MODULES:
            return match_name(record_name(module, attributes))
        return match_name(attributes.get(fields[0]))
    normalize = match_phone if match_key == "phone" else match_email
    for name in fields:
        value = normalize(attributes.get(name))
        if value:
            return value
    return ""


def _plan(
    client: V8Client | None,
    module: str,
    checked: list[tuple[int, Mapping[str, Any], dict[str, Any], str]],
    columns: Mapping[str, str],
    match_key: str,
    summary: ImportSummary,
    tick: Progress,
) -> list[_Plan]:
    existing = _existing_records(client, module, match_key, columns)
    accounts = _AccountResolver(client)
    plans = []
    for number, values, attributes, key in checked:
        try:
            account_id = accounts.resolve(module, attributes)
        except InputError as exc:
            summary.errors.append(RowError(number, exc.message, values))
            tick(1)
            continue
        matches = existing.get(key, [])
        if len(matches) > 1:
            summary.errors.append(
                RowError(
                    number,
                    _(
                        "{count} records in SuiteCRM have this {key}; merge them first"
                    ).format(count=len(matches), key=_match_label(match_key)),
                    values,
                )
            )
            tick(1)
            continue
        plans.append(_plan_row(module, number, values, attributes, matches, account_id))
    return plans


def _plan_row(
    module: str,
    number: int,
    values: Mapping[str, Any],
    attributes: dict[str, Any],
    matches: list[tuple[str, Mapping[str, Any]]],
    account_id: str | None,
) -> _Plan:
    if not matches:
        if account_id and module == "Opportunities":
            attributes["account_id"] = account_id  # Q26
        return _Plan(number, values, Action.CREATE, attributes, account_id=account_id)
    record_id, stored = matches[0]
    # NOTE: a re-import does not move an existing record to another account.
    changed = {
        name: value
        for name, value in attributes.items()
        if not _same(stored.get(name), _as_stored(module, name, value))
    }
    action = Action.UPDATE if changed else Action.SKIP
    return _Plan(number, values, action, changed, record_id=record_id)


def _existing_records(
    client: V8Client | None,
    module: str,
    match_key: str,
    columns: Mapping[str, str],
) -> dict[str, list[tuple[str, Mapping[str, Any]]]]:
    """Existing records by match value, read once with only the needed fields."""
    if client is None:
        return {}
    wanted = set(_MATCH_FIELDS[module][match_key]) | set(columns.values())
    if module in _RESOLVES_ACCOUNT:
        wanted.discard(_ACCOUNT_FIELD)
    index: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    records = client.iter_records(
        module, fields=sorted(wanted), page_size=PREFETCH_PAGE_SIZE
    )
    for record in records:
        key = match_value(module, match_key, record.attributes)
        if key:
            index.setdefault(key, []).append((record.id, record.attributes))
    return index


class _AccountResolver:
    """Account ids by exact account name, one lookup per distinct name."""

    def __init__(self, client: V8Client | None) -> None:
        self._client = client
        self._cache: dict[str, str | None] = {}

    def resolve(self, module: str, attributes: dict[str, Any]) -> str | None:
        if module not in _RESOLVES_ACCOUNT:
            return None
        name = attributes.pop(_ACCOUNT_FIELD, None)
        if not name or self._client is None:
            return None
        key = match_name(name)
        if key not in self._cache:
            page = self._client.list(
                # Q13: filters compare with the stored value, which has no tags.
                "Accounts",
                fields=["name"],
                filters={"name": stored_varchar(name).strip()},
            )
            ids = [r.id for r in page.records if match_name(r.get("name")) == key]
            self._cache[key] = ids[0] if len(ids) == 1 else None
            if len(ids) > 1:
                self._cache[key] = ""
        found = self._cache[key]
        if found is None:
            raise InputError(_("no account named {name}").format(name=name))
        if found == "":
            raise InputError(_("several accounts are named {name}").format(name=name))
        return found


def _count_plans(plans: list[_Plan], summary: ImportSummary) -> None:
    for plan in plans:
        if plan.action is Action.CREATE:
            summary.created += 1
        elif plan.action is Action.UPDATE:
            summary.updated += 1
        else:
            summary.skipped += 1


def _write(
    client: V8Client,
    module: str,
    plans: list[_Plan],
    summary: ImportSummary,
    concurrency: int,
    tick: Progress,
) -> None:
    """Send the creates and updates, ``concurrency`` at a time; failures recorded."""

    def send(plan: _Plan) -> tuple[_Plan, str | None]:
        try:
            _send_one(client, module, plan)
        except BridgeError as exc:
            return plan, exc.message
        return plan, None

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for plan, failure in pool.map(send, plans):
            tick(1)
            if failure is None:
                continue
            logger.warning("row %d of the import failed: %s", plan.row, failure)
            if plan.action is Action.CREATE:
                summary.created -= 1
            elif plan.action is Action.UPDATE:
                summary.updated -= 1
            summary.errors.append(RowError(plan.row, failure, plan.values))


def _send_one(client: V8Client, module: str, plan: _Plan) -> None:
    if plan.action is Action.SKIP:
        return
    if plan.action is Action.UPDATE:
        client.update(module, str(plan.record_id), plan.attributes)
        return
    record = client.create(module, plan.attributes)
    if plan.account_id and module == "Contacts":
        client.relate("Contacts", record.id, "accounts", "Accounts", plan.account_id)


def _match_label(match_key: str) -> str:
    names = {
        "name": _("name"),
        "phone": _("phone number"),
        "email": _("e-mail address"),
    }
    return names.get(match_key, match_key)


def _no_progress(count: int) -> None:
    pass


def _check_module(module: str) -> None:
    if module not in IMPORT_MODULES:
        raise InputError(
            _("Cannot import into {module}; choose one of {modules}").format(
                module=module, modules=", ".join(IMPORT_MODULES)
            )
        )


def _check_match_key(module: str, match_key: str) -> None:
    if match_key not in MATCH_KEYS or not _MATCH_FIELDS[module][match_key]:
        usable = [key for key in MATCH_KEYS if _MATCH_FIELDS[module][key]]
        raise InputError(
            _("{module} records cannot be matched by {key}; use one of {keys}").format(
                module=module, key=match_key, keys=", ".join(usable)
            )
        )


def _check_required_column(
    module: str, columns: Mapping[str, str], labels: Labels
) -> None:
    required = _REQUIRED[module]
    if required not in columns.values():
        raise InputError(
            _("The sheet has no column for {field}; add one or give --mapping").format(
                field=labels.field_label(module, required)
            )
        )


def _as_stored(module: str, name: str, value: Any) -> Any:
    """``value`` as SuiteCRM will keep it: a varchar column loses tags (Q13)."""
    column = _TABLES[module].c.get(name)
    if (
        not isinstance(value, str)
        or column is None
        or not isinstance(column.type, sa.String)
        or isinstance(column.type, sa.Text)
    ):
        return value
    return stored_varchar(value)


def _same(stored: Any, new: Any) -> bool:
    left = "" if stored is None else str(stored).strip()
    right = "" if new is None else str(new).strip()
    if left == right:
        return True
    try:
        return float(left) == float(right)
    except ValueError:
        return False


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
