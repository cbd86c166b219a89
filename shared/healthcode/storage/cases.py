"""Cases, their tracing tasks and contacts; risk areas and their sweeps; lab results; expiry.

CasesTable layout (one item collection per case, ``pk`` = case id):

* ``sk = CASE``: the case (person, status, diagnosis, ``tracing`` pending/done, ``tasks_total``,
  ``tasks_done``, ``contacts_found``, ``traced_at``). Written by :func:`open_case`; its stream
  INSERT makes the tracing consumer :func:`plan` the case.
* ``sk = TASK#<digest>#<part>``: one tracing task (``task`` JSON, ``tracing`` pending/done).
  Its stream INSERT makes the consumer :func:`run_task` it. A task that runs short of time
  writes its continuation (``part + 1``, resuming at the same shard and ``LastEvaluatedKey``),
  marks itself done and adds one to both ``tasks_total`` and ``tasks_done`` in one transaction;
  so ``tasks_done == tasks_total`` exactly when every task, continuations included, is done.
* ``sk = CONTACT#<person_id>``: the person's strongest exposure in this case. A conditional
  update keeps the strongest (``rank``, then the smaller ``exposure_id``), whatever order
  tasks and pages finish in.

Every read of tracing depends only on the case: its person's presences (one Query on the
scans' ``by_person`` index), the venues of the complexes those lie in (``by_root``), and the
presences in each co-visitor window (``shards`` Queries per venue, paged). Exposure facts go to
the FactsTable under the contact (deterministic id: the exposure id), where the colour consumer
picks them up. Re-running anything writes the same items.

RiskAreasTable: the areas (``models.RiskArea``) and, beside them, *sweep* items
(``region_code = sweep#<area>#<change>#<part>``) that carry an interrupted risk-area change on
to the next invocation, as tasks do for tracing.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from healthcode.errors import Conflict
from healthcode.rules import cases, colour, tracing
from healthcode.rules.policy import FactKind, Policy
from healthcode.storage import facts, scans
from healthcode.storage.base import InstantAttribute, instant_key
from healthcode.storage.connection import connection, table
from healthcode.storage.models import CaseItem, Fact, Person, RiskArea, RiskAreaSweep, Scan, Venue

__all__ = [
    "CASE_SK",
    "CONTACT_PREFIX",
    "RiskAreaSweep",
    "SweepOutcome",
    "TaskOutcome",
    "UnprocessedWrites",
    "case_fact_id",
    "contacts",
    "due_persons",
    "finish_if_complete",
    "get_case",
    "get_risk_area",
    "open_case",
    "plan",
    "presence_of",
    "put_risk_area",
    "run_sweep",
    "run_task",
    "save_labs",
    "sweep_from_item",
    "task_from_item",
    "write_batches",
]

CASE_SK = "CASE"
CONTACT_PREFIX = "CONTACT#"
TASK_PREFIX = "TASK#"
SWEEP_PREFIX = "sweep#"
PENDING, DONE = "pending", "done"
#: Items per co-visitor Query page: bounds the work between two looks at the clock.
PAGE_SIZE = 500
#: Trips per risk-area Query page (each one a recomputation).
TRIP_PAGE_SIZE = 100
#: Stop and hand over when fewer seconds than this remain in the invocation.
DEFAULT_MARGIN_SECONDS = 10.0
#: BatchWriteItem takes at most 25 items; unprocessed ones are retried this often with backoff.
BATCH_LIMIT = 25
BATCH_ATTEMPTS = 8
#: Concurrent write requests while recording a page of exposures.
WRITERS = 8

_M = TypeVar("_M", bound=Model)
_T = TypeVar("_T")
Remaining = Callable[[], float]


class UnprocessedWrites(RuntimeError):
    """DynamoDB kept refusing part of a batch write; the stream record is retried."""


def write_batches(
    model: type[_M],
    items: Iterable[_M],
    *,
    attempts: int = BATCH_ATTEMPTS,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Put ``items`` in BatchWriteItem requests of 25, retrying unprocessed items with jittered
    exponential backoff; ``UnprocessedWrites`` if some are still refused after ``attempts``."""
    pause = sleep or time.sleep
    connection = table(model)
    written = 0
    chunk: list[dict[str, Any]] = []

    def flush() -> None:
        pending = chunk[:]
        for attempt in range(attempts):
            answer = connection.batch_write_item(put_items=pending) or {}
            left = (answer.get("UnprocessedItems") or {}).get(model.Meta.table_name) or []
            pending = [request["PutRequest"]["Item"] for request in left if "PutRequest" in request]
            if not pending:
                return
            pause(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random() / 2))  # noqa: S311 - jitter
        raise UnprocessedWrites(f"{len(pending)} items of {model.Meta.table_name} still unprocessed")

    for item in items:
        chunk.append(item.serialize())
        written += 1
        if len(chunk) == BATCH_LIMIT:
            flush()
            chunk.clear()
    if chunk:
        flush()
    return written


def _condition_failed(error: PutError | UpdateError) -> bool:
    return error.cause_response_code == "ConditionalCheckFailedException"


# -- cases -----------------------------------------------------------------------------------


def case_fact_id(case_id: str) -> str:
    return f"case#{case_id}"


def get_case(case_id: str, *, consistent: bool = False) -> CaseItem | None:
    try:
        return CaseItem.get(case_id, CASE_SK, consistent_read=consistent)
    except CaseItem.DoesNotExist:
        return None


def open_case(
    *,
    person_id: str,
    status: cases.CaseStatus,
    diagnosed_at: datetime,
    actor: str,
    origin: str,
    now: datetime,
) -> tuple[CaseItem, bool]:
    """The case of ``person_id`` diagnosed at ``diagnosed_at``: its CASE item, whose insert
    starts tracing, and its case fact (red from the diagnosis on, open-ended, recorded when the
    case was first reported). Returns the case and whether it is new.

    Idempotent: a retry — even of an attempt that stopped between the two writes — finds the
    same case and rewrites the same fact; a new ``status`` (suspected → confirmed) is recorded
    on both, without tracing again. The fact keeps the first report's instant as
    ``recorded_at``, so a repeated report is not news to an override decided since."""
    case_id = cases.case_id_for(person_id, diagnosed_at)
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
    created = True
    try:
        case.save(condition=CaseItem.pk.does_not_exist())
    except PutError as error:
        if not _condition_failed(error):
            raise
        created = False
        existing = get_case(case_id, consistent=True)
        if existing is None:  # pragma: no cover - a case is never deleted
            raise RuntimeError(f"case {case_id} vanished") from error
        case = existing
        if case.status != str(status):
            case.update(actions=[CaseItem.status.set(str(status))])
    reported = case.created_at or now
    fact = colour.Fact(
        fact_id=case_fact_id(case_id),
        kind=FactKind.CASE,
        starts_at=min(diagnosed_at, reported),
        expires_at=None,
        detail=str(status),
        recorded_at=reported,
    )
    facts.save([facts.item_for(person_id, fact, recorded_at=reported, source=case_id)])
    return case, created


@dataclass(frozen=True)
class ContactRow:
    person_id: str
    kind: str
    venue_id: str
    exposure_at: datetime
    overlap_minutes: float


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


# -- tracing: planning --------------------------------------------------------------------------


def presence_of(scan: Scan) -> tracing.Presence:
    """A stored scan as a presence (its id is the scan id, its start the scan instant)."""
    instant, _, scan_id = str(scan.at_scan).partition("#")
    return tracing.Presence(
        presence_id=scan_id or str(scan.at_scan),
        person_id=str(scan.person_id),
        venue_id=str(scan.venue_id),
        complex_id=str(scan.root_venue_id or scan.venue_id),
        venue_type=str(scan.venue_type),
        start=InstantAttribute().deserialize(instant),
    )


def _venues_by_complex(
    presences: Sequence[tracing.Presence], policy: Policy
) -> dict[str, list[cases.VenueToSearch]]:
    """The venues of each complex the presences lie in (one ``by_root`` Query per complex),
    with each presence's own venue added if the index does not list it."""

    def to_search(venue: Venue, fallback_type: str) -> cases.VenueToSearch:
        venue_type = str(venue.type or fallback_type)
        return cases.VenueToSearch(
            str(venue.venue_id), venue_type, int(venue.shards or policy.shards(venue_type))
        )

    found: dict[str, dict[str, cases.VenueToSearch]] = {}
    for presence in presences:
        members = found.get(presence.complex_id)
        if members is None:
            members = {
                str(v.venue_id): to_search(v, presence.venue_type)
                for v in Venue.by_root.query(presence.complex_id)
            }
            found[presence.complex_id] = members
        if presence.venue_id not in members:
            try:
                members[presence.venue_id] = to_search(Venue.get(presence.venue_id), presence.venue_type)
            except Venue.DoesNotExist:
                members[presence.venue_id] = cases.VenueToSearch(
                    presence.venue_id, presence.venue_type, policy.shards(presence.venue_type)
                )
    return {complex_id: list(members.values()) for complex_id, members in found.items()}


def _task_item(task: cases.TracingTask) -> CaseItem:
    return CaseItem(
        task.case_id,
        task.key,
        person_id=task.case_person_id,
        venue_id=task.venue.venue_id,
        tracing=PENDING,
        task=task.to_json(),
    )


def task_from_item(image: Mapping[str, Any]) -> cases.TracingTask:
    """The task of a TASK item's stream image; ``ValueError`` if malformed (a poison record)."""
    task = cases.TracingTask.from_json(_json(image.get("task")))
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


def _written_tasks(case_id: str) -> set[str]:
    """Sort keys of the case's TASK items already written (one Query, keys only)."""
    return {
        str(item.sk)
        for item in CaseItem.query(
            case_id, CaseItem.sk.startswith(TASK_PREFIX), consistent_read=True, attributes_to_get=["pk", "sk"]
        )
    }


def plan(case_id: str, *, policy: Policy, now: datetime) -> int | None:
    """Write the tracing tasks of a new case and set ``tasks_total``; None if already planned.

    A case whose person has no presence in the case window is done at once (no contacts).

    A plan that stopped after writing some tasks (its record is retried, or replayed from the
    failure queue after the tasks ran) writes only the tasks not written yet: rewriting one would
    set a task that ran back to pending, and its rewrite is no INSERT to run it again. If every
    task is done by then, the case is finished here."""
    case = get_case(case_id, consistent=True)
    if case is None or case.tasks_total is not None or case.diagnosed_at is None or case.person_id is None:
        return None
    first, last = tracing.case_window(case.diagnosed_at, policy)
    presences = [presence_of(scan) for scan in scans.of_person(case.person_id, first, last)]
    presences = [p for p in presences if p.person_id == case.person_id]
    tasks = cases.plan_tasks(case_id, case.person_id, presences, _venues_by_complex(presences, policy))
    written = _written_tasks(case_id) if tasks else set()
    write_batches(CaseItem, (_task_item(task) for task in tasks if task.key not in written))
    actions = [CaseItem.tasks_total.set(len(tasks)), CaseItem.tasks_done.set(CaseItem.tasks_done | 0)]
    if not tasks:
        actions += [CaseItem.tracing.set(DONE), CaseItem.contacts_found.set(0), CaseItem.traced_at.set(now)]
    try:
        CaseItem(case_id, CASE_SK).update(actions=actions, condition=CaseItem.tasks_total.does_not_exist())
    except UpdateError as error:
        if not _condition_failed(error):
            raise
        return None
    if written:
        finish_if_complete(case_id, now=now)
    return len(tasks)


# -- tracing: tasks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskOutcome:
    """What one run of a task did. ``continued``: a continuation task took over."""

    exposures: int = 0
    pages: int = 0
    continued: bool = False
    already_done: bool = False


def _co_visitor_page(
    task: cases.TracingTask, shard: int, after: Mapping[str, Any] | None, low: str, high: str, page_size: int
) -> tuple[list[Scan], Mapping[str, Any] | None]:
    answer = table(Scan).query(
        scans.partition(task.venue.venue_id, shard),
        range_key_condition=Scan.at_scan.between(low, high),
        exclusive_start_key=dict(after) if after is not None else None,
        limit=page_size,
    )
    return [Scan.from_raw_data(raw) for raw in answer.get("Items", [])], answer.get("LastEvaluatedKey")


def _record_exposures(
    task: cases.TracingTask, exposures: Sequence[tracing.Exposure], policy: Policy, recorded_at: datetime
) -> None:
    """Exposure facts (under each contact), then each person's strongest contact row; both in
    ``WRITERS`` concurrent streams of requests (a station's page holds hundreds of people)."""
    items = [
        facts.item_for(e.person_id, e.fact(policy), recorded_at=recorded_at, source=task.case_id)
        for e in exposures
    ]
    chunks = [items[start : start + BATCH_LIMIT] for start in range(0, len(items), BATCH_LIMIT)]
    _in_parallel(lambda chunk: write_batches(Fact, chunk), chunks)
    by_id = {e.exposure_id: e for e in exposures}
    strongest = [by_id[row.exposure_id] for row in tracing.strongest_per_person(exposures)]
    _in_parallel(lambda exposure: _keep_strongest(task.case_id, exposure), strongest)


def _in_parallel(work: Callable[[_T], object], items: Sequence[_T]) -> None:
    """Run ``work`` on every item, ``WRITERS`` at a time; the first error is raised (after the
    others finish), so a failed page is retried whole, which its deterministic writes allow."""
    if len(items) <= 1:
        for item in items:
            work(item)
        return
    with ThreadPoolExecutor(max_workers=min(WRITERS, len(items))) as pool:
        for _ in pool.map(work, items):
            pass


def _keep_strongest(case_id: str, exposure: tracing.Exposure) -> None:
    rank = cases.contact_rank(exposure.kind, exposure.overlap, exposure.exposure_end)
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


def _close_task(task: cases.TracingTask, continuation: cases.TracingTask | None) -> bool:
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


def _task_done(task: cases.TracingTask) -> bool:
    try:
        return CaseItem.get(task.case_id, task.key, consistent_read=True).tracing == DONE
    except CaseItem.DoesNotExist:
        return False


def run_task(
    task: cases.TracingTask,
    *,
    policy: Policy,
    recorded_at: datetime,
    now: datetime,
    remaining_seconds: Remaining,
    margin_seconds: float = DEFAULT_MARGIN_SECONDS,
    page_size: int = PAGE_SIZE,
    first_page_always: bool = False,
) -> TaskOutcome:
    """Search the task's venue for co-visitors of its case presence, page by page and shard by
    shard, writing exposure facts and contact rows as it goes. Before each page it looks at the
    clock: with less than ``margin_seconds`` left it writes a continuation at the current
    position and stops (``first_page_always``: not before the first page, so an invocation
    always makes progress). ``recorded_at`` (the case's creation) stamps the facts, so a re-run
    writes identical items."""
    if _task_done(task):
        return TaskOutcome(already_done=True)
    first, last = tracing.co_visitor_window(task.presence, policy, task.venue.venue_type)
    low, high = f"{instant_key(first)}#", f"{instant_key(last)}#\uffff"
    shard, after = task.shard, task.after
    exposures = pages = 0
    while shard < task.venue.shards:
        if (pages or not first_page_always) and remaining_seconds() < margin_seconds:
            closed = _close_task(task, task.continuation(shard, after))
            finish_if_complete(task.case_id, now=now)
            return TaskOutcome(exposures=exposures, pages=pages, continued=closed, already_done=not closed)
        found, after = _co_visitor_page(task, shard, after, low, high, page_size)
        pages += 1
        candidates = [presence_of(scan) for scan in found]
        page_exposures = tracing.exposures_for(
            task.case_id, task.case_person_id, [task.presence], candidates, policy
        )
        if page_exposures:
            _record_exposures(task, page_exposures, policy, recorded_at)
            exposures += len(page_exposures)
        if after is None:
            shard += 1
    closed = _close_task(task, None)
    finish_if_complete(task.case_id, now=now)
    return TaskOutcome(exposures=exposures, pages=pages, already_done=not closed)


def finish_if_complete(case_id: str, *, now: datetime) -> bool:
    """Once every task is done: count the contact rows and mark tracing done (exactly once)."""
    case = get_case(case_id, consistent=True)
    if case is None or case.tracing == DONE or case.tasks_total is None:
        return False
    if int(case.tasks_done or 0) < int(case.tasks_total):
        return False
    found = CaseItem.count(case_id, CaseItem.sk.startswith(CONTACT_PREFIX), consistent_read=True)
    try:
        CaseItem(case_id, CASE_SK).update(
            actions=[
                CaseItem.tracing.set(DONE),
                CaseItem.contacts_found.set(found),
                CaseItem.traced_at.set(now),
            ],
            condition=CaseItem.tracing != DONE,
        )
    except UpdateError as error:
        if not _condition_failed(error):
            raise
        return False
    return True


# -- lab results -------------------------------------------------------------------------------


def save_labs(rows: Iterable[tuple[str, cases.LabRow]], *, now: datetime, keep_days: int) -> int:
    """Store lab results as lab facts under their persons (id per person, instant and result),
    which is how negative results clear what the policy says they clear."""
    return write_batches(
        Fact,
        (
            facts.lab_item(
                person_id,
                row.lab_id,
                colour.LabResult(sampled_at=row.sampled_at, positive=row.positive),
                recorded_at=now,
                keep_days=keep_days,
            )
            for person_id, row in rows
        ),
    )


# -- risk areas ----------------------------------------------------------------------------------


def get_risk_area(region_code: str) -> RiskArea | None:
    try:
        return RiskArea.get(region_code, consistent_read=True)
    except RiskArea.DoesNotExist:
        return None


def put_risk_area(region_code: str, level: colour.AreaRisk, *, actor: str, now: datetime) -> RiskArea:
    """Set an area's level (optimistic locking; a concurrent change is retried on fresh data)."""
    for _ in range(5):
        try:
            area = RiskArea.get(region_code, consistent_read=True)
        except RiskArea.DoesNotExist:
            area = RiskArea(region_code)
        area.level = level
        area.updated_at = now
        area.updated_by = actor
        try:
            area.save()
            return area
        except PutError as error:
            if not _condition_failed(error):
                raise
    raise Conflict("the risk area is being changed by someone else; try again", code="concurrent_change")


@dataclass(frozen=True)
class Sweep:
    """Recompute everyone with a trip covered by ``area`` left after ``cutoff``, from trip
    region ``covered_trip_regions(area)[code_index]`` and key ``after`` on."""

    area: str
    change: str
    cutoff: datetime
    part: int = 0
    code_index: int = 0
    after: Mapping[str, Any] | None = None

    @property
    def key(self) -> str:
        return f"{SWEEP_PREFIX}{self.area}#{self.change}#{self.part:05d}"

    def continuation(self, code_index: int, after: Mapping[str, Any] | None) -> Sweep:
        return Sweep(self.area, self.change, self.cutoff, self.part + 1, code_index, after)

    def to_json(self) -> dict[str, Any]:
        return {
            "v": 1,
            "area": self.area,
            "change": self.change,
            "cutoff": instant_key(self.cutoff),
            "part": self.part,
            "code_index": self.code_index,
            "after": dict(self.after) if self.after is not None else None,
        }


def is_sweep_key(region_code: object) -> bool:
    return isinstance(region_code, str) and region_code.startswith(SWEEP_PREFIX)


def sweep_from_item(image: Mapping[str, Any]) -> Sweep:
    """The sweep of a sweep item's stream image; ``ValueError`` if malformed (a poison record)."""
    data = _json(image.get("sweep"))
    try:
        if not isinstance(data, Mapping) or data.get("v") != 1:
            raise ValueError("not a version-1 sweep")
        after = data.get("after")
        sweep = Sweep(
            area=str(data["area"]),
            change=str(data["change"]),
            cutoff=InstantAttribute().deserialize(data["cutoff"]),
            part=int(data["part"]),
            code_index=int(data["code_index"]),
            after=after if isinstance(after, Mapping) else None,
        )
        cases.covered_trip_regions(sweep.area)
    except (KeyError, TypeError) as error:
        raise ValueError(f"malformed sweep: {error!r}") from error
    if sweep.key != image.get("region_code"):
        raise ValueError("sweep stored under a key that is not its own")
    return sweep


@dataclass(frozen=True)
class SweepOutcome:
    persons: int = 0
    continued: bool = False


def run_sweep(
    sweep: Sweep,
    *,
    recompute: Callable[[str], object],
    remaining_seconds: Remaining,
    margin_seconds: float = DEFAULT_MARGIN_SECONDS,
    page_size: int = TRIP_PAGE_SIZE,
    now: datetime,
) -> SweepOutcome:
    """Recompute each person whose declared trip the area covers (one ``by_travel_region``
    Query per covered code, trips left after the cutoff only), handing over to a sweep item
    when time runs short. A person met twice in one run is recomputed once."""
    codes = cases.covered_trip_regions(sweep.area)
    index, after = sweep.code_index, sweep.after
    done: set[str] = set()
    low = sweep.cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")
    facts_table = table(Fact)
    while index < len(codes):
        if remaining_seconds() < margin_seconds:
            following = sweep.continuation(index, after)
            try:
                RiskAreaSweep(following.key, sweep=following.to_json(), created_at=now).save(
                    condition=RiskAreaSweep.region_code.does_not_exist()
                )
            except PutError as error:
                if not _condition_failed(error):
                    raise
            return SweepOutcome(persons=len(done), continued=True)
        answer = facts_table.query(
            codes[index],
            range_key_condition=Fact.left_at >= low,
            index_name="by_travel_region",
            exclusive_start_key=dict(after) if after is not None else None,
            limit=page_size,
        )
        for raw in answer.get("Items", []):
            person_id = str(raw["person_id"]["S"])
            if person_id not in done:
                recompute(person_id)
                done.add(person_id)
        after = answer.get("LastEvaluatedKey")
        if after is None:
            index += 1
    return SweepOutcome(persons=len(done))


# -- expiry --------------------------------------------------------------------------------------


def due_persons(buckets: Sequence[str], *, now: datetime) -> Iterator[str]:
    """Persons whose stored colour is due to change by ``now``, from ``by_next_change``: one
    Query per hour bucket (oldest first), ``next_change_at <= now``."""
    for bucket in buckets:
        for person in Person.by_next_change.query(bucket, Person.next_change_at <= instant_key(now)):
            yield str(person.person_id)
