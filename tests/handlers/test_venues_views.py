"""Posters, day statistics and alerts on moto: posters decode to the venue code; stats and alerts
come from the counters after the stream is drained, only for the venue's own manager; alerts
show identities only where the province allows, and every identity read is audited."""

from __future__ import annotations

import io
import uuid
from typing import Any

import zxingcpp
from healthcode.codes import qr
from healthcode.rules.policy import RiskLevel
from healthcode.rules.venues import china_day
from healthcode.storage import audit
from PIL import Image

from tests.handlers import venue_support
from tests.handlers.checkpoint_support import code_for
from tests.handlers.harness import InProcessStack
from tests.handlers.venue_support import OFFICIAL, PLACES, citizen, make_person, manager, pump, register

venue_stack = venue_support.venue_stack  # the module's shared moto stack (fixture)
stack = venue_support.stack


def near(province: str) -> dict[str, float]:
    _, lat, lng, _ = PLACES[province]
    return {"lat": lat + 0.001, "lng": lng}


def visit(stack: InProcessStack, code: str, levels: list[RiskLevel], province: str = "520000") -> list[str]:
    """Citizens at these levels check in at the venue; their person ids."""
    ids = []
    for level in levels:
        who = citizen()
        person = make_person(who[0], level=level, name="王五")
        body = {"venue_code": code, "person_id": person.person_id, "location": near(province)}
        answer = stack.call("POST", "/v1/checkins", as_=who, json_body=body)
        assert answer.status == 201, answer.body
        ids.append(person.person_id)
    return ids


def test_the_png_poster_decodes_to_the_venue_codes_url(stack: InProcessStack) -> None:
    # GIVEN a venue with the longest name and address allowed (the code does not grow with them)
    who = manager()
    created = register(stack, who, name="场" * 50, address="贵州省贵阳市南明区" + "路" * 111).json()
    # WHEN its poster is printed THEN the whole page, and the page at a quarter of its size,
    # decode to exactly the code's URL, a QR symbol of version 10 at most
    answer = stack.call("GET", f"/v1/venues/{created['venue_id']}/poster.png", as_=who)
    assert answer.status == 200 and answer.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(answer.body)).convert("L")
    assert image.size == (1240, 1754)
    small = image.resize((310, 438), Image.Resampling.LANCZOS)
    for page in (image, small):
        found = zxingcpp.read_barcodes(page, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
        assert [r.text for r in found] == ["https://hc.local/v/" + created["code"]]
        assert int(found[0].extra["Version"]) <= 10 and found[0].ec_level == "M"


def test_the_svg_poster_carries_name_address_and_the_codes_qr(stack: InProcessStack) -> None:
    who = manager()
    created = register(stack, who, name="A&B <奶茶>", address="贵阳市南明区中华南路1号").json()
    answer = stack.call("GET", f"/v1/venues/{created['venue_id']}/poster.svg", as_=who)
    assert answer.status == 200 and answer.headers["content-type"].startswith("image/svg+xml")
    svg = answer.body.decode()
    assert "A&amp;B &lt;奶茶&gt;" in svg and "贵阳市南明区中华南路1号" in svg and "贵州健康码" in svg
    symbol = qr.encode_at_level(created["code_url"], "M")
    assert symbol.version <= 10 and symbol.path_data(offset=qr.QUIET_ZONE) in svg
    # another manager gets no poster
    assert stack.call("GET", f"/v1/venues/{created['venue_id']}/poster.svg", as_=manager()).status == 403


def test_stats_count_the_days_checkins_after_a_drain(stack: InProcessStack) -> None:
    # GIVEN a venue and three visitors today, one of them yellow
    who = manager()
    created = register(stack, who).json()
    visit(stack, created["code"], [RiskLevel.GREEN, RiskLevel.GREEN, RiskLevel.YELLOW])
    path = f"/v1/venues/{created['venue_id']}/stats"
    assert stack.call("GET", path, as_=who).json()["scans"] == 0  # nothing counted before the drain
    # WHEN the stream is drained THEN the counters answer without reading scans
    pump(stack).drain()
    answer = stack.call("GET", path, as_=who)
    assert answer.status == 200
    from healthcode import clock

    today = china_day(clock.now())
    assert answer.json() == {
        "venue_id": created["venue_id"],
        "date": today,
        "scans": 3,
        "abnormal": 1,
        "by_colour": {"green": 2, "yellow": 1},
    }
    # another day is empty; a bad date is 422; only the venue's own manager may look
    assert stack.call("GET", path, as_=who, query="date=2022-05-18").json()["scans"] == 0
    bad = stack.call("GET", path, as_=who, query="date=2022-13-01")
    assert (bad.status, bad.error_code, bad.json()["error"]["field"]) == (422, "invalid_date", "date")
    assert stack.call("GET", path, as_=manager()).error_code == "not_venue_manager"
    assert stack.call("GET", path, as_=OFFICIAL).error_code == "forbidden_role"


def _alerts(stack: InProcessStack, venue_id: str, who: tuple[str, list[str]]) -> list[dict[str, Any]]:
    answer = stack.call("GET", f"/v1/venues/{venue_id}/alerts", as_=who)
    assert answer.status == 200, answer.body
    alerts: list[dict[str, Any]] = answer.json()["alerts"]
    return alerts


def test_guizhou_alerts_are_masked_and_nothing_is_audited(stack: InProcessStack) -> None:
    who = manager()
    created = register(stack, who).json()
    _, red = visit(stack, created["code"], [RiskLevel.GREEN, RiskLevel.RED])
    pump(stack).drain()
    (alert,) = _alerts(stack, created["venue_id"], who)
    assert alert["colour"] == "red" and alert["risk_level"] == 2 and alert["verdict"] == "isolate"
    assert alert["identity_visible"] is False
    assert alert["person"] == {"name_masked": "王*", "id_masked": alert["person"]["id_masked"]}
    assert "*" in alert["person"]["id_masked"] and red not in str(alert)
    assert list(audit.entries(audit.venue_subject(created["venue_id"]))) == []


def test_jiangxi_never_shows_identities(stack: InProcessStack, province) -> None:  # type: ignore[no-untyped-def]
    province("360000")
    who = manager()
    make_person(who[0])  # Jiangxi: the applicant holds a green code
    created = register(stack, who).json()
    visit(stack, created["code"], [RiskLevel.YELLOW, RiskLevel.RED], province="360000")
    pump(stack).drain()
    alerts = _alerts(stack, created["venue_id"], who)
    assert len(alerts) == 2
    assert all(a["identity_visible"] is False and "name" not in a["person"] for a in alerts)
    assert list(audit.entries(audit.venue_subject(created["venue_id"]))) == []


def test_fujian_shows_identities_only_of_visitors_its_staff_checked_and_audits_each_read(
    stack: InProcessStack, province
) -> None:  # type: ignore[no-untyped-def]
    province("350000")
    who = manager()
    created = register(stack, who).json()
    venue_id = created["venue_id"]
    # GIVEN an orange visitor who only checked in (a poster can be a forwarded photo anywhere)
    (checked_in,) = visit(stack, created["code"], [RiskLevel.YELLOW], province="350000")
    visit(stack, created["code"], [RiskLevel.GREEN], province="350000")
    # AND an orange visitor whose code the venue's own staff scanned at the door
    staff_member = (f"scanner-{uuid.uuid4().hex[:8]}", ["scanner"])
    assert stack.call("PUT", f"/v1/venues/{venue_id}/staff/{staff_member[0]}", as_=who).status == 200
    scanned = make_person(citizen()[0], level=RiskLevel.YELLOW, name="王五")
    body = {"code": code_for(scanned), "checkpoint_id": venue_id, "temperature": 36.5}
    assert stack.call("POST", "/v1/verifications", as_=staff_member, json_body=body).status == 200
    pump(stack).drain()
    # WHEN the manager reads the day's alerts
    alerts = _alerts(stack, venue_id, who)
    by_person = {a["person"].get("person_id"): a for a in alerts}
    # THEN the checked-in visitor stays masked and nothing is audited about them
    hidden = [a for a in alerts if not a["identity_visible"]]
    assert len(hidden) == 1 and "name" not in hidden[0]["person"] and "person_id" not in hidden[0]["person"]
    assert list(audit.entries(audit.person_subject(checked_in))) == []
    # AND the visitor the staff checked is shown in full
    alert = by_person[scanned.person_id]
    assert alert["colour"] == "orange" and alert["verdict"] == "register" and alert["identity_visible"]
    person = alert["person"]
    assert person["name"] == "王五" and len(person["id_number"]) == 18
    # AND the read is in the audit trail of the person (once per read) and of the venue
    for subject in (audit.person_subject(scanned.person_id), audit.venue_subject(venue_id)):
        (entry,) = audit.entries(subject, kinds=frozenset({"identity_read"}))
        assert entry.actor == who[0]
        assert entry.details["scan_ids"] == [alert["scan_id"]]
        assert person["id_number"] not in str(entry.details)
    # AND each further read is audited again
    _alerts(stack, venue_id, who)
    assert len(list(audit.entries(audit.person_subject(scanned.person_id)))) == 2


def test_alerts_only_for_the_venues_own_manager(stack: InProcessStack) -> None:
    who = manager()
    created = register(stack, who).json()
    path = f"/v1/venues/{created['venue_id']}/alerts"
    assert stack.call("GET", path, as_=manager()).status == 403
    assert stack.call("GET", f"/v1/venues/v-{uuid.uuid4().hex}/alerts", as_=who).status == 404
    assert stack.call("GET", path, as_=who, query="date=tomorrow").error_code == "invalid_date"
