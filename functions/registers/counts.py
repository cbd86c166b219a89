"""RegistersTable stream → entity counts (``healthcode.services.registers.reconcile``).

Only changes of a register row or of the venues under a credit code count; the consumer's own
writes (markers, counters) and the indicator counters are skipped. Each credit code is
reconciled once per batch from its current items, so the order and repetition of records do
not matter; a code whose reconciliation fails has all its records reported failed (retried,
then sent to the failure queue).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from healthcode.protection.logs import get_logger
from healthcode.services import registers

logger = get_logger("register-counts")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

#: Items whose change can change how an entity is counted.
COUNTED_ITEMS = frozenset({"ENTITY", "VENUES"})


class ReconcileFailed(RuntimeError):
    """An earlier record of the same credit code in this batch failed."""


def credit_code_of(record: DynamoDBRecord) -> str | None:
    """The credit code whose counts a record may change, None for any other item."""
    keys = record.dynamodb.keys if record.dynamodb else {}
    pk, sk = str((keys or {}).get("pk", "")), str((keys or {}).get("sk", ""))
    return registers.credit_code_of(pk) if sk in COUNTED_ITEMS else None


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settled: dict[str, bool] = {}

    def reconcile(record: DynamoDBRecord) -> None:
        code = credit_code_of(record)
        if code is None:
            return
        if code in settled:
            if not settled[code]:
                raise ReconcileFailed("an earlier record of this entity failed")
            return
        settled[code] = False
        registers.reconcile([code])
        settled[code] = True

    answer = process_partial_response(
        event=event, record_handler=reconcile, processor=processor, context=context
    )
    logger.info(
        "register counts reconciled",
        extra={"entities": len(settled), "failed": len(answer.get("batchItemFailures", []))},
    )
    return dict(answer)
