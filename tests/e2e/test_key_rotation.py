"""``make rotate-keys`` rehearsed on a local stack of its own, along the whole timeline of
docs/runbooks/key-rotation.md on the stack clock: published at once, signing 10 minutes later,
the old key published until its longest-lived code has expired."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import jwt
import pytest
from healthcode.codes import keystore
from healthcode.rules import idcard

from infra.ops import rotate_keys
from tests.e2e.stack import Stack, running_stack


@pytest.fixture
def stack() -> Iterator[Stack]:
    """A Guizhou stack for each test: they rotate keys and move the clock a year ahead, and each
    expects the key set a new stack starts with (in whatever order they run)."""
    with running_stack("520000") as started:
        yield started


def published(stack: Stack) -> dict[str, set[str]]:
    keys = stack.call("GET", "/.well-known/jwks.json").json()["keys"]
    found: dict[str, set[str]] = {"code": set(), "paper": set(), "venue": set()}
    for key in keys:
        found[key["hc_use"]].add(key["kid"])
    return found


def code_kid(stack: Stack, citizen: tuple[str, list[str]], person_id: str) -> str:
    answer = stack.call("GET", f"/v1/codes/{person_id}", as_=citizen)
    assert answer.status_code == 200, answer.text
    return str(jwt.get_unverified_header(answer.json()["token"])["kid"])


def test_a_rotation_follows_the_runbooks_timeline(stack: Stack) -> None:
    # GIVEN a citizen with a code, signed by the stack's first code key
    citizen = (f"citizen-{uuid.uuid4().hex[:8]}", ["citizen"])
    first17 = f"52010219900307{uuid.uuid4().int % 1000:03d}"
    applied = stack.call(
        "POST",
        "/v1/codes",
        as_=citizen,
        json={
            "name": "李四",
            "id_number": first17 + idcard.check_character(first17),
            "phone": "13900000000",
            "address": "贵州省贵阳市南明区中华南路3号",
            "region_code": "520102",
            "declaration": {"symptoms": [], "temperature": 36.4, "travel": [], "contact_with_case": False},
        },
    )
    assert applied.status_code == 201, applied.text
    person_id = applied.json()["person_id"]
    before = published(stack)
    (old,) = before["code"]
    assert code_kid(stack, citizen, person_id) == old

    # WHEN ops rotate the code keys (the command `make rotate-keys LOCAL=<url>` runs)
    rotation = rotate_keys.rotate_local(stack.url, "code")

    # THEN the new key is published at once, beside the old one, and the venue key is untouched
    after = published(stack)
    assert after["code"] == {old, rotation.new_kid} and after["venue"] == before["venue"]
    assert rotation.active == [k for k in rotation.kids if k != old]
    # AND codes are still signed by the old key until the activation delay has passed
    delay = int(keystore.ACTIVATION_DELAY.total_seconds())
    stack.clock(advance_seconds=delay - 60)
    assert code_kid(stack, citizen, person_id) == old
    # AND then by the new one, while the old key stays published for what it signed
    stack.clock(advance_seconds=2 * 60)
    assert code_kid(stack, citizen, person_id) == rotation.new_kid
    assert old in published(stack)["code"]
    # AND the longest a personal code lives (an hour and a minute) after the old key retired, it
    # is no longer published: a leaked code key is powerless within the hour (paper keys, which
    # sign year-long codes, keep their year)
    stack.clock(advance_seconds=55 * 60)
    assert old in published(stack)["code"]
    stack.clock(advance_seconds=10 * 60)
    assert published(stack)["code"] == {rotation.new_kid}
    assert published(stack)["venue"] == before["venue"]  # venue keys live 3650 days


def test_the_command_rotates_venue_keys_on_a_local_stack(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    before = published(stack)["venue"]
    assert rotate_keys.main(["--local", stack.url, "--use", "venue", "--verify"]) == 0
    out = capsys.readouterr().out
    after = published(stack)["venue"]
    (new,) = after - before
    assert before < after and f"new key {new}" in out and "publishes" in out
