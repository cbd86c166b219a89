"""Contact tracing, driven by the CasesTable stream (``healthcode.services.tracing``).

* INSERT of a case: plan it — the case person's presences in the case window, one task per
  (presence, venue to search), the count of tasks on the case.
* INSERT of a task: run it — the co-visitor window at that venue, paged over its shards,
  exposure facts and contact rows written as it goes; with the invocation's time running short
  it writes a continuation task (whose own INSERT carries on) and stops.
* INSERT of the case's ``GEN#2`` item (two generations traced, the first one done): plan the
  second generation — each close contact's own presences, one task per presence and venue.
* INSERT of a ``RELEASE#`` item (an excluded case approved): end every exposure fact found
  through the case, a page of contacts at a time, handing the rest to a next part when the
  invocation's time runs short.
* Anything else (contact rows, updates of the case and tasks): nothing to do.

Records are redelivered (a retried batch, a bisected one): planning is skipped once the case has
its plan, a task already done is skipped, and every write is keyed deterministically. A
malformed item raises, is reported as a batch item failure and, after the retries, lands in the
StreamFailureQueue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from healthcode import clock
from healthcode.protection.logs import get_logger
from healthcode.services import tracing
from healthcode.settings import policy

logger = get_logger("tracing")
# A batch is one record (template: BatchSize 1, each task its own invocation): its failure is
# reported as that record's, like any partial failure, not raised as a function error.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


class Invocation:
    """The time budget of one invocation: hand over when less than ``margin`` seconds are left
    (a quarter of the time the invocation started with, at most
    ``tracing.DEFAULT_MARGIN_SECONDS``), and let the first task of an invocation always process
    one page, so every invocation makes progress."""

    def __init__(self, context: LambdaContext) -> None:
        self.context = context
        self.margin = min(tracing.DEFAULT_MARGIN_SECONDS, self.remaining() / 4)
        self.tasks_run = 0

    def remaining(self) -> float:
        return float(self.context.get_remaining_time_in_millis()) / 1000.0


_invocation: Invocation | None = None


def _plan(case_id: str) -> None:
    planned = tracing.plan(case_id, policy=policy(), now=clock.now())
    if planned is not None:
        logger.info("tracing planned", extra={"case_id": case_id, "tasks": planned})


def _plan_second_generation(case_id: str) -> None:
    planned = tracing.plan_second_generation(case_id, policy=policy(), now=clock.now())
    if planned is not None:
        logger.info("second generation planned", extra={"case_id": case_id, "tasks": planned})


def _run(image: dict[str, Any], invocation: Invocation) -> None:
    task, outcome = tracing.run_stored_task(
        image,
        policy=policy(),
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


def _release(image: dict[str, Any], invocation: Invocation) -> None:
    ended, continued = tracing.release(
        image,
        remaining_seconds=invocation.remaining,
        margin_seconds=invocation.margin,
        first_page_always=invocation.tasks_run == 0,
    )
    invocation.tasks_run += 1
    logger.info(
        "exposures of an excluded case ended",
        extra={"case_id": image.get("pk"), "ended": ended, "continued": continued},
    )


def record_handler(record: DynamoDBRecord) -> None:
    if record.event_name is None or record.event_name.name != "INSERT" or record.dynamodb is None:
        return
    keys = record.dynamodb.keys
    case_id, sort_key = str(keys.get("pk", "")), str(keys.get("sk", ""))
    kind = tracing.item_kind(sort_key)
    if kind == "case":
        _plan(case_id)
    elif kind == "second_generation":
        _plan_second_generation(case_id)
    elif kind in ("task", "release"):
        if _invocation is None:
            raise RuntimeError("record_handler runs inside lambda_handler only")
        if kind == "task":
            _run(record.dynamodb.new_image, _invocation)
        else:
            _release(record.dynamodb.new_image, _invocation)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    global _invocation
    _invocation = Invocation(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
