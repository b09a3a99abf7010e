"""Running a workflow: inputs checked first, then one step after another.

Owns the run of one :class:`~dscrm_bridge.workflows.definition.Workflow` over one
input file through the V8 client:

1. prepare: every input section is converted (labels to keys, local times to
   UTC, files read) and every problem reported together, before anything is
   written;
2. run: each step finds, creates or links records and reports one line;
3. undo: when a step fails, what this run created is removed again, newest
   first (links, then records), and :class:`StepFailedError` says which step
   failed, why, and whatever could not be removed.

``dry_run`` reads (lookups run for real) but writes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dscrm_bridge.errors import BridgeError, InputError, NotFoundError
from dscrm_bridge.i18n import _
from dscrm_bridge.suitecrm.v8client import Page, Record, V8Client, iterate_pages
from dscrm_bridge.workflows.definition import (
    Action,
    InputKind,
    InputSection,
    Step,
    Workflow,
    parse_reference,
)
from dscrm_bridge.workflows.labels import (
    Labels,
    join_names,
    join_problems,
    load_labels,
)
from dscrm_bridge.workflows.values import (
    PERSON_MODULES,
    convert_record,
    match_name,
    record_name,
)
from dscrm_bridge.yamlfile import Path_, Problems

logger = logging.getLogger(__name__)

Report = Callable[[str], None]
DRY_RUN_ID = "(dry-run)"
_PAGE_SIZE = 100
# What may already end a sentence taken from elsewhere (a reason from SuiteCRM).
_SENTENCE_END = " .。;；,，:：!！"


class StepFailedError(BridgeError):
    """A step failed; what the run had created was removed (``left`` lists the rest)."""

    def __init__(
        self,
        message: str,
        *,
        step: str,
        number: int,
        undone: int,
        left: list[str],
    ) -> None:
        super().__init__(message)
        self.step = step
        self.number = number
        self.undone = undone
        self.left = left


@dataclass(frozen=True)
class Found:
    """A record a step found or created: module name, id, its attributes."""

    module: str
    id: str
    attributes: Mapping[str, Any]

    @property
    def name(self) -> str:
        return record_name(self.module, self.attributes) or self.id


@dataclass(frozen=True)
class RunResult:
    """What a run did: per step id, the records it found or created."""

    workflow: str
    dry_run: bool
    records: Mapping[str, list[Found]]
    lines: list[str]


@dataclass
class _Undo:
    kind: str  # "delete" | "unlink"
    module: str
    id: str
    name: str
    link: str | None = None
    related_id: str | None = None


@dataclass
class PreparedInput:
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)


def prepare_inputs(
    workflow: Workflow,
    inputs: Mapping[str, Any],
    *,
    labels: Labels,
    tz: dt.tzinfo,
    base_dir: Path,
    source: str | None = None,
    lines: Mapping[Path_, int] | None = None,
) -> PreparedInput:
    """Every input section converted, or an InputError listing every problem.

    With ``source`` (the input file) and ``lines`` (from the line-aware reader)
    each problem starts with ``file:line:`` of the value it is about.
    """
    problems = Problems(source or "", lines or {})
    unknown = [name for name in inputs if name not in workflow.inputs]
    if unknown:
        problems.add(
            (str(unknown[0]),),
            _("unknown sections {names}; this workflow reads: {known}").format(
                names=join_names(map(str, unknown)), known=join_names(workflow.inputs)
            ),
        )
    prepared = PreparedInput()
    for name, section in workflow.inputs.items():
        value = inputs.get(name)
        if _is_empty(value):
            if section.required:
                problems.add(
                    (name,),
                    _("section {name} is required ({description})").format(
                        name=name, description=section.description or section.module
                    ),
                )
            continue
        many = isinstance(value, list)
        items: list[Any] = value if isinstance(value, list) else [value]
        if len(items) > 1 and not section.many:
            problems.add(
                (name,),
                _("section {name} takes one entry, not a list").format(name=name),
            )
            continue
        paths: list[tuple[str | int, ...]] = [
            (name, index) if many else (name,) for index in range(len(items))
        ]
        if section.kind is InputKind.LOOKUP:
            prepared.lookups[name] = _lookup_values(section, items, paths, problems)
        else:
            prepared.records[name] = _record_values(
                section,
                items,
                paths,
                problems,
                labels=labels,
                tz=tz,
                base_dir=base_dir,
            )
    if problems.found and source:
        raise InputError(
            _("The input for workflow {name} has problems:").format(name=workflow.name)
            + _problem_lines(problems, source),
            path=source,
            line=min(line for line, _message in problems.found),
        )
    if problems.found:
        raise InputError(
            _("The input for workflow {name} has problems: {problems}").format(
                name=workflow.name,
                problems=join_problems(message for _line, message in problems.found),
            )
        )
    return prepared


def _problem_lines(problems: Problems, source: str) -> str:
    """One ``file:line: ...`` line per problem, in the order of the file."""
    ordered = sorted(dict.fromkeys(problems.found), key=lambda found: found[0])
    return "".join(f"\n{source}:{line}: {message}" for line, message in ordered)


def run_workflow(
    client: V8Client | None,
    workflow: Workflow,
    prepared: PreparedInput,
    *,
    acting_user_id: str | None,
    dry_run: bool,
    report: Report,
) -> RunResult:
    """Run the steps in order; on a failure undo this run's writes and raise."""
    if client is None and not dry_run:
        raise InputError(_("A workflow that writes needs a SuiteCRM connection"))
    runner = _Runner(client, prepared, acting_user_id=acting_user_id, dry_run=dry_run)
    lines: list[str] = []
    total = len(workflow.steps)
    for number, step in enumerate(workflow.steps, start=1):
        try:
            detail = runner.run(step)
        except Exception as exc:
            line = _("[{number}/{total}] {title}: failed").format(
                number=number, total=total, title=step.title
            )
            report(line)
            undone, left = runner.undo(report)
            if not isinstance(exc, BridgeError):
                raise  # a bug or a broken file: undone, shown with its traceback
            raise StepFailedError(
                _failure_message(number, step, exc, undone, left),
                step=step.id,
                number=number,
                undone=undone,
                left=left,
            ) from exc
        line = _("[{number}/{total}] {title}: {detail}").format(
            number=number, total=total, title=step.title, detail=detail
        )
        lines.append(line)
        report(line)
    logger.info(
        "workflow %s: %d steps, %d records created%s",
        workflow.name,
        total,
        runner.created,
        " (dry run)" if dry_run else "",
    )
    return RunResult(
        workflow=workflow.name, dry_run=dry_run, records=runner.results, lines=lines
    )


class _Runner:
    """Runs steps, remembers their records, and how to take its writes back."""

    def __init__(
        self,
        client: V8Client | None,
        prepared: PreparedInput,
        *,
        acting_user_id: str | None,
        dry_run: bool,
    ) -> None:
        self._client = client
        self._prepared = prepared
        self._owner = acting_user_id
        self._dry_run = dry_run
        self._journal: list[_Undo] = []
        self.results: dict[str, list[Found]] = {}
        self.created = 0

    def run(self, step: Step) -> str:
        handlers = {
            Action.FIND: self._find,
            Action.CREATE: self._create,
            Action.LINK: self._link,
        }
        return handlers[step.action](step)

    # -- find ------------------------------------------------------------------

    def _find(self, step: Step) -> str:
        wanted = self._prepared.lookups.get(str(step.input))
        if not wanted:
            self.results[step.id] = []
            return _("skipped ({input} not given)").format(input=step.input)
        if self._client is None:
            self.results[step.id] = [
                Found(step.module, DRY_RUN_ID, {"name": value}) for value in wanted
            ]
            return _("not looked up (no connection): {names}").format(
                names=join_names(wanted)
            )
        found = [self._find_one(step, value) for value in wanted]
        self.results[step.id] = found
        return join_names(record.name for record in found)

    def _find_one(self, step: Step, value: str) -> Found:
        hits = [
            record
            for record in self._candidates(step, value)
            if match_name(self._compared(step, record)) == match_name(value)
        ]
        if not hits:
            raise InputError(
                _("No {module} named {name} was found").format(
                    module=load_labels().module_label(step.module), name=value
                )
            )
        if len(hits) > 1:
            raise InputError(
                _(
                    "{count} records of {module} are named {name}; rename them or "
                    "give a name that only one has"
                ).format(
                    count=len(hits),
                    module=load_labels().module_label(step.module),
                    name=value,
                )
            )
        record = hits[0]
        return Found(step.module, record.id, record.attributes)

    def _candidates(self, step: Step, value: str) -> Iterator[Record]:
        client = self._require_client()
        if step.within:
            parent = self._one(step.within[0])
            link = step.within[1]

            def fetch(number: int, size: int) -> Page:
                return client.relationships(
                    parent.module, parent.id, link, page_size=size, page_number=number
                )

            return iterate_pages(fetch, page_size=_PAGE_SIZE, max_pages=None)
        if step.match == "name" and step.module in PERSON_MODULES:
            # Q29: a person's name is not a column; narrow by the family name's
            # first character and compare the composed name here (Q15).
            return client.iter_records(
                step.module, filters={"last_name": {"like": value.strip()[:1] + "%"}}
            )
        return client.iter_records(step.module, filters={step.match: value.strip()})

    def _compared(self, step: Step, record: Record) -> str:
        if step.match == "name":
            return record_name(step.module, record.attributes)
        return str(record.get(step.match) or "")

    # -- create ----------------------------------------------------------------

    def _create(self, step: Step) -> str:
        items = self._prepared.records.get(str(step.input)) if step.input else [{}]
        if not items:
            self.results[step.id] = []
            return _("skipped ({input} not given)").format(input=step.input)
        created = [self._create_one(step, item) for item in items]
        self.results[step.id] = created
        names = join_names(record.name for record in created)
        if self._dry_run:
            return _("would create {names}").format(names=names)
        return names

    def _create_one(self, step: Step, item: Mapping[str, Any]) -> Found:
        attributes = {**item, **self._resolved_set(step)}
        if self._owner:
            attributes.setdefault("assigned_user_id", self._owner)  # Q22
        upload = (
            attributes.pop("filename", None) if step.module == "Documents" else None
        )
        if self._dry_run:
            return Found(step.module, DRY_RUN_ID, attributes)

        client = self._require_client()
        if isinstance(upload, Path):
            record = client.create_document(
                upload.name, upload.read_bytes(), attributes=attributes
            )
        else:
            record = client.create(step.module, attributes)
        found = Found(step.module, record.id, {**attributes, **record.attributes})
        self._journal.append(_Undo("delete", step.module, record.id, found.name))
        self.created += 1
        return found

    def _resolved_set(self, step: Step) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, value in step.set.items():
            reference = parse_reference(value)
            if reference is None:
                values[name] = value
                continue
            records = self.results.get(reference.step) or []
            if not records:
                continue
            first = records[0]
            resolved = (
                first.id
                if reference.field is None
                else first.attributes.get(reference.field)
            )
            if resolved not in (None, ""):
                values[name] = resolved
        return values

    # -- link ------------------------------------------------------------------

    def _link(self, step: Step) -> str:
        owner_ref = parse_reference(step.record)
        others_ref = parse_reference(step.records)
        assert owner_ref is not None and others_ref is not None  # checked on load
        owners = self.results.get(owner_ref.step) or []
        others = self.results.get(others_ref.step) or []
        if not owners or not others:
            return _("skipped (nothing to link)")
        owner = owners[0]
        link = str(step.link)
        for other in others:
            if self._dry_run:
                continue
            self._require_client().relate(
                owner.module, owner.id, link, other.module, other.id
            )
            self._journal.append(
                _Undo("unlink", owner.module, owner.id, owner.name, link, other.id)
            )
        names = join_names(other.name for other in others)
        if self._dry_run:
            return _("would link {names} to {owner}").format(
                names=names, owner=owner.name
            )
        return _("{names} linked to {owner}").format(names=names, owner=owner.name)

    # -- undo ------------------------------------------------------------------

    def undo(self, report: Report) -> tuple[int, list[str]]:
        """Take back this run's writes, newest first; returns (undone, left)."""
        undone = 0
        left: list[str] = []
        for entry in reversed(self._journal):
            try:
                self._undo_one(entry)
            except NotFoundError:
                pass  # already gone: nothing is left behind
            except BridgeError as exc:
                logger.error(
                    "could not undo %s of %s %s: %s",
                    entry.kind,
                    entry.module,
                    entry.id,
                    exc,
                )
                left.append(f"{entry.module} {entry.id} ({entry.name})")
                continue
            undone += 1
            if entry.kind == "delete":
                report(
                    _("Undone: deleted {module} {name}").format(
                        module=load_labels().module_label(entry.module),
                        name=entry.name,
                    )
                )
        self._journal.clear()
        return undone, left

    def _undo_one(self, entry: _Undo) -> None:
        client = self._require_client()
        if entry.kind == "unlink":
            client.unrelate(
                entry.module, entry.id, str(entry.link), str(entry.related_id)
            )
        else:
            client.delete(entry.module, entry.id)

    # -- helpers ---------------------------------------------------------------

    def _one(self, reference: str) -> Found:
        parsed = parse_reference(reference)
        records = self.results.get(parsed.step) if parsed else None
        if not records:
            raise InputError(
                _("{reference} names no record in this run").format(reference=reference)
            )
        return records[0]

    def _require_client(self) -> V8Client:
        if self._client is None:
            raise InputError(_("A workflow that writes needs a SuiteCRM connection"))
        return self._client


def _lookup_values(
    section: InputSection,
    items: list[Any],
    paths: list[Path_],
    problems: Problems,
) -> list[str]:
    values = []
    for item, path in zip(items, paths, strict=True):
        if isinstance(item, (Mapping, list)) or _is_empty(item):
            problems.add(
                path,
                _("section {name} takes names of existing records").format(
                    name=section.name
                ),
            )
            continue
        values.append(str(item).strip())
    return values


def _record_values(
    section: InputSection,
    items: list[Any],
    paths: list[Path_],
    problems: Problems,
    *,
    labels: Labels,
    tz: dt.tzinfo,
    base_dir: Path,
) -> list[dict[str, Any]]:
    records = []
    for item, where in zip(items, paths, strict=True):
        if not isinstance(item, Mapping):
            problems.add(
                where,
                _("section {name} takes field labels and values").format(
                    name=section.name
                ),
            )
            continue
        attributes: dict[str, Any] = {}
        file_key = "filename"
        for key, raw in item.items():
            # One field at a time, so that each problem has the line of its value.
            converted = convert_record(labels, section.module, {key: raw}, tz=tz)
            for problem in converted.problems:
                problems.add((*where, str(key)), f"{section.name}: {problem}")
            attributes.update(converted.attributes)
            if "filename" in converted.attributes:
                file_key = str(key)
        if section.module == "Documents" and "filename" in attributes:
            path = (base_dir / str(attributes["filename"])).resolve()
            if not path.is_file():
                problems.add(
                    (*where, file_key),
                    _("{section}: the file {path} does not exist").format(
                        section=section.name, path=path
                    ),
                )
            attributes["filename"] = path
        records.append(attributes)
    return records


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _failure_message(
    number: int, step: Step, exc: BridgeError, undone: int, left: list[str]
) -> str:
    message = _("Step {number} ({title}) failed: {reason}").format(
        number=number, title=step.title, reason=exc.message
    )
    if left:
        consequence = _(
            "Could not remove {count} records; delete them by hand: {records}"
        ).format(count=len(left), records="; ".join(left))
    else:
        consequence = _("Undone: {count} changes of this run.").format(count=undone)
    # The reason comes from elsewhere, with or without a full stop of its own.
    return _("{failure}. {consequence}").format(
        failure=message.rstrip(_SENTENCE_END), consequence=consequence
    )
