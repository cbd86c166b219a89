"""The colour consumer: the FactsTable stream keeps every stored colour in step with its facts.

Each batch is read first for the people it touches and what touched them; then their colours are
recomputed together, each person once however many of their facts the batch holds
(``recolour.recompute_many``: one BatchGetItem per hundred people, their facts queried
concurrently, the changed people written many to a transaction under their versions). A person
whose recomputation fails has all their records reported as failures (the event source retries
from the earliest, then sends the batch to the failure queue); the others are done.
Records of facts removed by TTL (``userIdentity`` the DynamoDB service) recompute too, with the
cause ``expiry``. Recomputing is idempotent, so redelivered records change nothing.

A new case or close-contact fact also reaches the people of its person's building where the
province counts buildings (``residences.spread``: same_building facts, which come back through
this stream and recolour them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from healthcode import clock
from healthcode.protection.logs import get_logger
from healthcode.services import recolour, residences

logger = get_logger("colour")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

#: ``userIdentity`` of the records DynamoDB writes when TTL deletes an item.
TTL_PRINCIPAL = "dynamodb.amazonaws.com"


class RecomputeFailed(RuntimeError):
    """The person of a record could not be recomputed in this batch (the cause is chained)."""


def person_of(record: DynamoDBRecord) -> str:
    keys = record.dynamodb.keys if record.dynamodb else {}
    return str(keys["person_id"])


def cause_of(record: DynamoDBRecord) -> str:
    """Why the person's colour is recomputed: the kind of fact written, ``declaration`` for what
    an application wrote, ``expiry`` for a TTL deletion, ``fact_removed`` for any other removal."""
    if record.event_name == DynamoDBRecordEventName.REMOVE:
        identity = record.user_identity
        by_ttl = identity.get("type") == "Service" and identity.get("principalId") == TTL_PRINCIPAL
        return "expiry" if by_ttl else "fact_removed"
    image: Mapping[str, Any] = record.dynamodb.new_image if record.dynamodb else {}
    kind, fact_id = str(image.get("kind", "fact")), str(image.get("fact_id", ""))
    if kind == "travel" or fact_id.startswith("decl#"):
        return "declaration"
    return kind


def spread_to_building(record: DynamoDBRecord) -> int:
    """For a newly written case or contact fact, the same_building facts of the person's
    building (``residences.spread``); 0 for any other record."""
    if record.event_name != DynamoDBRecordEventName.INSERT or record.dynamodb is None:
        return 0
    image: Mapping[str, Any] = record.dynamodb.new_image
    kind = str(image.get("kind", ""))
    if kind not in residences.SOURCE_KINDS:
        return 0
    learned = image.get("learned_at") or image.get("recorded_at")
    if not learned:
        return 0
    return residences.spread(person_of(record), kind, learned_at=clock.parse_instant(str(learned)))


def causes_by_person(records: Iterable[DynamoDBRecord]) -> dict[str, str]:
    found: dict[str, set[str]] = {}
    for record in records:
        found.setdefault(person_of(record), set()).add(cause_of(record))
    return {person_id: ",".join(sorted(causes)) for person_id, causes in found.items()}


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    causes = causes_by_person(DynamoDBRecord(raw) for raw in event.get("Records", []))
    outcomes = recolour.recompute_many(causes)

    def settle(record: DynamoDBRecord) -> None:
        spread_to_building(record)
        failure = outcomes.get(person_of(record))
        if failure is not None:
            raise RecomputeFailed(f"colour of {person_of(record)} could not be recomputed") from failure

    answer = process_partial_response(
        event=event, record_handler=settle, processor=processor, context=context
    )
    logger.info(
        "colours recomputed",
        extra={"people": len(outcomes), "failed": sum(error is not None for error in outcomes.values())},
    )
    return dict(answer)
