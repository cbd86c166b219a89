"""A case's lifecycle (healthcode.rules.cases.check_status_change): which changes apply at once,
which wait for a second official, and the 409 that names why any other is refused."""

from __future__ import annotations

import pytest
from healthcode.errors import Conflict, InvalidInput
from healthcode.rules.cases import CaseStatus, check_status_body, check_status_change

S, A, C, R, E = (
    CaseStatus.SUSPECTED,
    CaseStatus.ASYMPTOMATIC,
    CaseStatus.CONFIRMED,
    CaseStatus.RECOVERED,
    CaseStatus.EXCLUDED,
)

#: (from, to) → "upgrade", "release" or the 409 code; written out for every pair.
TABLE: dict[tuple[CaseStatus, CaseStatus], str] = {
    (S, S): "status_unchanged",
    (S, A): "upgrade",
    (S, C): "upgrade",
    (S, R): "invalid_status_change",  # a suspected case is excluded or confirmed, not recovered
    (S, E): "release",
    (A, S): "invalid_status_change",
    (A, A): "status_unchanged",
    (A, C): "upgrade",
    (A, R): "release",
    (A, E): "release",
    (C, S): "invalid_status_change",
    (C, A): "invalid_status_change",
    (C, C): "status_unchanged",
    (C, R): "release",
    (C, E): "release",
    **{(R, to): "case_closed" for to in (S, A, C, E)},
    **{(E, to): "case_closed" for to in (S, A, C, R)},
    (R, R): "status_unchanged",
    (E, E): "status_unchanged",
}


def test_the_table_names_every_pair() -> None:
    assert set(TABLE) == {(a, b) for a in CaseStatus for b in CaseStatus}


@pytest.mark.parametrize(("current", "wanted"), sorted(TABLE))
def test_each_change_is_what_the_lifecycle_says(current: CaseStatus, wanted: CaseStatus) -> None:
    expected = TABLE[(current, wanted)]
    if expected in ("upgrade", "release"):
        assert check_status_change(current, wanted) == expected
        return
    with pytest.raises(Conflict) as refused:
        check_status_change(current, wanted)
    assert (refused.value.code, refused.value.field) == (expected, "status")


@pytest.mark.parametrize("body", [{"status": "cured"}, {"status": None}, {}, {"status": 3}])
def test_an_unknown_status_is_refused(body: dict[str, object]) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_status_body(body)
    assert refused.value.code == "invalid_status"


def test_a_known_status_is_read() -> None:
    assert check_status_body({"status": "recovered"}) is CaseStatus.RECOVERED
