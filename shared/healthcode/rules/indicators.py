"""The arithmetic of the assessment indicators (docs/indicators.md): shares, exact nearest-rank
percentiles over a histogram of whole seconds, what makes a scan record complete, and how many
whole seconds a colour change took.

Pure: the counters these work on are kept by storage (``healthcode.storage.registers``).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

#: Kinds of scan recorded at a checkpoint, where a temperature belongs to a complete record.
CHECKPOINT_KINDS = frozenset({"verification", "manual"})


def share(part: int, whole: int) -> float | None:
    """``part / whole``; None when there is nothing to divide by."""
    if whole <= 0:
        return None
    return part / whole


def nearest_rank(histogram: Mapping[int, int], percent: int) -> int | None:
    """The ``percent``-th percentile by the nearest-rank method of a sample given as
    ``{value: how many}``: the smallest value whose cumulative count reaches
    ``ceil(percent / 100 * n)`` (at least 1). None for an empty sample."""
    if not 0 < percent <= 100:
        raise ValueError("a percentile is above 0 and at most 100")
    total = sum(count for count in histogram.values() if count > 0)
    if total == 0:
        return None
    rank = max(1, -(-percent * total // 100))
    seen = 0
    for value in sorted(histogram):
        count = histogram[value]
        if count <= 0:
            continue
        seen += count
        if seen >= rank:
            return value
    raise AssertionError("unreachable: the ranks add up to the total")


@dataclass(frozen=True)
class Timeliness:
    """Colour changes and how long each took, from a histogram of whole seconds."""

    count: int
    p50_seconds: int | None
    p95_seconds: int | None
    max_seconds: int | None
    #: ``(up_to_seconds, count)`` per bucket of DISTRIBUTION_BUCKETS, the last bucket's bound
    #: None (everything slower): the shape of the delays, for a chart.
    distribution: tuple[tuple[int | None, int], ...] = ()


#: Upper bounds (inclusive, whole seconds) of the distribution's buckets: under a minute in
#: steps a reader can act on, then the hours a province's assessment looks at (≤ 1 h, ≤ 24 h).
DISTRIBUTION_BUCKETS = (10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 43200, 86400)


def distribution(histogram: Mapping[int, int]) -> tuple[tuple[int | None, int], ...]:
    """The histogram folded into DISTRIBUTION_BUCKETS and one open bucket beyond the last."""
    counts = [0] * (len(DISTRIBUTION_BUCKETS) + 1)
    for value, count in histogram.items():
        counts[bisect.bisect_left(DISTRIBUTION_BUCKETS, value)] += count
    bounds: tuple[int | None, ...] = (*DISTRIBUTION_BUCKETS, None)
    return tuple(zip(bounds, counts, strict=True))


def timeliness(histogram: Mapping[int, int]) -> Timeliness:
    """Count, exact nearest-rank p50 and p95, maximum and the bucketed distribution of a
    histogram of whole seconds."""
    present = {value: count for value, count in histogram.items() if count > 0}
    return Timeliness(
        count=sum(present.values()),
        p50_seconds=nearest_rank(present, 50),
        p95_seconds=nearest_rank(present, 95),
        max_seconds=max(present) if present else None,
        distribution=distribution(present),
    )


def merged(histograms: Iterable[Mapping[int, int]]) -> dict[int, int]:
    """The sum of several histograms."""
    total: dict[int, int] = {}
    for histogram in histograms:
        for value, count in histogram.items():
            total[value] = total.get(value, 0) + count
    return total


def seconds_between(learned: datetime, written: datetime) -> int:
    """Whole seconds from a fact being learned to the colour being written: both instants taken
    to the whole second, as the API shows them, then subtracted (so the figure can be checked
    against the times shown); a clock step that puts the write before the learning counts 0."""
    return max(0, math.floor(written.timestamp()) - math.floor(learned.timestamp()))


def record_complete(
    kind: str,
    *,
    name_masked: str | None,
    id_masked: str | None,
    colour: str | None,
    temperature: float | None,
) -> bool:
    """Whether a scan record has every field its kind should carry: the person's masked name and
    ID number and the colour shown; at a checkpoint (verification, manual registration) also the
    temperature taken."""
    if not (name_masked and id_masked and colour):
        return False
    return kind not in CHECKPOINT_KINDS or temperature is not None
