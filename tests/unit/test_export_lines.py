"""The export schema (healthcode.services.export): what a stream record becomes, what never leaves.

Images are built from the storage models themselves (serialised to DynamoDB's wire form and
decoded as the powertools record decodes them), so a renamed attribute breaks these tests."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer
from healthcode.services import export
from healthcode.storage import venues as venue_storage
from healthcode.storage.models import Scan, Venue, VenueJoinCode
from healthcode.storage.scans import ScanRecord, item_for
from hypothesis import given
from hypothesis import strategies as st

PROVINCE = "410000"
CHANGED = datetime(2022, 5, 18, 2, 0, 0, 123000, tzinfo=UTC)  # 10:00:00.123 in Zhengzhou
SCAN_KEYS = {"venue_shard", "at_scan"}
SCAN_FIELDS = {
    "schema", "province", "op", "seq", "changed_at", "scan_id", "scanned_at", "venue_id", "person_id",
    "root_venue_id", "venue_type", "region_code", "kind", "scanner_hash", "risk_level", "colour",
    "verdict", "abnormal", "temperature", "presented",
}  # fmt: skip
VENUE_FIELDS = {
    "schema", "province", "op", "seq", "changed_at", "venue_id", "name", "type", "subject_name",
    "subject_hash", "credential_type", "credential_number", "credential_hash", "region_code",
    "location", "address", "parent_venue_id", "root_venue_id", "manager_hash", "registered_at",
    "zone", "store_number", "closed_at",
}  # fmt: skip
_decode = TypeDeserializer().deserialize


def hasher(kind: str, value: str) -> str:
    """A keyed hash like pii.keyed_hash's (its key is a test constant)."""
    digest = hmac.new(b"k" * 32, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
    return f"h1:1:{digest}"


def decoded(model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(keys, image) of a model item as the stream record's decoder gives them."""
    wire = model.serialize()
    image = {name: _decode(value) for name, value in wire.items()}
    key_names = [model._hash_key_attribute().attr_name]
    if model._range_key_attribute() is not None:
        key_names.append(model._range_key_attribute().attr_name)
    return {name: image[name] for name in key_names}, image


def scan_item(**overrides: Any) -> Scan:
    record = ScanRecord(
        **{
            "scan_id": "s-1f2e",
            "person_id": "p-7a7a",
            "venue_id": "v-00aa",
            "root_venue_id": "v-0001",
            "venue_type": "mall",
            "region_code": "410102",
            "kind": "verification",
            "actor": "scanner-account-42",
            "at": datetime(2022, 5, 18, 1, 59, 58, 250000, tzinfo=UTC),
            "level": 1,
            "colour": "yellow",
            "verdict": "dissuade",
            "abnormal": True,
            "temperature": 37.5,
            "name_masked": "张*",
            "id_masked": "4101**********1234",
            **overrides,
        }
    )
    return item_for(record, shards=4, retention_days=28)


def venue_item(venue_id: str = "v-00aa", **overrides: Any) -> Venue:
    fields: dict[str, Any] = {
        "name": "二七广场店",
        "type": "supermarket",
        "subject_name": "郑州某某商贸有限公司",
        "credential_type": "uscc",
        "credential_enc": "v1.c2VjcmV0.bm9uY2U.Y2lwaGVy",
        "credential_masked": "91410100MA44XXXXXX",
        "region_code": "410103",
        "location": {"lat": 34.7553, "lng": 113.6654},
        "address": "二七区解放路1号",
        "manager_sub": "manager-account-7",
        "manager_phone_enc": "v1.c2VjcmV0.bm9uY2U.cGhvbmU",
        "manager_phone_hash": "h1:1:phonehash",
        "manager_phone_masked": "138****0000",
        "root_venue_id": venue_id,
        "shards": 2,
        "code": "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ2In0.sig",
        "code_id": "jti-1",
        "created_at": datetime(2022, 5, 17, 16, 30, tzinfo=UTC),
    }
    fields.update(overrides)
    return Venue(venue_id, **fields)


def change(model: Any, *, table: export.Table, op: export.Operation = "INSERT", seq: str = "100", **kw: Any):
    keys, image = decoded(model)
    return export.Change(
        table=table,
        operation=op,
        sequence=seq,
        changed_at=kw.pop("changed_at", CHANGED),
        keys=keys,
        image=None if op == "REMOVE" else image,
        **kw,
    )


# --- scans ------------------------------------------------------------------------------------


def test_a_scan_becomes_its_line_with_the_scanner_as_a_keyed_hash() -> None:
    # GIVEN a checkpoint scan as stored WHEN it is exported
    line = export.export_line(change(scan_item(), table="scans"), province=PROVINCE, hasher=hasher)
    # THEN the line holds the scan's facts, its business day, and no masks
    assert line is not None
    assert line.day == date(2022, 5, 18)
    assert line.document == {
        "schema": "healthcode.export.scan/1",
        "province": "410000",
        "op": "INSERT",
        "seq": "100",
        "changed_at": "2022-05-18T10:00:00.123+08:00",
        "scan_id": "s-1f2e",
        "scanned_at": "2022-05-18T09:59:58.250+08:00",
        "venue_id": "v-00aa",
        "person_id": "p-7a7a",
        "root_venue_id": "v-0001",
        "venue_type": "mall",
        "region_code": "410102",
        "kind": "verification",
        "scanner_hash": hasher("account", "scanner-account-42"),
        "risk_level": 1,
        "colour": "yellow",
        "verdict": "dissuade",
        "abnormal": True,
        "temperature": 37.5,
        "presented": None,
    }
    assert "张" not in line.text() and "1234" not in line.text() and "scanner-account-42" not in line.text()


def test_a_scan_just_before_midnight_in_china_counts_on_its_own_day() -> None:
    # GIVEN a scan at 23:59:59 +08:00 whose stream record is written after midnight
    item = scan_item(at=datetime(2022, 5, 18, 15, 59, 59, tzinfo=UTC))
    after_midnight = datetime(2022, 5, 18, 16, 0, 2, tzinfo=UTC)
    # WHEN it is exported THEN its day is the scan's China date, not the record's
    line = export.export_line(
        change(item, table="scans", changed_at=after_midnight), province=PROVINCE, hasher=hasher
    )
    assert line is not None and line.day == date(2022, 5, 18)


def test_ttl_expiry_is_not_exported_but_a_deliberate_removal_is() -> None:
    # GIVEN a scan removed by TTL (our retention) and the same scan removed by someone
    by_ttl = change(scan_item(), table="scans", op="REMOVE", by_ttl=True)
    removed = change(scan_item(), table="scans", op="REMOVE")
    # THEN TTL gives no line, a removal gives a line naming the scan only
    assert export.export_line(by_ttl, province=PROVINCE, hasher=hasher) is None
    line = export.export_line(removed, province=PROVINCE, hasher=hasher)
    assert line is not None and line.document["op"] == "REMOVE"
    assert set(line.document) == {
        "schema", "province", "op", "seq", "changed_at", "scan_id", "scanned_at", "venue_id",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"venue_shard": "v-00aa#1", "at_scan": "2022-05-18T01:59:58.250000Z"}, "scan id"),
        ({"venue_shard": "v-00aa#1", "at_scan": "yesterday#s-1"}, "stored instant"),
        ({"venue_shard": "v-00aa", "at_scan": "2022-05-18T01:59:58.250000Z#s-1"}, "<venue_id>#<shard>"),
        ({"at_scan": "2022-05-18T01:59:58.250000Z#s-1"}, "venue_shard"),
    ],
)
def test_a_record_that_is_not_a_scan_is_refused(keys: dict[str, str], problem: str) -> None:
    # GIVEN keys that no scan has WHEN exported THEN NotExportable names the problem
    bad = export.Change("scans", "REMOVE", "7", CHANGED, keys, None)
    with pytest.raises(export.NotExportable, match=problem):
        export.export_line(bad, province=PROVINCE, hasher=hasher)


def test_an_insert_without_an_image_or_a_bad_sequence_is_refused() -> None:
    keys, _ = decoded(scan_item())
    with pytest.raises(export.NotExportable, match="new image"):
        export.export_line(
            export.Change("scans", "INSERT", "7", CHANGED, keys, None), province="1", hasher=hasher
        )
    _, image = decoded(scan_item())
    with pytest.raises(export.NotExportable, match="sequence"):
        export.export_line(
            export.Change("scans", "INSERT", "7a", CHANGED, keys, image), province="1", hasher=hasher
        )
    with pytest.raises(export.NotExportable, match="number"):
        export.export_line(
            export.Change("scans", "INSERT", "7", CHANGED, keys, {**image, "level": "1"}),
            province="1",
            hasher=hasher,
        )


# --- venues ------------------------------------------------------------------------------------


def test_an_organisation_venue_is_exported_with_its_subject_and_credential_in_clear() -> None:
    # GIVEN a supermarket registered under its unified social credit code, in a zone, with a number
    item = venue_item(zone="一楼", store_number="ZZ-0012")
    line = export.export_line(change(item, table="venues"), province=PROVINCE, hasher=hasher)
    assert line is not None
    # THEN its line carries the credit code as registered (the platform matches it against its
    # register of entities), the zone and store number, and nothing personal
    assert line.document == {
        "schema": "healthcode.export.venue/1",
        "province": "410000",
        "op": "INSERT",
        "seq": "100",
        "changed_at": "2022-05-18T10:00:00.123+08:00",
        "venue_id": "v-00aa",
        "name": "二七广场店",
        "type": "supermarket",
        "subject_name": "郑州某某商贸有限公司",
        "subject_hash": None,
        "credential_type": "uscc",
        "credential_number": "91410100MA44XXXXXX",
        "credential_hash": None,
        "region_code": "410103",
        "location": {"lat": 34.7553, "lng": 113.6654},
        "address": "二七区解放路1号",
        "parent_venue_id": None,
        "root_venue_id": "v-00aa",
        "manager_hash": hasher("account", "manager-account-7"),
        "registered_at": "2022-05-18T00:30:00.000+08:00",
        "zone": "一楼",
        "store_number": "ZZ-0012",
        "closed_at": None,
    }
    text = line.text()
    for secret in ("v1.", "phonehash", "138", "eyJ", "jti-1", "manager-account-7"):
        assert secret not in text, secret


@pytest.mark.parametrize("credential_type", ["id_number", "licence_plate"])
def test_a_persons_credential_leaves_only_as_the_keyed_hash_stored_with_the_venue(
    credential_type: str,
) -> None:
    # GIVEN a pharmacy registered under its owner's ID card (or a taxi under its plate): the item
    # holds the number encrypted, masked, and as a keyed hash
    item = venue_item(
        credential_type=credential_type,
        credential_masked="410102********1234",
        credential_hash="h1:1:credentialhash",
        subject_name="王*",
        subject_name_hash="h1:1:subjecthash",
    )
    line = export.export_line(change(item, table="venues"), province=PROVINCE, hasher=hasher)
    # THEN the number leaves only as that hash: never in clear, never its mask
    assert line is not None
    assert line.document["credential_number"] is None
    assert line.document["credential_hash"] == "h1:1:credentialhash"
    assert line.document["subject_hash"] == "h1:1:subjecthash"
    assert "410102" not in line.text() and "王" not in line.text()


def test_a_closed_venue_says_when_it_closed() -> None:
    item = venue_item(closed_at=datetime(2022, 6, 1, 4, 0, tzinfo=UTC))
    line = export.export_line(change(item, table="venues", op="MODIFY"), province=PROVINCE, hasher=hasher)
    assert line is not None and line.document["closed_at"] == "2022-06-01T12:00:00.000+08:00"


def test_join_codes_are_not_venues() -> None:
    # GIVEN the item a complex's join code is stored as (its digest, the complex it admits to)
    item = VenueJoinCode(
        venue_storage.JOIN_PREFIX + "ab" * 32,
        joins_venue_id="v-00aa",
        issued_by="manager-account-7",
        issued_at=CHANGED,
        expires_at=CHANGED + timedelta(days=7),
    )
    # THEN nothing about it is exported
    for op in ("INSERT", "MODIFY", "REMOVE"):
        assert (
            export.export_line(change(item, table="venues", op=op), province=PROVINCE, hasher=hasher) is None
        )


@pytest.mark.parametrize("credential_type", ["id_number", "licence_plate", None])
def test_a_venue_whose_subject_may_be_a_person_exports_the_subject_as_a_keyed_hash(
    credential_type: str | None,
) -> None:
    # GIVEN a venue registered under an ID card (a person) or a plate, or with no type recorded
    item = venue_item(credential_type=credential_type, subject_name="王小二")
    line = export.export_line(change(item, table="venues"), province=PROVINCE, hasher=hasher)
    # THEN the subject leaves only as its keyed hash
    assert line is not None
    assert line.document["subject_name"] is None
    assert line.document["subject_hash"] == hasher("subject_name", "王小二")
    assert "王小二" not in line.text()


def test_phone_guards_are_not_venues() -> None:
    # GIVEN the guard item Jiangxi's one-venue-per-phone rule writes next to a venue
    guard = Venue(venue_storage.PHONE_GUARD_PREFIX + "h1:1:abc", guards_venue_id="v-00aa")
    # THEN it is not exported (its key is a phone's hash), whatever happens to it
    for op in ("INSERT", "REMOVE"):
        assert (
            export.export_line(change(guard, table="venues", op=op), province=PROVINCE, hasher=hasher) is None
        )
    assert export.PHONE_GUARD_PREFIX == venue_storage.PHONE_GUARD_PREFIX


def test_a_venue_day_is_the_china_date_of_the_change() -> None:
    late = datetime(2022, 5, 18, 16, 30, tzinfo=UTC)  # 00:30 on the 19th in China
    line = export.export_line(
        change(venue_item(), table="venues", changed_at=late), province=PROVINCE, hasher=hasher
    )
    assert line is not None and line.day == date(2022, 5, 19)


# --- objects ------------------------------------------------------------------------------------


def test_object_names_are_partitioned_by_day_and_named_by_their_sequence_range() -> None:
    # GIVEN a batch whose scans straddle midnight in China
    before = scan_item(scan_id="s-a", at=datetime(2022, 5, 18, 15, 59, tzinfo=UTC))
    after = scan_item(scan_id="s-b", at=datetime(2022, 5, 18, 16, 1, tzinfo=UTC))
    also_after = scan_item(scan_id="s-c", at=datetime(2022, 5, 18, 16, 2, tzinfo=UTC))
    lines = [
        export.export_line(change(item, table="scans", seq=seq), province=PROVINCE, hasher=hasher)
        for item, seq in ((before, "300"), (after, "301"), (also_after, "302"))
    ]
    # WHEN the batch becomes objects
    objects = export.export_objects([line for line in lines if line], stream="2022-05-18T00:00:00.000")
    # THEN one object per day, named by its first and last sequence number, lines in order
    assert [o.key for o in objects] == [
        "exports/scans/dt=2022-05-18/2022-05-18T00-00-00.000-300-300.jsonl",
        "exports/scans/dt=2022-05-19/2022-05-18T00-00-00.000-301-302.jsonl",
    ]
    body = objects[1].body().decode()
    assert body.endswith("\n") and [json.loads(x)["scan_id"] for x in body.splitlines()] == ["s-b", "s-c"]


def test_object_keys_refuse_labels_and_sequences_that_would_change_the_path() -> None:
    with pytest.raises(ValueError, match="stream label"):
        export.object_key("scans", date(2022, 5, 18), "../x", "1", "2")
    with pytest.raises(ValueError, match="sequence"):
        export.object_key("scans", date(2022, 5, 18), "label", "1", "2/../3")


def test_stream_of_reads_table_and_label_from_the_stream_arn() -> None:
    arn = (
        "arn:aws-cn:dynamodb:cn-north-1:123456789012:table/healthcode-410000-ScansTable-X1"
        "/stream/2022-05-18T00:00:00.000"
    )
    assert export.stream_of(arn) == ("healthcode-410000-ScansTable-X1", "2022-05-18T00:00:00.000")
    with pytest.raises(export.NotExportable):
        export.stream_of("arn:aws:sqs:cn-north-1:123456789012:queue")


# --- properties ------------------------------------------------------------------------------------

_text = st.text(min_size=1, max_size=12)
_extra = st.dictionaries(
    st.sampled_from(["name_masked", "id_masked", "id_enc", "phone_enc", "code", "secret_note", "actor_name"]),
    _text.map(lambda text: f"LEAK<{text}>"),
)


@given(extra=_extra, seq=st.integers(min_value=0, max_value=10**30), actor=_text)
def test_attributes_outside_the_schema_never_leave(extra: dict[str, str], seq: int, actor: str) -> None:
    # GIVEN a stored scan carrying any extra attributes (a later model change, say)
    keys, image = decoded(scan_item(actor=actor))
    image.update(extra)
    line = export.export_line(
        export.Change("scans", "INSERT", str(seq), CHANGED, keys, image), province=PROVINCE, hasher=hasher
    )
    # THEN the line holds exactly the documented fields, never the extras, never the raw actor
    assert line is not None and set(line.document) == SCAN_FIELDS
    assert SCAN_KEYS.isdisjoint(line.document)
    assert line.document["scanner_hash"] == hasher("account", actor)
    for value in extra.values():
        assert json.dumps(value, ensure_ascii=False)[1:-1] not in line.text()


@given(
    days=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=30),
    start=st.integers(min_value=1, max_value=10**20),
)
def test_grouping_keeps_every_line_once_in_order_and_is_deterministic(days: list[int], start: int) -> None:
    # GIVEN a batch of venue changes over a few days, sequence numbers increasing
    base = datetime(2022, 5, 18, 4, tzinfo=UTC)
    lines = []
    for offset, day in enumerate(days):
        item = venue_item(venue_id=f"v-{offset:04x}")
        found = export.export_line(
            change(item, table="venues", seq=str(start + offset), changed_at=base + timedelta(days=day)),
            province=PROVINCE,
            hasher=hasher,
        )
        assert found is not None
        lines.append(found)
    # WHEN grouped twice THEN the same objects; every line once; each object one day, in order
    first = export.export_objects(lines, stream="label")
    assert first == export.export_objects(lines, stream="label")
    assert sorted(line.sequence for obj in first for line in obj.lines) == sorted(x.sequence for x in lines)
    for obj in first:
        assert len({line.day for line in obj.lines}) == 1
        sequences = [int(line.sequence) for line in obj.lines]
        assert sequences == sorted(sequences)
        assert obj.key.endswith(f"-{obj.lines[0].sequence}-{obj.lines[-1].sequence}.jsonl")
        assert f"dt={obj.lines[0].day.isoformat()}/" in obj.key
        assert set(json.loads(obj.body().decode().splitlines()[0])) == VENUE_FIELDS
