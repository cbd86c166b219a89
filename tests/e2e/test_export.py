"""The export on the local stack: a venue registered and a check-in made over HTTP reach the
export bucket (moto S3) as JSON lines, through the same stream pump that feeds every consumer."""

from __future__ import annotations

import json
import uuid
from typing import Any

from healthcode.rules import idcard

from tests.e2e.stack import Stack

GUIYANG = {"lat": 26.5783, "lng": 106.7135}


def exported_lines(stack: Stack, table: str) -> list[dict[str, Any]]:
    """Every line the local stack has exported for ``table`` (scans or venues)."""
    s3 = stack.aws("s3")
    bucket = f"{stack.info['stack_name']}-exportbucket"
    lines = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"exports/{table}/"):
        for entry in page.get("Contents", []):
            assert "/dt=" in entry["Key"] and entry["Key"].endswith(".jsonl")
            body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read().decode("utf-8")
            lines += [json.loads(line) for line in body.splitlines()]
    return lines


def test_a_registration_and_a_checkin_reach_the_export_bucket(stack: Stack) -> None:
    # GIVEN a venue registered by its manager and a citizen with a code
    manager = (f"manager-{uuid.uuid4().hex[:8]}", ["venue_manager"])
    citizen = (f"citizen-{uuid.uuid4().hex[:8]}", ["citizen"])
    venue = stack.call(
        "POST",
        "/v1/venues",
        as_=manager,
        json={
            "name": "中华南路菜市场",
            "type": "farmers_market",
            "subject_name": "贵阳市南明区中华南路农贸市场管理有限公司",
            "credential_type": "uscc",
            "credential_number": "91440300708461136T",
            "region_code": "520102",
            "location": GUIYANG,
            "address": "贵州省贵阳市南明区中华南路1号",
            "manager_phone": f"139{uuid.uuid4().int % 10**8:08d}",
        },
    )
    assert venue.status_code == 201, venue.text
    first17 = f"52010219900307{uuid.uuid4().int % 1000:03d}"
    code = stack.call(
        "POST",
        "/v1/codes",
        as_=citizen,
        json={
            "name": "张三",
            "id_number": first17 + idcard.check_character(first17),
            "phone": "13800000000",
            "address": "贵州省贵阳市南明区中华南路2号",
            "region_code": "520102",
            "declaration": {"symptoms": [], "temperature": 36.5, "travel": [], "contact_with_case": False},
        },
    )
    assert code.status_code == 201, code.text
    person_id = code.json()["person_id"]
    # WHEN the citizen checks in and the stack's streams are drained
    checkin = stack.call(
        "POST",
        "/v1/checkins",
        as_=citizen,
        json={"venue_code": venue.json()["code"], "person_id": person_id, "location": GUIYANG},
    )
    assert checkin.status_code == 201, checkin.text
    stack.drain()
    # THEN the export bucket holds the venue's registration and the scan, read back from moto S3
    venue_id = venue.json()["venue_id"]
    venues = [line for line in exported_lines(stack, "venues") if line["venue_id"] == venue_id]
    assert [line["op"] for line in venues][:1] == ["INSERT"]
    assert venues[0]["subject_name"].startswith("贵阳市") and venues[0]["province"] == "520000"
    assert venues[0]["manager_hash"].startswith("h1:")
    assert venues[0]["credential_number"] == "91440300708461136T"  # an organisation's: public
    scans = [line for line in exported_lines(stack, "scans") if line["person_id"] == person_id]
    assert len(scans) == 1
    assert scans[0]["venue_id"] == venue_id and scans[0]["kind"] == "checkin"
    assert scans[0]["scanner_hash"].startswith("h1:") and scans[0]["colour"] == "green"
    # AND nothing personal left in clear
    everything = json.dumps(venues + scans, ensure_ascii=False)
    for personal in ("张三", "13800000000", first17, manager[0], citizen[0]):
        assert personal not in everything
