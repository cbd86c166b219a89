"""Checkpoint staff on moto (issue 13, items 1-3): assigning, removing and listing staff (who may,
bad input, paging), roadside checkpoints registered by officials, verifications and manual
registrations only at assigned checkpoints (directly or through the complex), a manual
registration that proves nothing it cannot check (identity_mismatch writes nothing, no person id
in the answer, phone optional), and the paper code staff may print with a registration."""

from __future__ import annotations

import base64
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import zxingcpp
from healthcode import clock
from healthcode.codes import keystore
from healthcode.rules.policy import RiskLevel
from healthcode.settings import policy
from healthcode.storage import audit, idempotency, persons, scans, staff
from healthcode.storage.models import Fact, Scan, StaffAssignment
from PIL import Image

from tests.handlers.checkpoint_support import (  # noqa: F401 - fixtures
    SCANNER,
    assign,
    code_for,
    dynamodb_calls,
    make_person,
    make_venue,
    module_stack,
    new_id_number,
    per_test_stack,
    verify,
)
from tests.handlers.harness import InProcessStack
from tests.handlers.venue_support import REAL_USCC, venue_body

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
MANAGER = ("manager-1", ["venue_manager"])
OFFICIAL = ("official-9", ["official"])


def fresh_sub(prefix: str = "scanner") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def put(stack: InProcessStack, venue_id: str, sub: str, as_: tuple[str, list[str]] = MANAGER) -> Any:
    return stack.call("PUT", f"/v1/venues/{venue_id}/staff/{sub}", as_=as_)


def delete(stack: InProcessStack, venue_id: str, sub: str, as_: tuple[str, list[str]] = MANAGER) -> Any:
    return stack.call("DELETE", f"/v1/venues/{venue_id}/staff/{sub}", as_=as_)


def listing(
    stack: InProcessStack, venue_id: str, query: str = "", as_: tuple[str, list[str]] = MANAGER
) -> Any:
    return stack.call("GET", f"/v1/venues/{venue_id}/staff", as_=as_, query=query)


def staff_items(venue_id: str) -> list[StaffAssignment]:
    return list(StaffAssignment.query(venue_id, consistent_read=True))


def venue_trail(venue_id: str) -> list[audit.Entry]:
    return list(audit.entries(audit.venue_subject(venue_id)))


def scans_of(person_id: str) -> list[Scan]:
    return list(scans.of_person(person_id, EPOCH, clock.now() + timedelta(days=1)))


def real_venue_id() -> str:
    """A venue id of the shape the API hands out (v- and 32 hex digits)."""
    return f"v-{uuid.uuid4().hex}"


@pytest.fixture
def venue(moto_stack: InProcessStack) -> Any:
    """A venue managed by manager-1 with nobody assigned."""
    return make_venue(staffed_by=())


# -- assigning, removing, listing -------------------------------------------------------------------


def test_the_manager_assigns_lists_and_removes_staff_each_step_audited(
    moto_stack: InProcessStack, venue: Any
) -> None:
    sub = fresh_sub()
    # WHEN the manager assigns an account
    answer = put(moto_stack, venue.venue_id, sub)
    # THEN 200 {venue_id, sub, assigned_at}, listed, and on the venue's audit trail
    assert answer.status == 200, answer.body
    body = answer.json()
    assert (body["venue_id"], body["sub"]) == (venue.venue_id, sub) and body["assigned_at"]
    listed = listing(moto_stack, venue.venue_id).json()
    assert listed == {"staff": [{"sub": sub, "assigned_at": body["assigned_at"]}], "next_cursor": None}
    # AND assigning again answers the standing assignment, writing nothing new
    again = put(moto_stack, venue.venue_id, sub)
    assert again.status == 200 and again.json()["assigned_at"] == body["assigned_at"]
    trail = venue_trail(venue.venue_id)
    assert [(e.kind, e.actor, e.details) for e in trail] == [("staff_assigned", "manager-1", {"sub": sub})]
    # WHEN removed THEN 204, gone, audited; removing again is 204 and writes nothing
    assert delete(moto_stack, venue.venue_id, sub).status == 204
    assert staff_items(venue.venue_id) == []
    assert delete(moto_stack, venue.venue_id, sub).status == 204
    kinds = [e.kind for e in venue_trail(venue.venue_id)]
    assert kinds == ["staff_assigned", "staff_removed"]


def test_an_official_manages_any_venues_staff(moto_stack: InProcessStack, venue: Any) -> None:
    sub = fresh_sub()
    assert put(moto_stack, venue.venue_id, sub, as_=OFFICIAL).status == 200
    assert [s["sub"] for s in listing(moto_stack, venue.venue_id, as_=OFFICIAL).json()["staff"]] == [sub]
    assert delete(moto_stack, venue.venue_id, sub, as_=OFFICIAL).status == 204
    assert venue_trail(venue.venue_id)[0].actor == "official-9"


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        (("manager-2", ["venue_manager"]), 403, "not_venue_manager"),
        (("manager-1", ["citizen"]), 403, "forbidden_role"),
        (("manager-1", ["scanner"]), 403, "forbidden_role"),
        (("admin-1", ["admin"]), 403, "forbidden_role"),
    ],
)
def test_nobody_else_assigns_removes_or_lists(
    moto_stack: InProcessStack, venue: Any, who: tuple[str, list[str]], status: int, code: str
) -> None:
    standing = fresh_sub()
    assign(venue.venue_id, standing)
    for answer in (
        put(moto_stack, venue.venue_id, fresh_sub(), as_=who),
        delete(moto_stack, venue.venue_id, standing, as_=who),
        listing(moto_stack, venue.venue_id, as_=who),
    ):
        assert (answer.status, answer.error_code) == (status, code), answer.body
    # AND nothing changed
    assert [item.sub for item in staff_items(venue.venue_id)] == [standing]


@pytest.mark.parametrize("venue_id", ["v-" + "0" * 32, "v-nowhere", "x" * 40])
def test_an_unknown_venue_is_404(moto_stack: InProcessStack, venue_id: str) -> None:
    for answer in (
        put(moto_stack, venue_id, fresh_sub()),
        delete(moto_stack, venue_id, fresh_sub()),
        listing(moto_stack, venue_id),
    ):
        assert (answer.status, answer.error_code) == (404, "venue_not_found"), answer.body
    assert staff_items(venue_id) == []


@pytest.mark.parametrize(
    "sub",
    [
        "unclaimed%23p-123",  # '#': the system's own ids
        "scanner%231",
        "scan%07ner",  # a control character
        "scan%20ner",  # a space
        "scan%E2%80%8Bner",  # a zero-width space (format character)
        "s" * 129,
    ],
)
def test_a_bad_account_id_is_refused_and_nothing_is_written(
    moto_stack: InProcessStack, venue: Any, sub: str
) -> None:
    answer = put(moto_stack, venue.venue_id, sub)
    assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (422, "invalid_sub", "sub")
    assert delete(moto_stack, venue.venue_id, sub).error_code == "invalid_sub"
    assert staff_items(venue.venue_id) == [] and venue_trail(venue.venue_id) == []


def test_the_longest_account_id_is_assigned(moto_stack: InProcessStack, venue: Any) -> None:
    assert put(moto_stack, venue.venue_id, "s" * 128).status == 200


def test_staff_are_listed_page_by_page_and_a_forged_cursor_is_refused(
    moto_stack: InProcessStack, venue: Any
) -> None:
    subs = sorted(fresh_sub() for _ in range(5))
    for sub in subs:
        assign(venue.venue_id, sub)
    seen, cursor, pages = [], None, 0
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = listing(moto_stack, venue.venue_id, query).json()
        seen += [s["sub"] for s in page["staff"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == subs and pages >= 3
    # a cursor that is not base64 JSON, one naming another venue, one with other keys
    other = staff._encode(staff.key_of(real_venue_id(), subs[0]))
    forged = base64.urlsafe_b64encode(b'{"x": 1}').decode().rstrip("=")
    for bad in ("%%%", "bm90IGpzb24", other, forged):
        answer = listing(moto_stack, venue.venue_id, f"cursor={bad}")
        assert (answer.status, answer.error_code) == (422, "invalid_cursor"), bad
    for limit in ("0", "501", "abc", "²"):
        answer = listing(moto_stack, venue.venue_id, f"limit={limit}")
        assert (answer.status, answer.error_code) == (422, "invalid_limit"), limit


# -- roadside checkpoints ---------------------------------------------------------------------------


def checkpoint_body(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "G75 兰海高速贵阳南卡口",
        "type": "checkpoint",
        "subject_name": "贵阳市南明区疫情防控指挥部",
        "credential_type": "uscc",
        "credential_number": REAL_USCC[1],
    }
    return venue_body("520000", **{**fields, **changes})


def test_an_official_registers_a_roadside_checkpoint_and_a_manager_cannot(moto_stack: InProcessStack) -> None:
    # WHEN a venue manager registers a checkpoint THEN 403, nothing registered
    refused = moto_stack.call(
        "POST", "/v1/venues", as_=("manager-7", ["venue_manager"]), json_body=checkpoint_body()
    )
    assert (refused.status, refused.error_code) == (403, "checkpoint_needs_official")
    # WHEN an official registers it THEN 201, managed by the official, dwell 10 minutes
    answer = moto_stack.call("POST", "/v1/venues", as_=OFFICIAL, json_body=checkpoint_body())
    assert answer.status == 201, answer.body
    shown = moto_stack.call("GET", f"/v1/venues/{answer.json()['venue_id']}", as_=OFFICIAL).json()
    assert shown["type"] == "checkpoint" and shown["type_label"] == "卡口"
    assert policy().dwell("checkpoint") == 10
    # AND an official may not register a shop, nor a checkpoint under a person's ID card
    shop = moto_stack.call("POST", "/v1/venues", as_=OFFICIAL, json_body=venue_body("520000"))
    assert (shop.status, shop.error_code) == (403, "forbidden_role")
    by_id = checkpoint_body(credential_type="id_number", credential_number=new_id_number())
    answer = moto_stack.call("POST", "/v1/venues", as_=OFFICIAL, json_body=by_id)
    assert (answer.status, answer.error_code) == (422, "credential_type_mismatch")


def test_a_scanner_the_official_assigns_verifies_at_the_checkpoint(moto_stack: InProcessStack) -> None:
    checkpoint = moto_stack.call("POST", "/v1/venues", as_=OFFICIAL, json_body=checkpoint_body()).json()
    sub = fresh_sub()
    person = make_person()
    body = {"code": code_for(person), "checkpoint_id": checkpoint["venue_id"]}
    before = moto_stack.call("POST", "/v1/verifications", as_=(sub, ["scanner"]), json_body=body)
    assert (before.status, before.error_code) == (403, "not_assigned")
    assert put(moto_stack, checkpoint["venue_id"], sub, as_=OFFICIAL).status == 200
    after = moto_stack.call("POST", "/v1/verifications", as_=(sub, ["scanner"]), json_body=body)
    assert after.status == 200, after.body


# -- verifications only where assigned --------------------------------------------------------------


def test_an_unassigned_scanner_verifies_nothing_and_writes_nothing(moto_stack: InProcessStack) -> None:
    venue, person = make_venue(staffed_by=()), make_person()
    key = str(uuid.uuid4())
    answer = verify(moto_stack, code_for(person), venue, temperature=38.5, key=key)
    assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (
        403,
        "not_assigned",
        "checkpoint_id",
    )
    assert scans_of(person.person_id) == []
    assert idempotency.recall(SCANNER[0], key) is None


def test_an_assignment_to_a_complex_covers_its_doors_but_a_door_covers_nothing_else(
    moto_stack: InProcessStack,
) -> None:
    complex_root = make_venue(staffed_by=())
    door, other_door = (make_venue(staffed_by=(), parent=complex_root) for _ in range(2))
    at_root, at_door = fresh_sub(), fresh_sub()
    assign(complex_root.venue_id, at_root)
    assign(door.venue_id, at_door)
    person = make_person()
    # the complex's staff act at every door and at the complex itself
    for place in (door, other_door, complex_root):
        assert verify(moto_stack, code_for(person), place, as_=(at_root, ["scanner"])).status == 200
    # a door's staff act at their door only
    assert verify(moto_stack, code_for(person), door, as_=(at_door, ["scanner"])).status == 200
    for place in (other_door, complex_root):
        answer = verify(moto_stack, code_for(person), place, as_=(at_door, ["scanner"]))
        assert (answer.status, answer.error_code) == (403, "not_assigned")


def test_a_removed_scanner_is_refused_at_once(moto_stack: InProcessStack) -> None:
    venue, person = make_venue(staffed_by=()), make_person()
    sub = fresh_sub()
    assign(venue.venue_id, sub)
    assert verify(moto_stack, code_for(person), venue, as_=(sub, ["scanner"])).status == 200
    staff.remove(venue.venue_id, sub, by="manager-1", now=clock.now())
    answer = verify(moto_stack, code_for(person), venue, as_=(sub, ["scanner"]))
    assert (answer.status, answer.error_code) == (403, "not_assigned")
    assert len(scans_of(person.person_id)) == 1


def test_an_assigned_account_without_the_scanner_role_is_refused(moto_stack: InProcessStack) -> None:
    venue, person = make_venue(staffed_by=()), make_person()
    sub = fresh_sub("citizen")
    assign(venue.venue_id, sub)
    answer = verify(moto_stack, code_for(person), venue, as_=(sub, ["citizen"]))
    assert (answer.status, answer.error_code) == (403, "forbidden_role")
    assert scans_of(person.person_id) == []


def test_a_directly_assigned_scanner_still_costs_two_calls_and_a_complex_one_more(
    moto_stack: InProcessStack,
) -> None:
    root = make_venue(staffed_by=())
    door = make_venue(parent=root)  # scanner-1 assigned to the door itself
    through_root = fresh_sub()
    assign(root.venue_id, through_root)
    person = make_person()
    with dynamodb_calls() as log:
        assert verify(moto_stack, code_for(person), door).status == 200
        direct = list(log.calls)
        log.clear()
        assert verify(moto_stack, code_for(person), door, as_=(through_root, ["scanner"])).status == 200
        via_complex = list(log.calls)
    assert direct == ["BatchGetItem", "PutItem"]
    assert via_complex == ["BatchGetItem", "GetItem", "PutItem"]


# -- manual registrations ---------------------------------------------------------------------------


def register(
    stack: InProcessStack,
    body: dict[str, Any],
    *,
    as_: tuple[str, list[str]] = SCANNER,
    key: str | None = None,
) -> Any:
    headers = {"Idempotency-Key": key} if key else None
    return stack.call("POST", "/v1/manual-registrations", as_=as_, json_body=body, headers=headers)


def form(checkpoint_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "王小明",
        "id_number": new_id_number(),
        "temperature": 36.6,
        "checkpoint_id": checkpoint_id,
    }
    body.update(changes)
    return body


def test_an_unassigned_scanner_registers_nobody(moto_stack: InProcessStack) -> None:
    venue = make_venue(staffed_by=())
    body = form(venue.venue_id)
    answer = register(moto_stack, body, key=str(uuid.uuid4()))
    assert (answer.status, answer.error_code) == (403, "not_assigned")
    assert persons.holder_of(body["id_number"]) is None


def test_another_name_for_a_known_id_number_writes_nothing(moto_stack: InProcessStack) -> None:
    # GIVEN 张三 registered with an ID number, and a checkpoint
    venue, number = make_venue(), new_id_number()
    known = make_person(RiskLevel.RED, number=number)
    before = persons.get(known.person_id, consistent=True)
    # WHEN staff register that ID number under another name (with a fever, and a key)
    key = str(uuid.uuid4())
    answer = register(
        moto_stack, form(venue.venue_id, name="李四", id_number=number, temperature=38.6), key=key
    )
    # THEN 409 identity_mismatch naming the name, and nothing is written: no scan, no fact,
    # no change to the person, no audit entry, no idempotency record
    assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (
        409,
        "identity_mismatch",
        "name",
    )
    assert "张" not in answer.body.decode() and known.person_id not in answer.body.decode()
    assert scans_of(known.person_id) == []
    assert persons.get(known.person_id, consistent=True) == before
    assert list(audit.entries(audit.person_subject(known.person_id))) == []
    assert not [fact for fact in Fact.query(known.person_id) if fact.kind == "fever"]
    assert idempotency.recall(SCANNER[0], key) is None
    retried = register(
        moto_stack, form(venue.venue_id, name="张三", id_number=number, temperature=38.6), key=key
    )
    assert retried.status == 201  # the key was not used up by the refused attempt


@pytest.mark.parametrize("typed", ["张三", " 张三 ", "ＺＨＡＮＧ  san", "zhang SAN", "Zhang San"])
def test_the_same_name_is_compared_on_normalised_text(moto_stack: InProcessStack, typed: str) -> None:
    venue, number = make_venue(), new_id_number()
    stored = "张三" if "张" in typed else "Zhang San"
    from dataclasses import replace

    person = persons.build(
        owner_sub=f"citizen-{uuid.uuid4().hex[:6]}",
        dependant=False,
        name=stored,
        id_number=number,
        phone=None,
        address=None,
        region_code="520102",
        birth_year=1985,
        now=clock.now(),
    )
    persons.create(replace(person, colour_as_of=clock.now()))
    answer = register(moto_stack, form(venue.venue_id, name=typed, id_number=number))
    assert answer.status == 201, answer.body


def test_the_answer_never_carries_the_person_id_and_phone_is_optional(moto_stack: InProcessStack) -> None:
    venue = make_venue()
    body = form(venue.venue_id)
    answer = register(moto_stack, body)
    assert answer.status == 201, answer.body
    person = persons.holder_of(body["id_number"])
    assert person is not None and person.phone_enc is None
    assert "person_id" not in answer.json() and person.person_id not in answer.body.decode()
    # the scan names the scanner and the checkpoint (fever facts derived from it name them)
    (scan,) = scans_of(person.person_id)
    assert (scan.actor, scan.venue_id, scan.kind) == (SCANNER[0], venue.venue_id, "manual")
    for bad, code in (("12345", "invalid_phone"), ("", "invalid_phone"), (13800000000, "invalid_phone")):
        refused = register(moto_stack, form(venue.venue_id, phone=bad))
        assert (refused.status, refused.error_code) == (422, code), (bad, refused.body)


def decode_qr(png: bytes) -> str:
    image = Image.open(io.BytesIO(png))
    found = zxingcpp.read_barcodes(
        image.convert("L"), formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    assert len(found) == 1
    return str(found[0].text)


def test_a_registration_may_print_the_persons_paper_code(moto_stack: InProcessStack) -> None:
    venue = make_venue("farmers_market")
    body = form(venue.venue_id, issue_paper_code=True)
    answer = register(moto_stack, body)
    assert answer.status == 201, answer.body
    paper = answer.json()["paper_code"]
    assert set(paper) == {"token", "expires_at", "png_base64"}
    person = persons.holder_of(body["id_number"])
    assert person is not None and person.paper_code_id is not None
    # the token is a paper code of that person, and the PNG's QR reads back as the token
    verified = keystore.verify(paper["token"], kinds=("paper",))
    assert verified.subject == person.person_id
    assert decode_qr(base64.b64decode(paper["png_base64"])) == paper["token"]
    # the issue is audited naming the staff account and the checkpoint
    (issued,) = audit.entries(audit.person_subject(person.person_id), kinds=frozenset({"paper_code_issued"}))
    assert issued.actor == SCANNER[0] and issued.details["checkpoint_id"] == venue.venue_id
    # and the paper code verifies at the checkpoint
    again = verify(moto_stack, paper["token"], venue)
    assert again.status == 200, again.body
    # without the flag there is no paper code
    assert "paper_code" not in register(moto_stack, form(venue.venue_id)).json()
    refused = register(moto_stack, form(venue.venue_id, issue_paper_code="yes"))
    assert (refused.status, refused.error_code) == (422, "invalid_type")
