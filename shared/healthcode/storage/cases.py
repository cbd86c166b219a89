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

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from healthcode.rules.cases import CaseStatus, TracingTask
from healthcode.rules.tracing import Exposure
from healthcode.storage.batches import write_batches
from healthcode.storage.connection import connection, table
from healthcode.storage.models import CaseItem

__all__ = [
    "CASE_SK",
    "CONTACT_PREFIX",
    "DONE",
    "PENDING",
    "TASK_PREFIX",
    "CaseView",
    "ContactRow",
    "add_tasks",
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


def _condition_failed(error: PutError | UpdateError) -> bool:
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


def open_case(
    case_id: str,
    *,
    person_id: str,
    status: CaseStatus,
    diagnosed_at: datetime,
    actor: str,
    origin: str,
    now: datetime,
) -> tuple[CaseView, bool]:
    """Write the case if it is new (its insert starts tracing); otherwise the stored case, its
    status updated when a new one is reported. Returns the case and whether it is new."""
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
    try:
        case.save(condition=CaseItem.pk.does_not_exist())
    except PutError as error:
        if not _condition_failed(error):
            raise
        try:
            existing = CaseItem.get(case_id, CASE_SK, consistent_read=True)
        except CaseItem.DoesNotExist:  # pragma: no cover - a case is never deleted
            raise RuntimeError(f"case {case_id} vanished") from error
        if existing.status != str(status):
            existing.update(actions=[CaseItem.status.set(str(status))])
        return _view(existing), False
    return _view(case), True


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
    already done (a redelivered record)."""
    case_actions: list[Action] = [CaseItem.tasks_done.add(1)]
    if continuation is not None:
        case_actions.append(CaseItem.tasks_total.add(1))
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.update(
                CaseItem(task.case_id, task.key),
                actions=[CaseItem.tracing.set(DONE)],
                condition=CaseItem.tracing == PENDING,
            )
            if continuation is not None:
                transaction.save(_task_item(continuation), condition=CaseItem.sk.does_not_exist())
            transaction.update(CaseItem(task.case_id, CASE_SK), actions=case_actions)
    except TransactWriteError as error:
        reasons = error.cancellation_reasons
        if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
            return False
        raise
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
