"""``make run ENGINE=dynamodb-local``: the local stack with DynamoDB and its streams on DynamoDB
Local, moto keeping the other services. A family checks in and, once the streams are drained,
the venue's counters (written by a stream consumer) show the visits."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest

from infra.local.engine import EngineNotInstalled, find_jar
from tests.e2e.stack import Stack, running_stack
from tests.e2e.test_checkins import account, apply, check_in, register


@pytest.fixture(scope="module")
def on_dynamodb_local() -> Iterator[Stack]:
    if find_jar() is None:
        missing = EngineNotInstalled("DynamoDB Local is not installed: run `make dynamodb-local`")
        if os.environ.get("DYNAMODB_LOCAL_REQUIRED") or os.environ.get("CI"):
            pytest.fail(str(missing))
        pytest.skip(str(missing))
    with running_stack("520000", extra=["--engine", "dynamodb-local"]) as started:
        yield started


def test_the_stack_names_its_engine_and_keeps_dynamodb_off_moto(on_dynamodb_local: Stack) -> None:
    info = on_dynamodb_local.info
    assert info["engine"] == "dynamodb-local"
    assert info["dynamodb_endpoint"] != info["moto_endpoint"]
    on_engine = set(on_dynamodb_local.aws("dynamodb").list_tables()["TableNames"])
    assert set(info["tables"].values()) <= on_engine
    on_moto = boto3.client(
        "dynamodb",
        endpoint_url=info["moto_endpoint"],
        region_name=info["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    ).list_tables()["TableNames"]
    assert not set(info["tables"].values()) & set(on_moto)


def test_a_family_checks_in_and_the_counters_consumer_counts_it(on_dynamodb_local: Stack) -> None:
    stack = on_dynamodb_local
    manager, parent = account("venue_manager"), account("citizen")
    venue = register(stack, manager, "永辉超市(引擎店)")
    adult = apply(stack, parent, born="19800101", symptoms=[])
    child = apply(stack, parent, born="20150101", symptoms=[], dependant=True)
    answer = check_in(stack, parent, venue["code"], adult, [child])
    assert answer.status_code == 201, answer.text
    stack.drain()
    stats = stack.call("GET", f"/v1/venues/{venue['venue_id']}/stats", as_=manager).json()
    assert (stats["scans"], stats["by_colour"]) == (2, {"green": 2})
    pump = stack.call("GET", "/_local/info").json()["pump"]
    assert pump["records_delivered"] > 0
    assert pump["sent_to_dlq"] == 0
