"""Contact tracing, driven by the CasesTable stream (see ``healthcode.storage.cases``).

* INSERT of a ``CASE`` item: plan — the case person's presences in the case window, one TASK
  item per (presence, venue to search), ``tasks_total`` on the case.
* INSERT of a ``TASK`` item: run it — the co-visitor window at that venue, paged over its
  shards, exposure facts and contact rows written as it goes; with the invocation's time running
  short it writes a continuation TASK (whose own INSERT carries on) and stops.
* Anything else (CONTACT rows, updates of the case and tasks): nothing to do.

Records are redelivered (a retried batch, a bisected one): planning is skipped once
``tasks_total`` is set, a task already marked done is skipped, and every write is keyed
deterministically. A malformed item raises, is reported as a batch item failure and, after the
retries, lands in the StreamFailureQueue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from healthcode import clock
from healthcode.protection.logs import get_logger
from healthcode.settings import policy
from healthcode.storage import cases as store

logger = get_logger("tracing")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


class Invocation:
    """The time budget of one invocation: hand over when less than ``margin`` seconds are left
    (a quarter of the time the invocation started with, at most ``store.DEFAULT_MARGIN_SECONDS``),
    and let the first task of an invocation always process one page, so every invocation
    makes progress."""

    def __init__(self, context: LambdaContext) -> None:
        self.context = context
        self.margin = min(store.DEFAULT_MARGIN_SECONDS, self.remaining() / 4)
        self.tasks_run = 0

    def remaining(self) -> float:
        return float(self.context.get_remaining_time_in_millis()) / 1000.0


_invocation: Invocation | None = None


def _plan(case_id: str) -> None:
    planned = store.plan(case_id, policy=policy(), now=clock.now())
    if planned is not None:
        logger.info("tracing planned", extra={"case_id": case_id, "tasks": planned})


def _run(image: dict[str, Any], invocation: Invocation) -> None:
    task = store.task_from_item(image)
    case = store.get_case(task.case_id, consistent=True)
    if case is None or case.created_at is None:
        raise ValueError(f"task {task.key} of an unknown case {task.case_id}")
    outcome = store.run_task(
        task,
        policy=policy(),
        recorded_at=case.created_at,
        now=clock.now(),
        remaining_seconds=invocation.remaining,
        margin_seconds=invocation.margin,
        first_page_always=invocation.tasks_run == 0,
    )
    invocation.tasks_run += 1
    logger.info(
        "tracing task",
        extra={
            "case_id": task.case_id,
            "task": task.key,
            "exposures": outcome.exposures,
            "pages": outcome.pages,
            "continued": outcome.continued,
            "already_done": outcome.already_done,
        },
    )


def record_handler(record: DynamoDBRecord) -> None:
    if record.event_name is None or record.event_name.name != "INSERT" or record.dynamodb is None:
        return
    keys = record.dynamodb.keys
    case_id, sort_key = str(keys.get("pk", "")), str(keys.get("sk", ""))
    if sort_key == store.CASE_SK:
        _plan(case_id)
    elif sort_key.startswith(store.TASK_PREFIX):
        if _invocation is None:
            raise RuntimeError("record_handler runs inside lambda_handler only")
        _run(record.dynamodb.new_image, _invocation)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    global _invocation
    _invocation = Invocation(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
