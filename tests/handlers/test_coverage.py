"""The coverage consumer (VenuesTable stream → coverage counters) on moto: counts at county,
prefecture and province level, once per venue under redelivery, skipping phone guards and code
re-issues, taking removed venues out, and reporting failures in stream order."""

from __future__ import annotations

import uuid
from typing import Any

from healthcode.rules.policy import RiskLevel
from healthcode.storage import venues as store
from healthcode.storage.models import Stat, Venue

from infra.local.events import stream_record
from tests.handlers import venue_support
from tests.handlers.harness import InProcessStack
from tests.handlers.venue_support import PLACES, make_person, manager, pump, register

venue_stack = venue_support.venue_stack  # the module's shared moto stack (fixture)
stack = venue_support.stack


def counts(region: str) -> tuple[dict[str, int], dict[str, int]]:
    found = store.coverage_counts(region)
    return dict(found.by_type), dict(found.by_region)


def records_of(stack: InProcessStack, venue_ids: set[str]) -> list[dict[str, Any]]:
    """Every VenuesTable stream record so far about these venues, as Lambda would get them."""
    dynamodb, streams = stack.clients["dynamodb"], stack.clients["dynamodbstreams"]
    arn = dynamodb.describe_table(TableName=stack.template.physical_name("VenuesTable"))["Table"][
        "LatestStreamArn"
    ]
    found: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = streams.get_records(ShardIterator=iterator, Limit=1000)
            iterator = answer.get("NextShardIterator")
            for raw in answer.get("Records", []):
                if raw["dynamodb"]["Keys"]["venue_id"]["S"] in venue_ids:
                    found.append(stream_record(raw, stream_arn=arn, region="cn-north-1", ttl_delete=False))
            if not answer.get("Records"):
                break
    return found


def test_venues_count_by_type_at_county_prefecture_and_province(stack: InProcessStack) -> None:
    # GIVEN coverage before, and new venues in two counties of Guiyang and one of Liupanshui
    before = {region: counts(region) for region in ("520102", "520103", "520100", "520000", "520201")}
    who = manager()
    for region, venue_type in (
        ("520102", "mall"),
        ("520102", "hospital"),
        ("520103", "mall"),
        ("520201", "park"),
    ):
        assert register(stack, who, region_code=region, type=venue_type).status == 201
    # WHEN the stream is drained
    pump(stack).drain()

    # THEN each level counts its venues by type, and each parent its children
    def grew(region: str) -> tuple[dict[str, int], dict[str, int]]:
        by_type, by_region = counts(region)
        old_type, old_region = before[region]
        return (
            {t: n - old_type.get(t, 0) for t, n in by_type.items() if n != old_type.get(t, 0)},
            {r: n - old_region.get(r, 0) for r, n in by_region.items() if n != old_region.get(r, 0)},
        )

    assert grew("520102") == ({"mall": 1, "hospital": 1}, {})
    assert grew("520103") == ({"mall": 1}, {})
    assert grew("520100") == ({"mall": 2, "hospital": 1}, {"520102": 2, "520103": 1})
    assert grew("520201") == ({"park": 1}, {})
    assert grew("520000") == ({"mall": 2, "hospital": 1, "park": 1}, {"520100": 3, "520200": 1})


def test_redelivered_records_count_once(stack: InProcessStack) -> None:
    # GIVEN a venue counted once
    venue_id = register(stack, manager(), region_code="520103", type="library_museum").json()["venue_id"]
    pump(stack).drain()
    once = counts("520103")[0]["library_museum"]
    # WHEN its INSERT record is delivered again (twice) THEN nothing changes
    records = records_of(stack, {venue_id})
    for _ in range(2):
        answer = stack.invoke("CoverageFunction", {"Records": records})
        assert answer == {"batchItemFailures": []}
    assert counts("520103")[0]["library_museum"] == once
    assert Stat.get(f"COVERED#{venue_id}", "COVERAGE").venue_id == venue_id


def test_code_reissues_and_phone_guards_are_not_venues(stack: InProcessStack, province) -> None:  # type: ignore[no-untyped-def]
    province("360000")
    who = manager()
    make_person(who[0], level=RiskLevel.GREEN)
    before = counts("360102")[0].get("mall", 0)
    # GIVEN a Jiangxi venue (with its phone guard) whose code is later re-issued (a MODIFY)
    venue_id = register(stack, who, region_code=PLACES["360000"][0]).json()["venue_id"]
    venue = Venue.get(venue_id)
    store.store_code(store.view_of(venue), code="x.y.z", generation=2)
    pump(stack).drain()
    # THEN the venue counts once; the guard and the re-issue count nothing
    assert counts("360102")[0]["mall"] == before + 1


def test_a_removed_venue_is_taken_out(stack: InProcessStack) -> None:
    venue_id = register(stack, manager(), region_code="520102", type="cinema_entertainment").json()[
        "venue_id"
    ]
    pump(stack).drain()
    counted = counts("520102")[0]["cinema_entertainment"]
    Venue.get(venue_id).delete()
    pump(stack).drain()
    assert counts("520102")[0].get("cinema_entertainment", 0) == counted - 1


def test_a_poison_record_fails_with_everything_after_it(stack: InProcessStack) -> None:
    # GIVEN three venue records, the middle one without a valid region
    good = [
        register(stack, manager(), region_code="520102", type="sports").json()["venue_id"] for _ in range(2)
    ]
    pump(stack).drain()
    before = counts("520102")[0]["sports"]
    records = records_of(stack, set(good))
    poison_id = f"v-{uuid.uuid4().hex}"
    poison = {
        **records[0],
        "eventID": "poison",
        "dynamodb": {
            **records[0]["dynamodb"],
            "Keys": {"venue_id": {"S": poison_id}},
            "NewImage": {"venue_id": {"S": poison_id}, "type": {"S": "sports"}, "region_code": {"S": "52"}},
            "SequenceNumber": "9" * 21,
        },
    }
    fresh = [
        {
            **r,
            "dynamodb": {**r["dynamodb"], "NewImage": {**r["dynamodb"]["NewImage"], "venue_id": {"S": vid}}},
        }
        for r, vid in zip(records, (f"v-{uuid.uuid4().hex}", f"v-{uuid.uuid4().hex}"), strict=True)
    ]
    fresh[1]["dynamodb"]["SequenceNumber"] = "9" * 22
    # WHEN delivered as [fresh, poison, fresh]
    answer = stack.invoke("CoverageFunction", {"Records": [fresh[0], poison, fresh[1]]})
    # THEN the poison record and the one after it are reported failed; the first is counted
    assert answer == {"batchItemFailures": [{"itemIdentifier": "9" * 21}, {"itemIdentifier": "9" * 22}]}
    assert counts("520102")[0]["sports"] == before + 1
