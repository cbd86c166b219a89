"""CasesTable: a case, its tracing tasks and its contacts, one item collection per case.

Layout (``pk`` = case id):

* ``sk = CASE``: the case (person, status, diagnosis, ``tracing`` pending/done, ``tasks_total``,
  ``tasks_done``, ``contacts_found``, ``traced_at``). Its stream INSERT starts tracing.
* ``sk = TASK#<digest>#<part>``: one tracing task (``task`` JSON, ``tracing`` pending/done).
  Its stream INSERT runs it. A task closed with a continuation writes the continuation, marks
  itself done and adds one to both ``tasks_total`` and ``tasks_done`` in one transaction; so
  ``tasks_done == tasks_total`` exactly when every task, continuations included, is done.
* ``sk = CONTACT#<person_id>``: the person's strongest exposure in this case. A conditional
  update keeps the strongest (``rank``, then the smaller ``exposure_id``), whatever order
  tasks and pages finish in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.update import Action

from healthcode.errors import Conflict
from healthcode.rules import colour
from healthcode.rules.cases import CaseStatus, TracingTask
from healthcode.rules.policy import FactKind
from healthcode.rules.tracing import Exposure
from healthcode.storage import facts
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
    "TASK_PREFIX",
    "CaseView",
    "ContactRow",
    "LabOfCase",
    "add_tasks",
    "case_fact_id",
    "close_task",
    "contacts",
    "count_contacts",
    "finish",
    "get",
    "is_case_id",
    "is_case_key",
    "is_task_key",
    "keep_strongest",
    "open_case",
    "set_plan",
    "task_done",
    "task_from_image",
    "written_task_keys",
]

CASE_SK = "CASE"
CONTACT_PREFIX = "CONTACT#"
TASK_PREFIX = "TASK#"
PENDING, DONE = "pending", "done"


@dataclass(frozen=True)
class CaseView:
    """A case as stored (``origin``: who reported it, ``official`` or ``lab``)."""

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


@dataclass(frozen=True)
class ContactRow:
    person_id: str
    kind: str
    venue_id: str
    exposure_at: datetime
    overlap_minutes: float


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
    )


def _condition_failed(error: UpdateError) -> bool:
    return error.cause_response_code == "ConditionalCheckFailedException"


def is_case_key(sort_key: str) -> bool:
    return sort_key == CASE_SK


def is_task_key(sort_key: str) -> bool:
    return sort_key.startswith(TASK_PREFIX)


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
    * A known case reported with a new status (suspected → confirmed), or with a positive
      ``lab`` result not recorded before: the status (under the status as read), the fact
      learned again now (an override approved before this is no cover for it) and a
      ``case_updated`` entry, together.
    * A known case reported again as it stands (a retry), or a lab result already recorded:
      nothing is written.

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
        if existing.status == str(status) and lab is None:
            return _view(existing), False
        reported = existing.created_at or now
        update = CaseItem(case_id, CASE_SK)
        write.update(
            "case",
            update,
            actions=[CaseItem.status.set(str(status))],
            condition=CaseItem.status == existing.status,
        )
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
            existing.status = str(status)
            return _view(existing), False
        if "lab" in refused:
            return _view(existing), False  # this lab result was recorded before: a retry
        # the status changed meanwhile (or the same update at the same instant): read again
    raise Conflict("the case is being changed by someone else; try again", code="concurrent_change")


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
            )
        )
    last = page.get("LastEvaluatedKey")
    following = str(last["sk"]["S"]).removeprefix(CONTACT_PREFIX) if last else None
    return rows, following


# -- planning ------------------------------------------------------------------------------------


def _task_item(task: TracingTask) -> CaseItem:
    return CaseItem(
        task.case_id,
        task.key,
        person_id=task.case_person_id,
        venue_id=task.venue.venue_id,
        tracing=PENDING,
        task=task.to_json(),
    )


def task_from_image(image: Mapping[str, Any]) -> TracingTask:
    """The task of a TASK item's stream image; ``ValueError`` if malformed (a poison record)."""
    task = TracingTask.from_json(_json(image.get("task")))
    if image.get("pk") != task.case_id or image.get("sk") != task.key:
        raise ValueError("tracing task stored under a key that is not its own")
    return task


def _json(value: object) -> object:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as error:
            raise ValueError("task is not JSON") from error
    return value


def written_task_keys(case_id: str) -> set[str]:
    """Sort keys of the case's TASK items already written (one Query, keys only)."""
    return {
        str(item.sk)
        for item in CaseItem.query(
            case_id, CaseItem.sk.startswith(TASK_PREFIX), consistent_read=True, attributes_to_get=["pk", "sk"]
        )
    }


def add_tasks(tasks: Iterable[TracingTask]) -> int:
    """Write TASK items (pending) in batches; each insert runs its task."""
    return write_batches(CaseItem, (_task_item(task) for task in tasks))


def set_plan(case_id: str, *, tasks_total: int, now: datetime) -> bool:
    """Record how many tasks the case's tracing has (with none, tracing is done at once, no
    contacts); False if the case was planned already."""
    actions: list[Action] = [
        CaseItem.tasks_total.set(tasks_total),
        CaseItem.tasks_done.set(CaseItem.tasks_done | 0),
    ]
    if not tasks_total:
        actions += [CaseItem.tracing.set(DONE), CaseItem.contacts_found.set(0), CaseItem.traced_at.set(now)]
    try:
        CaseItem(case_id, CASE_SK).update(actions=actions, condition=CaseItem.tasks_total.does_not_exist())
    except UpdateError as error:
        if not _condition_failed(error):
            raise
        return False
    return True


# -- tasks -----------------------------------------------------------------------------------------


def task_done(task: TracingTask) -> bool:
    try:
        return CaseItem.get(task.case_id, task.key, consistent_read=True).tracing == DONE
    except CaseItem.DoesNotExist:
        return False


def keep_strongest(case_id: str, exposure: Exposure, *, rank: str) -> None:
    """The contact row of the exposure's person, unless it already holds a stronger exposure."""
    stronger = (
        CaseItem.rank.does_not_exist()
        | (CaseItem.rank < rank)
        | ((CaseItem.rank == rank) & (CaseItem.exposure_id > exposure.exposure_id))
    )
    try:
        CaseItem(case_id, f"{CONTACT_PREFIX}{exposure.person_id}").update(
            actions=[
                CaseItem.person_id.set(exposure.person_id),
                CaseItem.kind.set(exposure.kind.value),
                CaseItem.venue_id.set(exposure.venue_id),
                CaseItem.exposure_at.set(exposure.exposure_start),
                CaseItem.overlap_minutes.set(round(exposure.overlap_minutes, 3)),
                CaseItem.rank.set(rank),
                CaseItem.exposure_id.set(exposure.exposure_id),
            ],
            condition=stronger,
        )
    except UpdateError as error:
        if not _condition_failed(error):
            raise


def close_task(task: TracingTask, continuation: TracingTask | None) -> bool:
    """Mark the task done (and write its continuation) in one transaction; False if it was
    already done (a redelivered record). Refusals are read by item: pynamodb sends the
    continuation's put before the updates."""
    case_actions: list[Action] = [CaseItem.tasks_done.add(1)]
    if continuation is not None:
        case_actions.append(CaseItem.tasks_total.add(1))
    write = Transaction()
    write.update(
        "task",
        CaseItem(task.case_id, task.key),
        actions=[CaseItem.tracing.set(DONE)],
        condition=CaseItem.tracing == PENDING,
    )
    if continuation is not None:
        write.save("continuation", _task_item(continuation), condition=CaseItem.sk.does_not_exist())
    write.update("case", CaseItem(task.case_id, CASE_SK), actions=case_actions)
    refused = write.commit()
    if "task" in refused:
        return False
    if refused:
        raise TransactWriteError(f"closing task {task.key} refused: {sorted(refused)}")
    return True


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
