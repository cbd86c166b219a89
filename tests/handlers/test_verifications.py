"""POST /v1/verifications on moto: verdicts per palette, the current colour over the code's,
every class of forged code, expiry on the moved clock, paper codes, idempotent retries, the
stored scan record (with its TTL), and the DynamoDB calls a verification costs."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from healthcode import clock
from healthcode.codes import keystore
from healthcode.codes.tokens import person_claim
from healthcode.rules.policy import RiskLevel
from healthcode.storage import scans
from healthcode.storage.models import Person, Scan

from tests.handlers.checkpoint_support import (  # noqa: F401 - fixtures
    SCANNER,
    b64,
    code_for,
    dynamodb_calls,
    make_person,
    make_venue,
    module_stack,
    paper_code_for,
    per_test_stack,
    turn_red,
    verify,
)
from tests.handlers.harness import InProcessStack

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def stored_scans(person_id: str) -> list[Scan]:
    return list(scans.of_person(person_id, EPOCH, clock.now() + timedelta(days=1)))


# -- verdicts --------------------------------------------------------------------------------------


def test_a_green_person_passes_and_the_scan_is_stored_with_what_fujian_lists(
    moto_stack: InProcessStack,
) -> None:
    # GIVEN a green person's fresh code at a mall checkpoint
    venue, person = make_venue("mall"), make_person(RiskLevel.GREEN)
    # WHEN a scanner verifies it with a normal temperature
    answer = verify(moto_stack, code_for(person), venue, temperature=36.4)
    # THEN it passes, and the scanner sees only the masked identity
    assert answer.status == 200, answer.body
    body = answer.json()
    assert body["verdict"] == "pass" and body["colour"] == "green" and body["risk_level"] == 0
    assert body["abnormal"] is False
    assert body["person"] == {"name_masked": "张*", "id_masked": person.id_masked}
    assert "id_number" not in answer.body.decode() and "张三" not in answer.body.decode()
    # AND one scan holds person, masked identity, type, checkpoint, scanner, time, colour,
    # temperature and verdict, with a TTL of RetentionDays (28) after the scan
    (scan,) = stored_scans(person.person_id)
    assert scan.at_scan.endswith(f"#{body['scan_id']}")
    assert (scan.venue_id, scan.kind, scan.presented, scan.actor) == (
        venue.venue_id,
        "verification",
        "code",
        "scanner-1",
    )
    assert (scan.colour, scan.level, scan.verdict, scan.abnormal) == ("green", 0, "pass", False)
    assert scan.temperature == 36.4
    assert (scan.name_masked, scan.id_masked) == ("张*", person.id_masked)
    scanned_at = clock.parse_instant(body["scanned_at"])
    assert scan.expires_ttl == int((scanned_at + timedelta(days=28)).timestamp())


@pytest.mark.parametrize(
    ("level", "colour", "verdict"),
    [
        (RiskLevel.GREEN, "green", "pass"),
        (RiskLevel.YELLOW, "yellow", "dissuade"),
        (RiskLevel.RED, "red", "isolate"),
    ],
)
def test_guizhou_verdict_per_colour(
    moto_stack: InProcessStack, level: RiskLevel, colour: str, verdict: str
) -> None:
    # GIVEN a Guizhou person whose current colour is ``colour``
    venue, person = make_venue(), make_person(level)
    # WHEN verified THEN the Guizhou policy's verdict, abnormal unless green
    body = verify(moto_stack, code_for(person), venue, temperature=36.6).json()
    assert (body["colour"], body["risk_level"], body["verdict"]) == (colour, int(level), verdict)
    assert body["abnormal"] is (level != RiskLevel.GREEN)


@pytest.mark.parametrize(
    ("level", "verdict"),
    [(RiskLevel.GREEN, "pass"), (RiskLevel.YELLOW, "register"), (RiskLevel.RED, "register")],
)
def test_fujian_orange_is_registered(
    moto_stack: InProcessStack, province: Any, level: RiskLevel, verdict: str
) -> None:
    # GIVEN the Fujian stack (green / orange palette) and a person at ``level``
    province("350000")
    venue, person = make_venue(), make_person(level)
    # WHEN verified THEN orange (levels 1 and 2) means "register", green passes
    body = verify(moto_stack, code_for(person), venue).json()
    assert body["colour"] == ("green" if level == RiskLevel.GREEN else "orange")
    assert body["risk_level"] == int(level)
    assert body["verdict"] == verdict


@pytest.mark.parametrize(("code", "verdict"), [("520000", "dissuade"), ("350000", "register")])
def test_a_fever_never_passes_a_green_person(
    moto_stack: InProcessStack, province: Any, code: str, verdict: str
) -> None:
    province(code)
    venue, person = make_venue(), make_person(RiskLevel.GREEN)
    # WHEN a green person measures 37.3 °C (the threshold) THEN the fever verdict, abnormal
    body = verify(moto_stack, code_for(person), venue, temperature=37.3).json()
    assert (body["verdict"], body["colour"], body["abnormal"], body["fever"]) == (
        verdict,
        "green",
        True,
        True,
    )


def test_a_code_signed_while_green_does_not_pass_a_person_who_turned_red(moto_stack: InProcessStack) -> None:
    # GIVEN a code signed while the person was green
    venue, person = make_venue(), make_person(RiskLevel.GREEN)
    code = code_for(person)
    # WHEN the person is confirmed as a case before the code expires
    turn_red(person)
    # THEN the still-valid code gets the red verdict
    body = verify(moto_stack, code, venue).json()
    assert (body["colour"], body["verdict"], body["abnormal"]) == ("red", "isolate", True)


def test_a_stored_colour_past_its_next_change_is_decided_again(moto_stack: InProcessStack) -> None:
    # GIVEN a person stored as red until an instant that has passed (no facts hold it any more)
    venue, person = make_venue(), make_person(RiskLevel.RED)
    stored = Person.get(person.person_id, consistent_read=True)
    stored.next_change_at = "2000-01-01T00:00:00.000000Z"
    stored.save()
    # WHEN verified THEN the colour is decided from the facts now: green
    assert verify(moto_stack, code_for(person), venue).json()["verdict"] == "pass"


# -- forged, tampered, stale ----------------------------------------------------------------------


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _header(token: str) -> dict[str, Any]:
    return dict(jwt.get_unverified_header(token))


def _attacker_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def forged_codes(genuine: str, other_person_id: str, venue_code: str) -> dict[str, str]:
    header, payload, signature = genuine.split(".")
    claims, head = _claims(genuine), _header(genuine)
    attacker = _attacker_key()
    public_pem = keystore.keyset().find(head["kid"])
    assert public_pem is not None
    pem = (
        public_pem.private_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    hs_head = b64({**head, "alg": "HS256"})
    hs_signing_input = f"{hs_head}.{payload}".encode()
    hs_signature = b64(hmac.new(pem, hs_signing_input, hashlib.sha256).digest())
    attacker_jwk = jwt.algorithms.ECAlgorithm.to_jwk(attacker.public_key(), as_dict=True)
    return {
        "tampered subject": f"{header}.{b64({**claims, 'sub': person_claim(other_person_id)})}.{signature}",
        "tampered expiry": f"{header}.{b64({**claims, 'exp': claims['exp'] + 86400})}.{signature}",
        "alg none": f"{b64({**head, 'alg': 'none'})}.{payload}.",
        "alg none with signature": f"{b64({**head, 'alg': 'none'})}.{payload}.{signature}",
        "alg HS256 keyed with the public key": f"{hs_head}.{payload}.{hs_signature}",
        "signed by another key under the stack's kid": jwt.encode(
            claims, attacker, algorithm="ES256", headers=head
        ),
        "signed by another key, unknown kid": jwt.encode(
            claims, attacker, algorithm="ES256", headers={**head, "kid": "520000cdead0"}
        ),
        "key supplied in the header (jwk)": jwt.encode(
            claims, attacker, algorithm="ES256", headers={**head, "jwk": attacker_jwk}
        ),
        "key URL in the header (jku)": jwt.encode(
            claims, attacker, algorithm="ES256", headers={**head, "jku": "https://evil.example/jwks.json"}
        ),
        "venue code": venue_code,
        "garbage": "this is not a health code at all",
        "three dots of garbage": "aaaaaaaa.bbbbbbbb.cccccccc",
        "truncated": genuine[: len(genuine) // 2],
        "signature cut": f"{header}.{payload}.",
        "empty json parts": f"{b64(b'{}')}.{b64(b'{}')}.{signature}",
    }


def test_every_class_of_forged_code_is_refused_and_stores_nothing(moto_stack: InProcessStack) -> None:
    # GIVEN a genuine code of one person, another person, and a venue code
    venue, person, other = make_venue(), make_person(RiskLevel.RED), make_person(RiskLevel.GREEN)
    venue_code, _ = keystore.sign("venue", subject=venue.venue_id, claims={}, lifetime=timedelta(days=365))
    cases = forged_codes(code_for(person), other.person_id, venue_code)
    for name, forged in cases.items():
        # WHEN each forgery is presented THEN 422 invalid_code on the code field
        answer = verify(moto_stack, forged, venue)
        assert answer.status == 422, (name, answer.body)
        assert answer.error_code == "invalid_code", (name, answer.body)
        assert answer.json()["error"]["field"] == "code", name
    # AND nothing was stored for either person
    assert stored_scans(person.person_id) == [] and stored_scans(other.person_id) == []


def test_a_code_of_a_person_that_does_not_exist_is_refused(moto_stack: InProcessStack) -> None:
    venue = make_venue()
    token, _ = keystore.sign_personal(
        f"p-{uuid.uuid4().hex}", level=0, colour="green", lifetime=timedelta(minutes=5)
    )
    assert verify(moto_stack, token, venue).error_code == "invalid_code"


def test_a_stale_code_is_refused_as_expired_on_the_moved_clock(moto_stack: InProcessStack) -> None:
    # GIVEN a code valid for 300 s
    venue, person = make_venue(), make_person(RiskLevel.GREEN)
    code = code_for(person, lifetime=timedelta(seconds=300))
    # WHEN the stack clock moves 299 s THEN still valid
    clock.advance(299)
    assert verify(moto_stack, code, venue).status == 200
    # WHEN it moves past the expiry THEN 422 code_expired, and no scan is added
    clock.advance(2)
    answer = verify(moto_stack, code, venue)
    assert (answer.status, answer.error_code) == (422, "code_expired")
    assert len(stored_scans(person.person_id)) == 1


# -- paper codes ------------------------------------------------------------------------------------


def test_a_paper_code_verifies_for_the_current_colour(moto_stack: InProcessStack) -> None:
    # GIVEN a paper code (people without phones) issued while green; the person later turns red
    venue, person = make_venue(), make_person(RiskLevel.GREEN)
    paper = paper_code_for(person)
    assert verify(moto_stack, paper, venue).json()["verdict"] == "pass"
    turn_red(person)
    # WHEN verified again THEN the current colour decides, and the scan says a paper code was shown
    body = verify(moto_stack, paper, venue).json()
    assert body["verdict"] == "isolate"
    assert {scan.presented for scan in stored_scans(person.person_id)} == {"paper"}


def test_a_replaced_paper_code_is_refused(moto_stack: InProcessStack) -> None:
    # GIVEN a paper code re-issued (the first one lost)
    venue, person = make_venue(), make_person(RiskLevel.GREEN)
    lost = paper_code_for(person)
    current = paper_code_for(person)
    # THEN the old one is refused and the new one passes
    assert verify(moto_stack, lost, venue).error_code == "invalid_code"
    assert verify(moto_stack, current, venue).json()["verdict"] == "pass"


# -- requests ------------------------------------------------------------------------------------


def test_an_unknown_checkpoint_is_not_found(moto_stack: InProcessStack) -> None:
    person = make_person()
    answer = moto_stack.call(
        "POST",
        "/v1/verifications",
        as_=SCANNER,
        json_body={"code": code_for(person), "checkpoint_id": "v-nowhere"},
    )
    assert (answer.status, answer.error_code, answer.json()["error"]["field"]) == (
        404,
        "not_found",
        "checkpoint_id",
    )


def test_only_checkpoint_staff_verify(moto_stack: InProcessStack) -> None:
    venue, person = make_venue(), make_person()
    answer = verify(moto_stack, code_for(person), venue, as_=("citizen-1", ["citizen"]))
    assert (answer.status, answer.error_code) == (403, "forbidden_role")


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"checkpoint_id": "v-1"}, "code", "missing_field"),
        ({"code": "x" * 40}, "checkpoint_id", "missing_field"),
        ({"code": 12345, "checkpoint_id": "v-1"}, "code", "invalid_code"),
        ({"code": "x" * 40, "checkpoint_id": ["v-1"]}, "checkpoint_id", "invalid_input"),
        (
            {"code": "x" * 40, "checkpoint_id": "v-1", "temperature": "36.5"},
            "temperature",
            "invalid_temperature",
        ),
        ({"code": "x" * 40, "checkpoint_id": "v-1", "temperature": 60}, "temperature", "invalid_temperature"),
        (
            {"code": "x" * 40, "checkpoint_id": "v-1", "temperature": True},
            "temperature",
            "invalid_temperature",
        ),
        ({"code": "x" * 40, "checkpoint_id": "v-1", "colour": "green"}, "colour", "unknown_field"),
    ],
)
def test_bad_bodies_name_their_field(
    moto_stack: InProcessStack, body: dict[str, Any], field: str, code: str
) -> None:
    answer = moto_stack.call("POST", "/v1/verifications", as_=SCANNER, json_body=body)
    assert answer.status == 422, answer.body
    assert (answer.error_code, answer.json()["error"]["field"]) == (code, field)


def test_a_body_that_is_not_json_is_a_bad_request(moto_stack: InProcessStack) -> None:
    answer = moto_stack.call("POST", "/v1/verifications", as_=SCANNER, raw_body=b'{"code": NaN')
    assert (answer.status, answer.error_code) == (400, "invalid_json")


# -- idempotency -----------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_returns_the_first_answer_and_stores_one_scan(
    moto_stack: InProcessStack,
) -> None:
    # GIVEN a verification sent with an Idempotency-Key
    venue, person = make_venue(), make_person(RiskLevel.GREEN)
    code, key = code_for(person), str(uuid.uuid4())
    first = verify(moto_stack, code, venue, temperature=36.5, key=key)
    # WHEN it is retried (even after the person turned red and the code expired)
    turn_red(person)
    clock.advance(600)
    again = verify(moto_stack, code, venue, temperature=36.5, key=key)
    # THEN the same answer, and one scan record
    assert (first.status, again.status) == (200, 200)
    assert again.json() == first.json()
    assert len(stored_scans(person.person_id)) == 1


def test_a_key_is_per_scanner_and_a_new_key_is_a_new_scan(moto_stack: InProcessStack) -> None:
    venue, person = make_venue(staffed_by=("scanner-1", "scanner-2")), make_person()
    code, key = code_for(person), "retry-1"
    one = verify(moto_stack, code, venue, key=key).json()
    other_scanner = verify(moto_stack, code, venue, key=key, as_=("scanner-2", ["scanner"])).json()
    new_key = verify(moto_stack, code, venue, key="retry-2").json()
    assert len({one["scan_id"], other_scanner["scan_id"], new_key["scan_id"]}) == 3
    assert len(stored_scans(person.person_id)) == 3


def test_a_key_reused_for_another_request_is_refused(moto_stack: InProcessStack) -> None:
    venue, person = make_venue(), make_person()
    code = code_for(person)
    assert verify(moto_stack, code, venue, temperature=36.5, key="k-1").status == 200
    answer = verify(moto_stack, code, venue, temperature=38.5, key="k-1")
    assert (answer.status, answer.error_code) == (422, "idempotency_key_reused")
    assert len(stored_scans(person.person_id)) == 1


def test_a_malformed_key_is_refused(moto_stack: InProcessStack) -> None:
    venue, person = make_venue(), make_person()
    answer = verify(moto_stack, code_for(person), venue, key="x" * 300)
    assert (answer.status, answer.error_code) == (422, "invalid_idempotency_key")


# -- cost ------------------------------------------------------------------------------------------


def test_a_verification_is_two_dynamodb_calls(moto_stack: InProcessStack) -> None:
    # GIVEN a warm function (keys and clients loaded) and a person whose stored colour holds
    venue, person = make_venue(), make_person()
    verify(moto_stack, code_for(make_person()), venue)
    code = code_for(person)
    # WHEN one verification runs, without and with an Idempotency-Key
    with dynamodb_calls() as log:
        assert verify(moto_stack, code, venue).status == 200
        plain = list(log.calls)
        log.clear()
        assert verify(moto_stack, code, venue, key=str(uuid.uuid4())).status == 200
        keyed = list(log.calls)
    # THEN one BatchGetItem (person + venue [+ first answer]) and one write
    assert plain == ["BatchGetItem", "PutItem"]
    assert keyed == ["BatchGetItem", "TransactWriteItems"]
