"""CasesTable: a case, its tracing tasks and its contacts, one item collection per case (and one
per tracing task).

Layout (``pk`` = case id, but for tasks):

* ``sk = CASE``: the case (person, status and its ``history``, diagnosis, ``tracing``
  pending/done, ``tasks_total``, ``tasks_done``, ``contacts_found``, ``traced_at``; with two
  generations traced, ``second_total`` and ``second_done`` count the generation-2 tasks). Its
  stream INSERT starts tracing.
* ``sk = GEN#2``: written once the first generation's tasks are all done, when the case traces
  two generations; its stream INSERT plans the generation-2 tasks (around each close contact's
  own presences).
* ``pk = <case id>#TASK#<digest>``, ``sk = TASK#<digest>#<part>``: one tracing task (``task``
  JSON, ``tracing`` pending/done), in a partition of its own with its continuations, so the
  tasks of a case run side by side (:func:`task_partition`). Its stream INSERT runs it. A task
  closed with a continuation writes the continuation, marks itself done and adds one to both
  ``tasks_total`` and ``tasks_done`` in one transaction; so ``tasks_done == tasks_total``
  exactly when every task, continuations included, is done.
* ``sk = RELEASE#<part>``: written when an excluded case is approved; its INSERT makes tracing
  end every exposure fact found through the case, a page of contacts at a time (``traced_at``:
  the approval, the instant they stop counting; ``via``: the contact it resumes after), handing
  the rest to the next part when time runs short.
* ``sk = CONTACT#<person_id>``: the person's strongest exposure in this case. A conditional
  update keeps the strongest (``rank``, then the smaller ``exposure_id``), whatever order
  tasks and pages finish in; a close contact's row also keeps its first close exposure's start
  and when that was learned (``first_close_at``, ``close_learned_at``).

Status changes (``PATCH /v1/cases/{case_id}``) are conditional on the status as read, so of two
concurrent changes one wins and the other is told the case changed (409). A closed case
(recovered, excluded) releases its person's case fact (it expires at the approval); an excluded
case also ends every exposure fact found through it (facts ``exposure#<case_id>#…`` under each
contact).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from healthcode.errors import Conflict
from healthcode.rules import colour
from healthcode.rules.cases import CLOSED_STATUSES, UPGRADE, CaseStatus, TracingTask, check_status_change
from healthcode.rules.policy import FactKind
from healthcode.rules.tracing import Exposure
from healthcode.storage import facts
from healthcode.storage.base import instant_key, ttl_after
from healthcode.storage.batches import write_batches
from healthcode.storage.connection import table
from healthcode.storage.models import CaseItem, Fact
from healthcode.storage.persons import audit_entry
from healthcode.storage.transactions import Transaction

__all__ = [
    "CASE_REPORTED",
    "CASE_SK",
    "CASE_UPDATED",
    "CONTACT_PREFIX",
    "DONE",
    "PENDING",
    "RELEASE_PREFIX",
    "SECOND_GENERATION_SK",
    "TASK_PREFIX",
    "CaseView",
    "CloseContact",
    "ContactRow",
    "LabOfCase",
    "Release",
    "add_new_rows",
    "add_tasks",
    "case_fact_id",
    "change_status",
    "close_contacts",
    "close_task",
    "contact_people",
    "contacts",
    "count_contacts",
    "end_exposures",
    "finish",
    "get",
    "is_case_id",
    "is_case_key",
    "is_release_key",
    "is_second_generation_key",
    "is_task_key",
    "keep_first_close",
    "keep_first_close_many",
    "keep_strongest",
    "keep_strongest_many",
    "open_case",
    "release_from_image",
    "set_plan",
    "set_second_plan",
    "start_release",
    "start_second_generation",
    "task_done",
    "task_from_image",
    "task_keys_under_case",
    "task_partition",
    "under_case",
    "written_task_keys",
]

CASE_SK = "CASE"
CONTACT_PREFIX = "CONTACT#"
TASK_PREFIX = "TASK#"
SECOND_GENERATION_SK = "GEN#2"
PENDING, DONE = "pending", "done"


@dataclass(frozen=True)
class StatusStep:
    """One step of a case's status history: the status, when, and the official (or ``lab``)."""

    status: str
    at: datetime
    by: str | None


@dataclass(frozen=True)
class CaseView:
    """A case as stored (``origin``: who reported it, ``official`` or ``lab``; ``generations``:
    how many generations its tracing reaches)."""

    case_id: str
    person_id: str | None
    status: str | None
    diagnosed_at: datetime | None
    tracing: str | None
    origin: str | None
    created_by: str | None
    created_at: datetime | None
    tasks_total: float | None
    tasks_done: float | None
    contacts_found: float | None
    traced_at: datetime | None
    history: tuple[StatusStep, ...] = ()
    generations: int = 1
    second_total: float | None = None
    second_done: float | None = None


@dataclass(frozen=True)
class ContactRow:
    person_id: str
    kind: str
    venue_id: str
    exposure_at: datetime
    overlap_minutes: float
    generation: int = 1
    via: str | None = None


def _step_text(status: str, at: datetime, by: str | None) -> str:
    return json.dumps({"status": status, "at": instant_key(at), "by": by}, separators=(",", ":"))


def _history(item: CaseItem) -> tuple[StatusStep, ...]:
    """The stored history; a case stored before it was kept shows its report alone."""
    if not item.history:
        if item.status is None or item.created_at is None:
            return ()
        return (StatusStep(str(item.status), item.created_at, item.created_by),)
    steps = []
    for text in item.history:
        step = json.loads(text)
        steps.append(StatusStep(str(step["status"]), datetime.fromisoformat(step["at"]), step.get("by")))
    return tuple(steps)


def _view(item: CaseItem) -> CaseView:
    return CaseView(
        case_id=str(item.pk),
        person_id=item.person_id,
        status=item.status,
        diagnosed_at=item.diagnosed_at,
        tracing=item.tracing,
        origin=item.kind,
        created_by=item.created_by,
        created_at=item.created_at,
        tasks_total=item.tasks_total,
        tasks_done=item.tasks_done,
        contacts_found=item.contacts_found,
        traced_at=item.traced_at,
        history=_history(item),
        generations=int(item.generations or 1),
        second_total=item.second_total,
        second_done=item.second_done,
    )


def _condition_failed(error: UpdateError) -> bool:
    return error.cause_response_code == "ConditionalCheckFailedException"


def is_case_key(sort_key: str) -> bool:
    return sort_key == CASE_SK


def is_task_key(sort_key: str) -> bool:
    return sort_key.startswith(TASK_PREFIX)


def is_second_generation_key(sort_key: str) -> bool:
    return sort_key == SECOND_GENERATION_SK


# -- cases -----------------------------------------------------------------------------------


def is_case_id(case_id: str) -> bool:
    """Whether a case could have this id (what a route checks before reading)."""
    return case_id.startswith("case-") and len(case_id) <= 64


def get(case_id: str, *, consistent: bool = False) -> CaseView | None:
    try:
        return _view(CaseItem.get(case_id, CASE_SK, consistent_read=consistent))
    except CaseItem.DoesNotExist:
        return None


#: Audit kinds of a case on the person's trail: its first report, and a later report that is
#: news (a new status, or a positive lab result for it).
CASE_REPORTED = "case_reported"
CASE_UPDATED = "case_updated"
#: Attempts at writing a case against concurrent reports of the same case.
OPEN_ATTEMPTS = 5


@dataclass(frozen=True)
class LabOfCase:
    """The positive lab result a case is opened (or confirmed) by: stored as its lab fact in the
    case's transaction, once (a retry finds it recorded)."""

    lab_id: str
    sampled_at: datetime
    keep_days: int


def case_fact_id(case_id: str) -> str:
    return f"case#{case_id}"


def _case_fact(
    case_id: str,
    person_id: str,
    status: str,
    *,
    diagnosed_at: datetime,
    reported: datetime,
    learned: datetime,
) -> Fact:
    fact = colour.Fact(
        fact_id=case_fact_id(case_id),
        kind=FactKind.CASE,
        starts_at=min(diagnosed_at, reported),
        expires_at=None,
        detail=status,
        recorded_at=reported,
        learned_at=learned,
    )
    return facts.item_for(person_id, fact, recorded_at=reported, source=case_id)


def open_case(
    case_id: str,
    *,
    person_id: str,
    status: CaseStatus,
    diagnosed_at: datetime,
    actor: str,
    origin: str,
    now: datetime,
    lab: LabOfCase | None = None,
) -> tuple[CaseView, bool]:
    """Write a case with its person's case fact (red from the diagnosis on) and its audit entry in
    ONE transaction, so no crash leaves a case (whose insert starts tracing) without its red fact.

    * A new case: the case (``attribute_not_exists``), its fact (learned now) and a
      ``case_reported`` entry; ``lab``, the positive lab result that opened it, in the same write.
    * A known case reported with a stronger status (suspected → confirmed), or with a positive
      ``lab`` result not recorded before: the status (under the status as read), the fact
      learned again now (an override approved before this is no cover for it) and a
      ``case_updated`` entry, together.
    * A known case reported again as it stands or with a weaker status (a retry, a late
      report), or a lab result already recorded: nothing is written.
    * A closed case (recovered, excluded): 409 ``case_closed``; a lab row for it is left alone.

    Returns the case and whether it is new."""
    lab_item = None
    if lab is not None:
        lab_item = facts.lab_item(
            person_id,
            lab.lab_id,
            colour.LabResult(sampled_at=lab.sampled_at, positive=True),
            recorded_at=now,
            keep_days=lab.keep_days,
        )
    for _ in range(OPEN_ATTEMPTS):
        try:
            existing: CaseItem | None = CaseItem.get(case_id, CASE_SK, consistent_read=True)
        except CaseItem.DoesNotExist:
            existing = None
        write = Transaction()
        if lab_item is not None:
            write.save("lab", lab_item, condition=Fact.fact_id.does_not_exist())
        if existing is None:
            case = CaseItem(
                case_id,
                CASE_SK,
                person_id=person_id,
                status=str(status),
                diagnosed_at=diagnosed_at,
                tracing=PENDING,
                kind=origin,
                created_by=actor,
                created_at=now,
                history=[_step_text(str(status), now, actor)],
            )
            write.save("case", case, condition=CaseItem.pk.does_not_exist())
            write.save(
                "fact",
                _case_fact(
                    case_id, person_id, str(status), diagnosed_at=diagnosed_at, reported=now, learned=now
                ),
            )
            first: dict[str, Any] = {"case_id": case_id, "status": str(status), "origin": origin}
            # keyed by the case and the instant: only the same report at the same instant could
            # rewrite it, with the same content (no condition: it never refuses the case's write)
            write.save(
                "entry",
                audit_entry(person_id, CASE_REPORTED, actor=actor, at=now, details=first, entry_id=case_id),
            )
            refused = write.commit()
            if not refused:
                return _view(case), True
            if "lab" in refused and "case" not in refused:
                return _view(case), False  # pragma: no cover - a positive lab is written with its case
            continue  # created meanwhile: read it again
        if existing.status in CLOSED_STATUSES:
            if lab is not None:
                return _view(existing), False  # a closed case is not reopened by a lab row
            raise Conflict(
                f"the case is closed ({existing.status}); report a new case",
                field="status",
                code="case_closed",
            )
        upgrade = existing.status != str(status) and _upgrades(existing.status, status)
        if not upgrade and lab is None:
            return _view(existing), False  # a retry, or a weaker status reported again: no news
        status = status if upgrade else CaseStatus(str(existing.status))
        reported = existing.created_at or now
        update = CaseItem(case_id, CASE_SK)
        actions: list[Action] = [CaseItem.status.set(str(status))]
        if upgrade:
            actions.append(_append_step(existing, str(status), now, actor))
        write.update("case", update, actions=actions, condition=CaseItem.status == existing.status)
        write.save(
            "fact",
            _case_fact(
                case_id,
                str(existing.person_id or person_id),
                str(status),
                diagnosed_at=existing.diagnosed_at or diagnosed_at,
                reported=reported,
                learned=now,
            ),
        )
        details: dict[str, Any] = {
            "case_id": case_id,
            "from": existing.status,
            "status": str(status),
            "origin": origin,
            "lab": lab is not None,
        }
        write.save(
            "entry",
            audit_entry(
                str(existing.person_id or person_id),
                CASE_UPDATED,
                actor=actor,
                at=now,
                details=details,
                entry_id=f"{case_id}#{status}",
            ),
        )
        refused = write.commit()
        if not refused:
            found = get(case_id, consistent=True)
            return (found or _view(existing)), False
        if "lab" in refused:
            return _view(existing), False  # this lab result was recorded before: a retry
        # the status changed meanwhile (or the same update at the same instant): read again
    raise Conflict("the case is being changed by someone else; try again", code="concurrent_change")


def _upgrades(current: str | None, status: CaseStatus) -> bool:
    """Whether reporting ``status`` again upgrades a case that is ``current`` (suspected →
    asymptomatic/confirmed, asymptomatic → confirmed); a weaker status changes nothing."""
    try:
        return check_status_change(current, status) == UPGRADE
    except Conflict:
        return False


def _append_step(existing: CaseItem, status: str, at: datetime, by: str | None) -> Action:
    """The history with one more step (a case stored without one starts from its report)."""
    step = _step_text(status, at, by)
    if existing.history:
        return CaseItem.history.set(CaseItem.history.append([step]))
    first = [_step_text(s.status, s.at, s.by) for s in _history(existing)]
    return CaseItem.history.set([*first, step])


#: Audit kinds of a status change approved by a second official (a case closed).
CASE_RECOVERED = "case_recovered"
CASE_EXCLUDED = "case_excluded"


def _read_case(case_id: str) -> CaseItem | None:
    try:
        return CaseItem.get(case_id, CASE_SK, consistent_read=True)
    except CaseItem.DoesNotExist:
        return None


def change_status(
    case_id: str,
    *,
    expected: str,
    status: CaseStatus,
    actor: str,
    now: datetime,
    approved_by: str | None = None,
    monitoring_days: int = 0,
) -> CaseView | None:
    """Change the case from ``expected`` to ``status`` with its case fact and an audit entry on
    the person, in ONE transaction conditional on the status still being ``expected``; None if
    it was not (someone changed it first).

    * An open status (an upgrade): the case fact says the new status and is learned again now,
      so an override approved before it does not hide it (``case_updated``).
    * ``recovered`` / ``excluded`` (approved by ``approved_by``): the case fact expires now, the
      person's red is released (``case_recovered`` / ``case_excluded``); a recovered person is
      then under health monitoring (a yellow fact) for ``monitoring_days``, if any."""
    existing = _read_case(case_id)
    if existing is None or existing.status != expected or existing.person_id is None:
        return None
    person_id = str(existing.person_id)
    reported = existing.created_at or now
    diagnosed = existing.diagnosed_at or reported
    by = approved_by or actor
    write = Transaction()
    write.update(
        "case",
        CaseItem(case_id, CASE_SK),
        actions=[CaseItem.status.set(str(status)), _append_step(existing, str(status), now, by)],
        condition=CaseItem.status == expected,
    )
    fact = _case_fact(case_id, person_id, str(status), diagnosed_at=diagnosed, reported=reported, learned=now)
    details: dict[str, Any] = {
        "case_id": case_id,
        "from": expected,
        "status": str(status),
        "origin": "official",
    }
    kind = CASE_UPDATED
    if status in CLOSED_STATUSES:
        kind = CASE_RECOVERED if status == CaseStatus.RECOVERED else CASE_EXCLUDED
        details |= {"requested_by": actor, "approved_by": approved_by}
        fact.expires_at = max(now, fact.starts_at + timedelta(microseconds=1))
        fact.expires_ttl = ttl_after(fact.expires_at, facts.KEEP_AFTER_EXPIRY_DAYS)
        if status == CaseStatus.RECOVERED and monitoring_days > 0:
            watch = colour.Fact(
                fact_id=f"monitoring#{case_id}",
                kind=FactKind.HEALTH_MONITORING,
                starts_at=now,
                expires_at=now + timedelta(days=monitoring_days),
                detail=f"health monitoring after case {case_id}",
                recorded_at=now,
                learned_at=now,
            )
            write.save("monitoring", facts.item_for(person_id, watch, recorded_at=now, source=case_id))
    write.save("fact", fact)
    write.save(
        "entry",
        audit_entry(person_id, kind, actor=by, at=now, details=details, entry_id=f"{case_id}#{status}"),
    )
    if write.commit():
        return None
    return get(case_id, consistent=True)


def contact_people(
    case_id: str, *, after: str | None = None, limit: int = 100
) -> tuple[list[str], str | None]:
    """One page of the person ids of the case's contact rows (keys only), from after ``after``;
    and the person id the next page starts after (None: no more)."""
    start = {"pk": {"S": case_id}, "sk": {"S": f"{CONTACT_PREFIX}{after}"}} if after else None
    page = table(CaseItem).query(
        case_id,
        range_key_condition=CaseItem.sk.startswith(CONTACT_PREFIX),
        exclusive_start_key=start,
        limit=limit,
        consistent_read=True,
        attributes_to_get=["pk", "sk"],
    )
    people = [str(raw["sk"]["S"]).removeprefix(CONTACT_PREFIX) for raw in page.get("Items", [])]
    last = page.get("LastEvaluatedKey")
    return people, (str(last["sk"]["S"]).removeprefix(CONTACT_PREFIX) if last else None)


#: Sort-key prefix of the items whose INSERT ends an excluded case's exposures (a part each).
RELEASE_PREFIX = "RELEASE#"


@dataclass(frozen=True)
class Release:
    """Ending an excluded case's exposures, from the contact after ``after`` on, as of
    ``released_at`` (the approval); ``part`` counts continuations."""

    case_id: str
    released_at: datetime
    part: int = 0
    after: str | None = None

    @property
    def key(self) -> str:
        return f"{RELEASE_PREFIX}{self.part:05d}"


def is_release_key(sort_key: str) -> bool:
    return sort_key.startswith(RELEASE_PREFIX)


def start_release(release: Release) -> bool:
    """Write a release item (its INSERT makes tracing end the exposures); False if it exists."""
    item = CaseItem(
        release.case_id, release.key, tracing=PENDING, traced_at=release.released_at, via=release.after
    )
    try:
        item.save(condition=CaseItem.sk.does_not_exist())
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def release_from_image(image: Mapping[str, Any]) -> Release:
    """The release of a RELEASE item's stream image; ``ValueError`` if malformed."""
    key, case_id, at = image.get("sk"), image.get("pk"), image.get("traced_at")
    if not isinstance(key, str) or not is_release_key(key) or not isinstance(case_id, str):
        raise ValueError("not a release item")
    part = key.removeprefix(RELEASE_PREFIX)
    if not part.isdigit() or not isinstance(at, str):
        raise ValueError("malformed release item")
    after = image.get("via")
    return Release(case_id, datetime.fromisoformat(at), int(part), after if isinstance(after, str) else None)


def end_exposures(case_id: str, person_id: str, *, now: datetime) -> int:
    """Make every exposure fact of ``person_id`` found through ``case_id`` (generations 1 and 2)
    stop counting now (it expires now; kept for the record until its TTL); the number ended.
    Facts already over are left alone, so running it again changes nothing."""
    ended = 0
    prefix = f"exposure#{case_id}#"
    for item in Fact.query(person_id, Fact.fact_id.startswith(prefix), consistent_read=True):
        if item.expires_at is not None and item.expires_at <= now:
            continue
        until = max(now, item.starts_at + timedelta(microseconds=1))
        try:
            item.update(
                actions=[
                    Fact.expires_at.set(until),
                    Fact.expires_ttl.set(ttl_after(until, facts.KEEP_AFTER_EXPIRY_DAYS)),
                    Fact.detail.set(f"{item.detail} (case excluded)"[:500]),
                ],
                condition=Fact.fact_id.exists(),
            )
        except UpdateError as error:
            if not _condition_failed(error):
                raise
            continue
        ended += 1
    return ended


def contacts(case_id: str, *, limit: int, after: str | None = None) -> tuple[list[ContactRow], str | None]:
    """One page of a case's contact rows (by person id) and the person id to continue after."""
    start = {"pk": {"S": case_id}, "sk": {"S": f"{CONTACT_PREFIX}{after}"}} if after else None
    page = table(CaseItem).query(
        case_id,
        range_key_condition=CaseItem.sk.startswith(CONTACT_PREFIX),
        exclusive_start_key=start,
        limit=limit,
    )
    rows = []
    for raw in page.get("Items", []):
        item = CaseItem.from_raw_data(raw)
        rows.append(
            ContactRow(
                person_id=str(item.person_id),
                kind=str(item.kind),
                venue_id=str(item.venue_id),
                exposure_at=item.exposure_at,
                overlap_minutes=float(item.overlap_minutes or 0),
                generation=int(item.generation or 1),
                via=item.via,
            )
        )
    last = page.get("LastEvaluatedKey")
    following = str(last["sk"]["S"]).removeprefix(CONTACT_PREFIX) if last else None
    return rows, following


# -- planning ------------------------------------------------------------------------------------


def task_partition(task: TracingTask) -> str:
    """The partition key of a task's item: the case id and the task's own digest, so each task
    (with its continuations) has a partition of its own. Stream records of one partition key
    are processed in order, those of different keys side by side (``ParallelizationFactor``):
    under the case's own key a case's tasks would run one after another. A task written by an
    earlier release lies under its case's key (``task.stored_under``, see :func:`task_from_image`)
    and is read and closed there."""
    if task.stored_under is not None:
        return task.stored_under
    return f"{task.case_id}#{task.key.rsplit('#', 1)[0]}"


def under_case(task: TracingTask) -> TracingTask:
    """The task as stored by an earlier release: under its case's partition key."""
    return replace(task, stored_under=task.case_id)


def _task_item(task: TracingTask) -> CaseItem:
    return CaseItem(
        task_partition(task),
        task.key,
        person_id=task.case_person_id,
        venue_id=task.venue.venue_id,
        tracing=PENDING,
        task=task.to_json(),
    )


def task_from_image(image: Mapping[str, Any]) -> TracingTask:
    """The task of a TASK item's stream image; ``ValueError`` if malformed (a poison record)."""
    task = TracingTask.from_json(_json(image.get("task")))
    if image.get("sk") != task.key:
        raise ValueError("tracing task stored under a key that is not its own")
    if image.get("pk") == task_partition(task):
        return task
    if image.get("pk") == task.case_id:
        # written by an earlier release, under its case's key (redelivered or replayed after
        # the upgrade): run there, its continuations in partitions of their own
        return under_case(task)
    raise ValueError("tracing task stored under a key that is not its own")


def _json(value: object) -> object:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as error:
            raise ValueError("task is not JSON") from error
    return value


def written_task_keys(tasks: Iterable[TracingTask]) -> set[str]:
    """Sort keys of those of ``tasks`` whose items are written already (each task has its own
    partition: a consistent BatchGetItem of their keys, a hundred a call)."""
    keys = {(task_partition(task), task.key) for task in tasks}
    if not keys:
        return set()
    found = CaseItem.batch_get(sorted(keys), consistent_read=True, attributes_to_get=["pk", "sk"])
    return {str(item.sk) for item in found}


def task_keys_under_case(case_id: str) -> set[str]:
    """Sort keys of TASK items under the case's own partition key (one Query, keys only): the
    tasks an earlier release wrote there; a plan it began is completed with its tasks."""
    return {
        str(item.sk)
        for item in CaseItem.query(
            case_id, CaseItem.sk.startswith(TASK_PREFIX), consistent_read=True, attributes_to_get=["pk", "sk"]
        )
    }


def add_tasks(tasks: Iterable[TracingTask]) -> int:
    """Write TASK items (pending) in batches; each insert runs its task."""
    return write_batches(CaseItem, (_task_item(task) for task in tasks))


def set_plan(case_id: str, *, tasks_total: int, now: datetime, generations: int = 1) -> bool:
    """Record how many tasks the case's tracing has and how many generations it reaches (with no
    task and one generation, tracing is done at once, no contacts); False if the case was
    planned already."""
    actions: list[Action] = [
        CaseItem.tasks_total.set(tasks_total),
        CaseItem.tasks_done.set(CaseItem.tasks_done | 0),
        CaseItem.generations.set(generations),
    ]
    if not tasks_total and generations == 1:
        actions += [CaseItem.tracing.set(DONE), CaseItem.contacts_found.set(0), CaseItem.traced_at.set(now)]
    try:
        CaseItem(case_id, CASE_SK).update(actions=actions, condition=CaseItem.tasks_total.does_not_exist())
    except UpdateError as error:
        if not _condition_failed(error):
            raise
        return False
    return True


# -- tasks -----------------------------------------------------------------------------------------


def start_second_generation(case_id: str) -> bool:
    """Write the case's ``GEN#2`` item (its INSERT plans generation 2); False if it exists."""
    try:
        CaseItem(case_id, SECOND_GENERATION_SK, tracing=PENDING).save(condition=CaseItem.sk.does_not_exist())
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def set_second_plan(case_id: str, *, tasks_total: int) -> bool:
    """Record how many generation-2 tasks the case has; False if it was recorded already."""
    try:
        CaseItem(case_id, CASE_SK).update(
            actions=[
                CaseItem.second_total.set(tasks_total),
                CaseItem.second_done.set(CaseItem.second_done | 0),
            ],
            condition=CaseItem.second_total.does_not_exist(),
        )
    except UpdateError as error:
        if not _condition_failed(error):
            raise
        return False
    return True


@dataclass(frozen=True)
class CloseContact:
    """A close contact of a case: its first close exposure, and when that was learned."""

    person_id: str
    first_close_at: datetime
    learned_at: datetime | None = field(default=None)


def close_contacts(case_id: str) -> list[CloseContact]:
    """The case's close contacts (contact rows with a close exposure; one paged Query)."""
    found = []
    for item in CaseItem.query(case_id, CaseItem.sk.startswith(CONTACT_PREFIX), consistent_read=True):
        if item.first_close_at is not None:
            found.append(CloseContact(str(item.person_id), item.first_close_at, item.close_learned_at))
    return found


def _first_close_update(
    case_id: str, exposure: Exposure, learned_at: datetime
) -> tuple[CaseItem, list[Action], Condition]:
    return (
        CaseItem(case_id, f"{CONTACT_PREFIX}{exposure.person_id}"),
        [
            CaseItem.first_close_at.set(exposure.exposure_start),
            CaseItem.close_learned_at.set(CaseItem.close_learned_at | learned_at),
        ],
        CaseItem.first_close_at.does_not_exist() | (CaseItem.first_close_at > exposure.exposure_start),
    )


def keep_first_close(case_id: str, exposure: Exposure, *, learned_at: datetime) -> None:
    """On the contact row of a close exposure's person: its first close exposure's start (the
    earliest), and when a close exposure was first learned (kept once set)."""
    _update_unless_refused(*_first_close_update(case_id, exposure, learned_at))


def keep_first_close_many(case_id: str, exposures: Sequence[Exposure], *, learned_at: datetime) -> int:
    """:func:`keep_first_close` for many people's exposures (one each), in transactions of up
    to a hundred conditional updates; returns the calls made (see :func:`_update_many`)."""
    return _update_many(
        [_first_close_update(case_id, exposure, learned_at) for exposure in exposures],
        lambda index: keep_first_close(case_id, exposures[index], learned_at=learned_at),
    )


def _update_unless_refused(item: CaseItem, actions: list[Action], condition: Condition) -> None:
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as error:
        if not _condition_failed(error):
            raise


#: Conditional updates one TransactWriteItems may hold (DynamoDB's limit).
TRANSACTION_ITEMS = 100


def _update_many(
    updates: Sequence[tuple[CaseItem, list[Action], Condition]], alone: Callable[[int], None]
) -> int:
    """Apply conditional updates of distinct contact rows a hundred to a transaction: a page of
    a station's co-visitors costs a few calls instead of one per person, the conditions the
    same. A transaction some row refused (a stronger exposure held already, a redelivered page,
    a concurrent writer) writes nothing: its other rows are sent again in one more transaction
    and each refused row goes alone (``alone(index)``: the single conditional update, which
    treats a refusal as done). Returns the calls made."""
    calls = 0
    for start in range(0, len(updates), TRANSACTION_ITEMS):
        chunk = list(range(start, min(start + TRANSACTION_ITEMS, len(updates))))
        refused: set[int] = set()
        for _ in range(2):
            if not chunk:
                break
            if len(chunk) == 1:
                refused |= set(chunk)
                break
            write = Transaction()
            for index in chunk:
                item, actions, condition = updates[index]
                write.update(str(index), item, actions=actions, condition=condition)
            calls += 1
            names = {int(name) for name in write.commit()}
            if not names:
                chunk = []
                break
            refused |= names
            chunk = [index for index in chunk if index not in names]
        for index in sorted(refused | set(chunk)):
            alone(index)
            calls += 1
    return calls


def task_done(task: TracingTask) -> bool:
    try:
        return CaseItem.get(task_partition(task), task.key, consistent_read=True).tracing == DONE
    except CaseItem.DoesNotExist:
        return False


def _strongest_update(
    case_id: str, exposure: Exposure, rank: str
) -> tuple[CaseItem, list[Action], Condition]:
    stronger = (
        CaseItem.rank.does_not_exist()
        | (CaseItem.rank < rank)
        | ((CaseItem.rank == rank) & (CaseItem.exposure_id > exposure.exposure_id))
    )
    return (
        CaseItem(case_id, f"{CONTACT_PREFIX}{exposure.person_id}"),
        [
            CaseItem.person_id.set(exposure.person_id),
            CaseItem.kind.set(exposure.kind.value),
            CaseItem.venue_id.set(exposure.venue_id),
            CaseItem.exposure_at.set(exposure.exposure_start),
            CaseItem.overlap_minutes.set(round(exposure.overlap_minutes, 3)),
            CaseItem.rank.set(rank),
            CaseItem.exposure_id.set(exposure.exposure_id),
            CaseItem.generation.set(exposure.generation),
            CaseItem.via.set(exposure.via) if exposure.via is not None else CaseItem.via.remove(),
        ],
        stronger,
    )


def add_new_rows(
    case_id: str, rows: Sequence[tuple[Exposure, str, Exposure | None]], *, learned_at: datetime
) -> list[int]:
    """Write contact rows that do not exist yet, each with its strongest exposure and rank and,
    for a close contact, its first close exposure (learned ``learned_at``): one write per row
    where :func:`keep_strongest` and :func:`keep_first_close` make two, a hundred rows to a
    TransactWriteItems, each put whole on condition that the row is new. The rows are ``(strongest
    exposure, its rank, first close exposure or None)``. Returns the indexes of the rows that
    existed already (a person met in another task or page, a redelivered page): nothing of
    theirs is written, the caller keeps them with the conditional updates."""
    existed: list[int] = []
    for start in range(0, len(rows), TRANSACTION_ITEMS):
        chunk = list(range(start, min(start + TRANSACTION_ITEMS, len(rows))))
        while chunk:
            write = Transaction()
            for index in chunk:
                write.save(
                    str(index),
                    _new_row(case_id, *rows[index], learned_at),
                    condition=CaseItem.sk.does_not_exist(),
                )
            refused = {int(name) for name in write.commit()}
            if not refused:
                break
            existed += sorted(refused)
            chunk = [index for index in chunk if index not in refused]
    return sorted(existed)


def _new_row(
    case_id: str, strongest: Exposure, rank: str, first_close: Exposure | None, learned_at: datetime
) -> CaseItem:
    """A contact row as :func:`keep_strongest` and :func:`keep_first_close` leave a new one, as
    one item: a new row is put whole (a Put, where DynamoDB charges the same as for the update
    and moto does not parse a dozen update actions per row)."""
    return CaseItem(
        case_id,
        f"{CONTACT_PREFIX}{strongest.person_id}",
        person_id=strongest.person_id,
        kind=strongest.kind.value,
        venue_id=strongest.venue_id,
        exposure_at=strongest.exposure_start,
        overlap_minutes=round(strongest.overlap_minutes, 3),
        rank=rank,
        exposure_id=strongest.exposure_id,
        generation=strongest.generation,
        via=strongest.via,
        first_close_at=None if first_close is None else first_close.exposure_start,
        close_learned_at=None if first_close is None else learned_at,
    )


def keep_strongest(case_id: str, exposure: Exposure, *, rank: str) -> None:
    """The contact row of the exposure's person, unless it already holds a stronger exposure."""
    _update_unless_refused(*_strongest_update(case_id, exposure, rank))


def keep_strongest_many(case_id: str, ranked: Sequence[tuple[Exposure, str]]) -> int:
    """:func:`keep_strongest` for many people's exposures (one each, with its rank), in
    transactions of up to a hundred conditional updates; returns the calls made."""
    return _update_many(
        [_strongest_update(case_id, exposure, rank) for exposure, rank in ranked],
        lambda index: keep_strongest(case_id, ranked[index][0], rank=ranked[index][1]),
    )


#: Attempts to close a task while other tasks of its case close at the same time.
CLOSE_ATTEMPTS = 5


def close_task(task: TracingTask, continuation: TracingTask | None) -> bool:
    """Mark the task done (and write its continuation) in one transaction; False if it was
    already done (a redelivered record). Refusals are read by item: pynamodb sends the
    continuation's put before the updates. Tasks of one case run side by side and each adds
    to the case's count: a transaction refused only on the case item (a conflict with another
    task's, the case update has no condition) is sent again."""
    for attempt in range(CLOSE_ATTEMPTS):
        refused = _close_task_once(task, continuation)
        if refused != {"case"}:
            break
        time.sleep(0.05 * (attempt + 1))
    if "task" in refused:
        return False
    if refused:
        raise TransactWriteError(f"closing task {task.key} refused: {sorted(refused)}")
    return True


def _close_task_once(task: TracingTask, continuation: TracingTask | None) -> frozenset[str]:
    done, total = (
        (CaseItem.tasks_done, CaseItem.tasks_total)
        if task.generation == 1
        else (CaseItem.second_done, CaseItem.second_total)
    )
    case_actions: list[Action] = [done.add(1)]
    if continuation is not None:
        case_actions.append(total.add(1))
    write = Transaction()
    write.update(
        "task",
        CaseItem(task_partition(task), task.key),
        actions=[CaseItem.tracing.set(DONE)],
        condition=CaseItem.tracing == PENDING,
    )
    if continuation is not None:
        write.save("continuation", _task_item(continuation), condition=CaseItem.sk.does_not_exist())
    write.update("case", CaseItem(task.case_id, CASE_SK), actions=case_actions)
    return write.commit()


def count_contacts(case_id: str) -> int:
    return CaseItem.count(case_id, CaseItem.sk.startswith(CONTACT_PREFIX), consistent_read=True)


def finish(case_id: str, *, contacts_found: int, now: datetime) -> bool:
    """Mark the case's tracing done with its count of contacts; False if it already was."""
    try:
        CaseItem(case_id, CASE_SK).update(
            actions=[
                CaseItem.tracing.set(DONE),
                CaseItem.contacts_found.set(contacts_found),
                CaseItem.traced_at.set(now),
            ],
            condition=CaseItem.tracing != DONE,
        )
    except UpdateError as error:
        if not _condition_failed(error):
            raise
        return False
    return True
