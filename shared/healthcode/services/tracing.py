"""Contact tracing runs: plan a new case into tasks, run a task page by page, finish the case.

Every read of tracing depends only on the case: its person's presences in the case window, the
venues of the complexes those lie in, and the presences in each co-visitor window (``shards``
Queries per venue, paged). Exposures become facts under each contact (deterministic id: the
exposure id), which the colour consumer picks up, and one contact row per person on the case.
Re-running anything writes the same items, so redelivered stream records are harmless: planning
is skipped once the case has its plan, a task already done is skipped.

A task searches at most ``SHARDS_PER_TASK`` of its venue's write shards, and each task has a
partition key of its own (``storage.cases.task_partition``): the event source mapping's
``ParallelizationFactor`` runs the tasks of one case side by side. A page's new contact rows
are written once each (strongest and first close exposure together), a hundred to a
transaction; its facts 25 to a BatchWriteItem.

A task that runs short of time hands the rest to a continuation task (resuming at the same shard
and page) instead of failing; the case is finished, exactly once, when its last task is done.

With two generations (policy ``trace_generations`` 2, recorded on the case when it is planned),
the first generation's last task writes the case's ``GEN#2`` item instead of finishing it; that
item's INSERT plans generation 2 (:func:`plan_second_generation`): each close contact's own
presences from its first close exposure until it turned red, one task per presence and venue to
search, counted apart (``second_total``/``second_done``). Generation-2 tasks find secondary
contacts only and plan nothing further; the case is finished when they are all done.

A case excluded (排除) while its tracing runs stops making contacts: its remaining tasks close
without searching. Its approval writes a ``RELEASE#00000`` item; that item's INSERT ends every
exposure fact found through the case (:func:`release`), a page of contacts at a time, handing
the rest to the next part when time runs short. Tasks have partitions of their own, so a task
already running at the approval may write a page after the release has read that page's people:
each task, once a page's rows and facts are written, reads the case again (one GetItem) and, if
it is excluded, ends that page's exposures itself as the release does (``end_exposures``, as of
the approval) and closes. A page written before the approval is ended by the release (which
starts after it), one written after it by the task's own look, so no exposure of an excluded
case is left counting, whichever comes first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from healthcode.rules import cases, tracing
from healthcode.rules.policy import Policy
from healthcode.storage import cases as case_store
from healthcode.storage import facts, presences
from healthcode.storage.batches import BATCH_LIMIT

__all__ = [
    "DEFAULT_MARGIN_SECONDS",
    "PAGE_SIZE",
    "TaskOutcome",
    "finish_if_complete",
    "item_kind",
    "plan",
    "plan_second_generation",
    "release",
    "run_stored_task",
    "run_task",
]

#: Items per co-visitor Query page: bounds the work between two looks at the clock.
PAGE_SIZE = 500
#: Stop and hand over when fewer seconds than this remain in the invocation.
DEFAULT_MARGIN_SECONDS = 10.0
#: Concurrent write requests while recording a page of exposures.
WRITERS = 8
#: Write shards one task searches: a venue with more is searched by several tasks side by side
#: (a railway station's 32 by eight), each a few seconds of work however crowded the venue.
SHARDS_PER_TASK = 4
#: Contact rows per conditional-update transaction (DynamoDB's TransactWriteItems limit).
ROWS_PER_CALL = case_store.TRANSACTION_ITEMS

_T = TypeVar("_T")
Remaining = Callable[[], float]


def item_kind(sort_key: str) -> Literal["case", "task", "second_generation", "release"] | None:
    """What a CasesTable item inserted under ``sort_key`` asks of tracing: plan a case, run a
    task, plan the second generation, release an excluded case's contacts, or nothing (contact
    rows)."""
    if case_store.is_case_key(sort_key):
        return "case"
    if case_store.is_task_key(sort_key):
        return "task"
    if case_store.is_second_generation_key(sort_key):
        return "second_generation"
    if case_store.is_release_key(sort_key):
        return "release"
    return None


# -- planning ------------------------------------------------------------------------------------


def plan(case_id: str, *, policy: Policy, now: datetime) -> int | None:
    """Write the tracing tasks of a new case and set ``tasks_total``; None if already planned.

    A case whose person has no presence in the case window is done at once (no contacts).

    A plan that stopped after writing some tasks (its record is retried, or replayed from the
    failure queue after the tasks ran) writes only the tasks not written yet: rewriting one would
    set a task that ran back to pending, and its rewrite is no INSERT to run it again. If every
    task is done by then, the case is finished here."""
    case = case_store.get(case_id, consistent=True)
    if case is None or case.diagnosed_at is None or case.person_id is None:
        return None
    if case.tasks_total is not None:
        # planned before: a redelivery after the plan was stored but its finish was not (a case
        # without tasks, or whose tasks all ran) still finishes the case (idempotent)
        finish_if_complete(case_id, now=now)
        return None
    first, last = tracing.case_window(case.diagnosed_at, policy)
    found = presences.of_case_person(case.person_id, first, last)
    tasks = _spread(
        case_id,
        cases.plan_tasks(case_id, case.person_id, found, presences.venues_by_complex(found, policy)),
    )
    written = case_store.written_task_keys(tasks)
    case_store.add_tasks(task for task in tasks if task.key not in written)
    if not case_store.set_plan(
        case_id, tasks_total=len(tasks), now=now, generations=policy.trace_generations
    ):
        return None
    if written or not tasks:
        finish_if_complete(case_id, now=now)
    return len(tasks)


def plan_second_generation(case_id: str, *, policy: Policy, now: datetime) -> int | None:
    """Write the generation-2 tasks of a case whose first generation is done and set
    ``second_total``; None if already planned. Each close contact's presences with start in
    ``tracing.second_generation_window`` (from its first close exposure until the exposure was
    learned: it turned red then) are searched like a case's. Like :func:`plan`, a retried plan
    writes only the tasks not written yet."""
    case = case_store.get(case_id, consistent=True)
    if case is None or case.person_id is None:
        return None
    if case.second_total is not None:
        finish_if_complete(case_id, now=now)  # as in :func:`plan`: a redelivered plan finishes
        return None
    tasks: list[cases.TracingTask] = []
    if case.status != cases.CaseStatus.EXCLUDED:
        for contact in case_store.close_contacts(case_id):
            first, last = tracing.second_generation_window(contact.first_close_at, contact.learned_at, now)
            found = presences.of_case_person(contact.person_id, first, last)
            if found:
                tasks += cases.plan_second_generation(
                    case_id,
                    case.person_id,
                    contact.person_id,
                    found,
                    presences.venues_by_complex(found, policy),
                )
    tasks = _spread(case_id, tasks)
    written = case_store.written_task_keys(tasks)
    case_store.add_tasks(task for task in tasks if task.key not in written)
    if not case_store.set_second_plan(case_id, tasks_total=len(tasks)):
        return None
    finish_if_complete(case_id, now=now)
    return len(tasks)


def _spread(case_id: str, tasks: Sequence[cases.TracingTask]) -> list[cases.TracingTask]:
    """Each planned task as tasks of at most ``SHARDS_PER_TASK`` write shards: a station's
    co-visitors are searched by several tasks at once (each in a partition of its own).

    A plan an earlier release began (some of these tasks written whole, under the case's key,
    before the upgrade; its record retried or replayed after) is completed as that release
    planned it: its tasks unsplit, those written found under the case's key, so every task is
    counted and run once."""
    if tasks:
        begun = case_store.task_keys_under_case(case_id)
        if any(task.key in begun for task in tasks):
            return [case_store.under_case(task) if task.key in begun else task for task in tasks]
    return [share for task in tasks for share in task.split(SHARDS_PER_TASK)]


# -- tasks ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskOutcome:
    """What one run of a task did. ``continued``: a continuation task took over."""

    exposures: int = 0
    pages: int = 0
    continued: bool = False
    already_done: bool = False


def _record_exposures(
    task: cases.TracingTask,
    exposures: Sequence[tracing.Exposure],
    policy: Policy,
    recorded_at: datetime,
    now: datetime,
) -> None:
    """Each person's contact row (strongest exposure; for a close contact, its first close
    exposure, learned ``now``: generation 2 starts from it), then the exposure facts (under each
    contact). A station's page holds hundreds of people: new rows are written once each, a
    hundred to a transaction (``case_store.add_new_rows``); rows that existed (the person met in
    another task or page, a redelivered page) are kept with the conditional updates, also a
    hundred to a transaction; facts go 25 to a BatchWriteItem; ``WRITERS`` requests at a time.
    The rows go first: excluding a case ends the facts of the people its rows name, so no fact
    may exist without its row (a page that failed half-way is written again whole)."""
    by_id = {e.exposure_id: e for e in exposures}
    strongest = [by_id[row.exposure_id] for row in tracing.strongest_per_person(exposures)]
    first_close: dict[str, tracing.Exposure] = {}
    for exposure in exposures:
        if exposure.kind is tracing.ContactKind.CLOSE:
            held = first_close.get(exposure.person_id)
            if held is None or exposure.exposure_start < held.exposure_start:
                first_close[exposure.person_id] = exposure
    rows = [(e, _rank(e), first_close.get(e.person_id)) for e in strongest]
    existed: list[tuple[tracing.Exposure, str, tracing.Exposure | None]] = []

    def add_new(chunk: Sequence[tuple[tracing.Exposure, str, tracing.Exposure | None]]) -> None:
        refused = case_store.add_new_rows(task.case_id, chunk, learned_at=now)
        existed.extend(chunk[index] for index in refused)

    _in_parallel(add_new, _chunks(rows, ROWS_PER_CALL))
    _in_parallel(
        lambda chunk: case_store.keep_strongest_many(task.case_id, [(e, rank) for e, rank, _ in chunk]),
        _chunks(existed, ROWS_PER_CALL),
    )
    entries = [(e.person_id, e.fact(policy)) for e in exposures]
    _in_parallel(
        lambda chunk: facts.add_in_batches(chunk, recorded_at=recorded_at, source=task.case_id),
        _chunks(entries, BATCH_LIMIT),
    )
    closes = [close for _, _, close in existed if close is not None]
    _in_parallel(
        lambda chunk: case_store.keep_first_close_many(task.case_id, chunk, learned_at=now),
        _chunks(closes, ROWS_PER_CALL),
    )


def _rank(exposure: tracing.Exposure) -> str:
    return cases.contact_rank(exposure.kind, exposure.overlap, exposure.exposure_end, exposure.generation)


def _chunks(items: Sequence[_T], size: int) -> list[Sequence[_T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


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


def run_task(
    task: cases.TracingTask,
    *,
    policy: Policy,
    recorded_at: datetime,
    now: datetime,
    remaining_seconds: Remaining,
    margin_seconds: float = DEFAULT_MARGIN_SECONDS,
    page_size: int | None = None,
    first_page_always: bool = False,
) -> TaskOutcome:
    """Search the task's venue for co-visitors of its case presence, page by page and shard by
    shard (``page_size``, default :data:`PAGE_SIZE`), writing exposure facts and contact rows as
    it goes. Before each page it looks at the clock: with less than ``margin_seconds`` left it
    writes a continuation at the current position and stops (``first_page_always``: not before
    the first page, so an invocation always makes progress). ``recorded_at`` (the case's
    creation) stamps the facts, so a re-run writes identical items."""
    if case_store.task_done(task):
        # A redelivery of a task whose close was written but whose finish was not (the
        # invocation failed in between): the finish is idempotent, so try it again.
        finish_if_complete(task.case_id, now=now)
        return TaskOutcome(already_done=True)
    size = PAGE_SIZE if page_size is None else page_size
    first, last = tracing.co_visitor_window(task.presence, policy, task.venue.venue_type)
    shard, after = task.shard, task.after
    exposures = pages = 0
    while shard < task.shard_end:
        if (pages or not first_page_always) and remaining_seconds() < margin_seconds:
            closed = case_store.close_task(task, task.continuation(shard, after))
            finish_if_complete(task.case_id, now=now)
            return TaskOutcome(exposures=exposures, pages=pages, continued=closed, already_done=not closed)
        candidates, after = presences.page_at(
            task.venue.venue_id, shard, first, last, after=after, limit=size
        )
        pages += 1
        page_exposures = _exposures(task, candidates, policy)
        if page_exposures:
            _record_exposures(task, page_exposures, policy, recorded_at, now)
            exposures += len(page_exposures)
            if _released_after(task, page_exposures, now):
                closed = case_store.close_task(task, None)  # an excluded case makes no more contacts
                finish_if_complete(task.case_id, now=now)
                return TaskOutcome(exposures=exposures, pages=pages, already_done=not closed)
        if after is None:
            shard += 1
    closed = case_store.close_task(task, None)
    finish_if_complete(task.case_id, now=now)
    return TaskOutcome(exposures=exposures, pages=pages, already_done=not closed)


def _released_after(task: cases.TracingTask, written: Sequence[tracing.Exposure], now: datetime) -> bool:
    """Whether the case was excluded by the time a page's exposures were written (one consistent
    GetItem); if so, end them as the release does (as of the approval): its release may have
    read these people before their facts were written. Ending again changes nothing."""
    case = case_store.get(task.case_id, consistent=True)
    if case is None or case.status != cases.CaseStatus.EXCLUDED:
        return False
    released_at = _excluded_at(case, now)
    for person_id in sorted({exposure.person_id for exposure in written}):
        case_store.end_exposures(task.case_id, person_id, now=released_at)
    return True


def _excluded_at(case: case_store.CaseView, now: datetime) -> datetime:
    """The approval of the case's exclusion (its release ends exposures as of then); ``now``
    for a case whose history does not say (none is stored so)."""
    steps = [step.at for step in case.history if step.status == cases.CaseStatus.EXCLUDED]
    return steps[-1] if steps else now


def _exposures(
    task: cases.TracingTask, candidates: Sequence[tracing.Presence], policy: Policy
) -> list[tracing.Exposure]:
    if task.via is None:
        return tracing.exposures_for(task.case_id, task.case_person_id, [task.presence], candidates, policy)
    return tracing.second_generation_exposures(
        task.case_id, task.case_person_id, task.via, [task.presence], candidates, policy
    )


def run_stored_task(
    image: Mapping[str, Any],
    *,
    policy: Policy,
    now: datetime,
    remaining_seconds: Remaining,
    margin_seconds: float,
    first_page_always: bool,
) -> tuple[cases.TracingTask, TaskOutcome]:
    """Run the task of a TASK item's stream image (see :func:`run_task`; its facts are stamped
    with the case's creation). ``ValueError`` for a malformed task or one of an unknown case."""
    task = case_store.task_from_image(image)
    case = case_store.get(task.case_id, consistent=True)
    if case is None or case.created_at is None:
        raise ValueError(f"task {task.key} of an unknown case {task.case_id}")
    if case.status == cases.CaseStatus.EXCLUDED:
        closed = case_store.close_task(task, None)  # an excluded case makes no more contacts
        finish_if_complete(task.case_id, now=now)
        return task, TaskOutcome(already_done=not closed)
    outcome = run_task(
        task,
        policy=policy,
        recorded_at=case.created_at,
        now=now,
        remaining_seconds=remaining_seconds,
        margin_seconds=margin_seconds,
        first_page_always=first_page_always,
    )
    return task, outcome


def finish_if_complete(case_id: str, *, now: datetime) -> bool:
    """Once every task is done: count the contact rows and mark tracing done (exactly once).
    With two generations, the first generation's end starts the second (``GEN#2``) and the
    case is done when the second generation's tasks are."""
    case = case_store.get(case_id, consistent=True)
    if case is None or case.tracing == case_store.DONE or case.tasks_total is None:
        return False
    if int(case.tasks_done or 0) < int(case.tasks_total):
        return False
    if case.generations >= tracing.SECOND:
        if case.second_total is None:
            case_store.start_second_generation(case_id)
            return False
        if int(case.second_done or 0) < int(case.second_total):
            return False
    return case_store.finish(case_id, contacts_found=case_store.count_contacts(case_id), now=now)


# -- releasing an excluded case's contacts ---------------------------------------------------------

#: Contacts per page of a release: bounds the work between two looks at the clock.
RELEASE_PAGE = 100


def release(
    image: Mapping[str, Any],
    *,
    remaining_seconds: Remaining,
    margin_seconds: float,
    first_page_always: bool,
) -> tuple[int, bool]:
    """End the exposure facts of an excluded case's contacts (those found in generations 1 and
    2: they expire at the approval, ``storage.cases.end_exposures``), a page of contacts at a
    time; with less than ``margin_seconds`` left, write the next part and stop. Running a part
    again ends nothing more. Returns the facts ended and whether a next part took over."""
    part = case_store.release_from_image(image)
    ended = pages = 0
    after = part.after
    while True:
        if (pages or not first_page_always) and remaining_seconds() < margin_seconds:
            following = case_store.Release(part.case_id, part.released_at, part.part + 1, after)
            case_store.start_release(following)
            return ended, True
        people, after = case_store.contact_people(part.case_id, after=after, limit=RELEASE_PAGE)
        pages += 1
        for person_id in people:
            ended += case_store.end_exposures(part.case_id, person_id, now=part.released_at)
        if after is None:
            return ended, False
