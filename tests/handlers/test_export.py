"""The export consumer on moto: real items, their real stream records, objects read back from S3."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from healthcode import aws
from healthcode.protection import pii
from healthcode.storage import scans
from healthcode.storage.models import Location, Venue

from infra.local.events import stream_record
from tests.handlers import venue_support
from tests.handlers.harness import InProcessStack

DAY_ONE = datetime(2022, 5, 18, 2, 0, tzinfo=UTC)  # 10:00 in China
DAY_TWO = datetime(2022, 5, 18, 16, 5, tzinfo=UTC)  # 00:05 on the 19th in China


def scan(scan_id: str, at: datetime, *, actor: str = "scanner-1") -> scans.ScanRecord:
    return scans.ScanRecord(
        scan_id=scan_id,
        person_id=f"p-{scan_id}",
        venue_id="v-0a0a",
        root_venue_id="v-0a0a",
        venue_type="supermarket",
        region_code="520102",
        kind="verification",
        actor=actor,
        at=at,
        level=0,
        colour="green",
        verdict="pass",
        abnormal=False,
        temperature=36.4,
        name_masked="李*",
        id_masked="5201**********1234",
    )


def stream_records(stack: InProcessStack, logical_table: str) -> list[dict[str, Any]]:
    """Every record on the table's stream so far, as Lambda's event source mapping delivers them."""
    name = stack.template.physical_name(logical_table)
    arn = stack.clients["dynamodb"].describe_table(TableName=name)["Table"]["LatestStreamArn"]
    streams = stack.clients["dynamodbstreams"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        got = streams.get_records(ShardIterator=iterator)["Records"]
        records += [stream_record(raw, stream_arn=arn, region="cn-north-1", ttl_delete=False) for raw in got]
    return records


def exported(stack: InProcessStack) -> dict[str, list[dict[str, Any]]]:
    """Object key → its lines, for every object under exports/."""
    s3 = stack.clients["s3"]
    bucket = os.environ["EXPORT_BUCKET"]
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="exports/").get("Contents", [])
    found = {}
    for entry in listing:
        body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read().decode("utf-8")
        assert body.endswith("\n")
        found[entry["Key"]] = [json.loads(line) for line in body.splitlines()]
    return found


@pytest.fixture
def two_days_of_scans(aws_stack: InProcessStack) -> Iterator[list[dict[str, Any]]]:
    """Three scans stored: two on 18 May and one just after midnight (China) on the 19th."""
    for scan_id, at in (("s-1", DAY_ONE), ("s-2", DAY_ONE.replace(minute=1)), ("s-3", DAY_TWO)):
        assert scans.put(scan(scan_id, at), shards=2, retention_days=28)
    yield stream_records(aws_stack, "ScansTable")


def test_scans_become_day_partitioned_json_lines(
    aws_stack: InProcessStack, two_days_of_scans: list[dict[str, Any]]
) -> None:
    # WHEN the export consumer gets the scans' stream records
    answer = aws_stack.invoke("ExportFunction", {"Records": two_days_of_scans})
    # THEN nothing failed, and each China day has its object, named by stream and sequence range
    assert answer == {"batchItemFailures": []}
    objects = exported(aws_stack)
    by_day = {key.split("/")[2]: lines for key, lines in objects.items()}
    assert sorted(by_day) == ["dt=2022-05-18", "dt=2022-05-19"]
    assert all(key.startswith("exports/scans/") and key.endswith(".jsonl") for key in objects)
    sequences = {r["dynamodb"]["SequenceNumber"] for r in two_days_of_scans}
    assert {line["seq"] for lines in objects.values() for line in lines} == sequences
    first_day = sorted(by_day["dt=2022-05-18"], key=lambda line: line["scan_id"])
    assert [line["scan_id"] for line in first_day] == ["s-1", "s-2"]
    # AND personal fields left only as keyed hashes under the stack's hash key
    line = first_day[0]
    assert line["scanner_hash"] == pii.keyed_hash("account", "scanner-1")
    assert line["province"] == "520000" and line["person_id"] == "p-s-1" and line["temperature"] == 36.4
    raw = json.dumps(objects, ensure_ascii=False)
    assert "李" not in raw and "1234" not in raw and "scanner-1" not in raw


def test_a_redelivered_batch_rewrites_the_same_objects(
    aws_stack: InProcessStack, two_days_of_scans: list[dict[str, Any]]
) -> None:
    # GIVEN a batch exported once
    aws_stack.invoke("ExportFunction", {"Records": two_days_of_scans})
    first = exported(aws_stack)
    # WHEN Lambda delivers the same batch again THEN the same names hold the same lines: no copies
    aws_stack.invoke("ExportFunction", {"Records": two_days_of_scans})
    assert exported(aws_stack) == first


def test_a_poison_record_fails_alone(
    aws_stack: InProcessStack, two_days_of_scans: list[dict[str, Any]]
) -> None:
    # GIVEN a batch whose middle record is not a scan (its image lost the person)
    records = [dict(r) for r in two_days_of_scans]
    poisoned = json.loads(json.dumps(records[1]))
    del poisoned["dynamodb"]["NewImage"]["person_id"]
    records[1] = poisoned
    # WHEN it is exported THEN only that record is reported, and the others are written
    answer = aws_stack.invoke("ExportFunction", {"Records": records})
    assert answer == {"batchItemFailures": [{"itemIdentifier": poisoned["dynamodb"]["SequenceNumber"]}]}
    written = {line["seq"] for lines in exported(aws_stack).values() for line in lines}
    assert written == {records[0]["dynamodb"]["SequenceNumber"], records[2]["dynamodb"]["SequenceNumber"]}


def test_a_failed_object_write_fails_only_the_records_it_carried(
    aws_stack: InProcessStack, two_days_of_scans: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN S3 refuses the object of the second day
    s3 = aws.client("s3")
    real_put = s3.put_object

    def put_object(**kwargs: Any) -> Any:
        if "/dt=2022-05-19/" in kwargs["Key"]:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "reduce your rate"}}, "PutObject")
        return real_put(**kwargs)

    monkeypatch.setattr(s3, "put_object", put_object)
    # WHEN the batch is exported
    answer = aws_stack.invoke("ExportFunction", {"Records": two_days_of_scans})
    # THEN the second day's record is reported for retry, the first day's object is written
    late = next(
        r for r in two_days_of_scans if r["dynamodb"]["Keys"]["at_scan"]["S"].startswith("2022-05-18T16")
    )
    assert answer == {"batchItemFailures": [{"itemIdentifier": late["dynamodb"]["SequenceNumber"]}]}
    assert [key.split("/")[2] for key in exported(aws_stack)] == ["dt=2022-05-18"]


def test_venues_are_exported_without_their_personal_fields(aws_stack: InProcessStack) -> None:
    # GIVEN a registered venue (an individual's, so its subject is a person) and its phone guard
    Venue(
        "v-77",
        name="老王便利店",
        type="supermarket",
        subject_name="王小二",
        credential_type="id_number",
        credential_enc=pii.encrypt("520102199003071234", context={"venue_id": "v-77", "field": "credential"}),
        credential_masked="5201**********1234",
        region_code="520102",
        location=Location(lat=26.58, lng=106.71),
        address="南明区中华南路8号",
        manager_sub="manager-9",
        manager_phone_hash=pii.keyed_hash("phone", "13800000000"),
        manager_phone_masked="138****0000",
        root_venue_id="v-77",
        created_at=DAY_ONE,
    ).save()
    Venue("phone#" + pii.keyed_hash("phone", "13800000000"), guards_venue_id="v-77").save()
    # WHEN their stream records are exported
    answer = aws_stack.invoke("ExportFunction", {"Records": stream_records(aws_stack, "VenuesTable")})
    # THEN one venue line (no guard), the subject and the manager as keyed hashes, no ciphertext
    assert answer == {"batchItemFailures": []}
    objects = exported(aws_stack)
    assert len(objects) == 1
    ((key, lines),) = objects.items()
    assert key.startswith("exports/venues/dt=")
    assert [line["venue_id"] for line in lines] == ["v-77"]
    line = lines[0]
    assert line["subject_name"] is None and line["subject_hash"] == pii.keyed_hash("subject_name", "王小二")
    assert line["manager_hash"] == pii.keyed_hash("account", "manager-9")
    assert line["location"] == {"lat": 26.58, "lng": 106.71} and line["registered_at"].endswith("+08:00")
    raw = json.dumps(objects, ensure_ascii=False)
    for secret in ("王小二", "1234", "138", "manager-9", "v1.", "phone#"):
        assert secret not in raw, secret


def test_registrations_export_the_organisations_credit_code_and_a_persons_credential_hashed(
    aws_stack: InProcessStack,
) -> None:
    # GIVEN a mall registered over HTTP under its credit code, with a zone and a store number, a
    # pharmacy registered under its owner's ID card, and a join code the mall's manager issued
    mall_manager, owner = venue_support.manager(), venue_support.manager()
    mall = venue_support.register(aws_stack, mall_manager, zone="东区", store_number="M-001")
    assert mall.status == 201, mall.body
    mall_id = mall.json()["venue_id"]
    id_number = venue_support.new_id_number()
    pharmacy = venue_support.register(
        aws_stack, owner, type="pharmacy", credential_type="id_number", credential_number=id_number
    )
    assert pharmacy.status == 201, pharmacy.body
    joined = aws_stack.call("POST", f"/v1/venues/{mall_id}/join-codes", as_=mall_manager)
    assert joined.status == 201, joined.body
    # WHEN the VenuesTable's stream records are exported
    answer = aws_stack.invoke("ExportFunction", {"Records": stream_records(aws_stack, "VenuesTable")})
    assert answer == {"batchItemFailures": []}
    lines = {line["venue_id"]: line for found in exported(aws_stack).values() for line in found}
    # THEN the two venues, and no join code, are exported
    assert set(lines) == {mall_id, pharmacy.json()["venue_id"]}
    # AND the mall carries its credit code in clear (the platform matches its register), its zone
    # and store number
    line = lines[mall_id]
    assert (line["credential_number"], line["credential_hash"]) == (venue_support.REAL_USCC[0], None)
    assert (line["zone"], line["store_number"]) == ("东区", "M-001")
    # AND the pharmacy's ID number leaves only as its keyed hash
    line = lines[pharmacy.json()["venue_id"]]
    assert line["credential_number"] is None
    assert line["credential_hash"] == pii.keyed_hash("credential_number", id_number)
    raw = json.dumps(lines, ensure_ascii=False)
    assert id_number not in raw and id_number[-4:] + '"' not in raw and "join#" not in raw
