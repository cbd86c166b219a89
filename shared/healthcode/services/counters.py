"""What the scans stream adds up: per venue-day counters, abnormal-scan alerts and fever facts.

For each batch (one stream shard, in order) :func:`apply` takes the batch's new scans, each with
the record it came from, and

1. reads the venue names once for the whole batch (one BatchGetItem);
2. gives each venue-day **one** write for all of its scans in the batch (``stats.add_day``: the
   counter update and its run markers in one TransactWriteItems; counted exactly once across
   redeliveries, bisected batches and replays from the failure queue);
3. writes an ALERT item for each abnormal scan (non-green or fever) for the venue's alerts
   (``stats.put_alerts``, deterministic keys), and the alert to the authority of the venue's
   area (``services.alerts``: once per scan id; an isolate verdict is published at once to the
   alerts topic);
4. when the policy says so (Guizhou: yes), turns a fever reading at a checkpoint (verification or
   manual registration at or above ``fever_threshold_c``) into a FEVER fact lasting
   ``fever_fact_hours`` (fact id from the scan id), which the colour consumer picks up. Every
   such fact names the scanner account and the checkpoint (its ``detail``, shown to officials
   with the person's record; its ``source`` is the scan), and each uses one unit of the
   scanner's hourly allowance (``scanner_fever_facts_per_hour_limit``): the fact and the unit
   are one transaction (``storage.fevers``), so a redelivery uses nothing twice. Past the limit
   the scan stays recorded, counted and alerted, no fact is written, and the
   ``FeverFactsOverLimit`` metric (alarm ``fever-fact-rate``) names the scanner.

A write that fails marks only the records it covered as failed; the stream retries the batch
from the first of them, and what was already applied is not applied twice: the counters keep
run markers with the counts (``storage.stats``: exact under redelivery, bisection and replays
from the failure queue), alerts and facts have deterministic keys.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Final, TypeVar

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from healthcode.protection.logs import get_logger
from healthcode.rules import colour, verdict
from healthcode.rules.policy import FactKind, Policy
from healthcode.services import alerts
from healthcode.settings import policy, settings
from healthcode.storage import fevers, limits, stats
from healthcode.storage.stats import CountedScan

__all__ = [
    "CHECKPOINT_KINDS",
    "FEVER_OVER_LIMIT_METRIC",
    "CountedScan",
    "apply",
    "counted",
    "fever_fact",
    "retention_days",
]

logger = get_logger("counters")

#: Scan kinds taken at a checkpoint with a thermometer (a check-in has no reading).
CHECKPOINT_KINDS = frozenset({"verification", "manual"})

Record = TypeVar("Record")

#: Emitted (EMF, namespace HealthCode, dimensions province and service) for each fever reading
#: that made no fact because its scanner's hour was used up; ``FeverFactRateAlarm`` watches it.
FEVER_OVER_LIMIT_METRIC: Final = "FeverFactsOverLimit"


def counted(image: Mapping[str, Any], *, sequence: str) -> CountedScan:
    """A new scan as the counters see it, from its stream image (wire form) and sequence number;
    ``ValueError`` for anything that is not a scan."""
    return stats.counted(image, sequence=sequence)


def retention_days(rules: Policy) -> int:
    """Alerts are kept as long as the scans they come from (see ``services.verifications``)."""
    return max(settings().retention_days, rules.tracing.lookback_days)


def fever_fact(scan: CountedScan, rules: Policy) -> colour.Fact | None:
    """The FEVER fact a checkpoint reading gives, if the policy makes it one."""
    if not rules.fever_at_checkpoint_is_fact or scan.kind not in CHECKPOINT_KINDS:
        return None
    if not verdict.is_fever(scan.temperature, rules):
        return None
    return colour.Fact(
        fact_id=f"fever#checkpoint#{scan.scan_id}",
        kind=FactKind.FEVER,
        starts_at=scan.at,
        expires_at=scan.at + timedelta(hours=rules.fever_fact_hours),
        detail=f"checkpoint {scan.venue_id} scanner {scan.actor or '-'}",
        recorded_at=scan.at,
    )


def apply(batch: Sequence[tuple[Record, CountedScan]], failed: Callable[[Iterable[Record]], None]) -> None:
    """Write the batch's counters, alerts and facts; a failed write hands the records it covered
    to ``failed`` (called while its error is being handled)."""
    if not batch:
        return
    rules = policy()
    names = stats.venue_names(scan.venue_id for _, scan in batch)
    days: dict[tuple[str, str], list[tuple[Record, CountedScan]]] = defaultdict(list)
    for entry in batch:
        days[(entry[1].venue_id, entry[1].day)].append(entry)
    for (venue_id, day), entries in days.items():
        try:
            stats.add_day(venue_id, day, [scan for _, scan in entries], name=names.get(venue_id))
        except stats.WRITE_ERRORS:
            logger.warning("counter update failed", extra={"venue_id": venue_id, "day": day}, exc_info=True)
            failed(record for record, _ in entries)

    abnormal = [(record, scan) for record, scan in batch if scan.abnormal]
    try:
        stats.put_alerts((scan for _, scan in abnormal), retention_days=retention_days(rules))
    except stats.WRITE_ERRORS:
        logger.warning("alert write failed", extra={"alerts": len(abnormal)}, exc_info=True)
        failed(record for record, _ in abnormal)

    for record, scan in abnormal:
        try:
            alerts.record(scan, venue_name=names.get(scan.venue_id), retention_days=retention_days(rules))
        except stats.WRITE_ERRORS:
            logger.warning("authority alert failed", extra={"venue_id": scan.venue_id}, exc_info=True)
            failed([record])

    for record, scan in batch:
        fact = fever_fact(scan, rules)
        if fact is None:
            continue
        try:
            written = fevers.add_limited(
                scan.person_id,
                fact,
                source=f"scan#{scan.scan_id}",
                scanner=scan.actor or "-",
                limit=rules.scanner_fever_facts_per_hour_limit,
                window_seconds=limits.HOUR,
            )
        except stats.WRITE_ERRORS:
            logger.warning("fever fact write failed", extra={"venue_id": scan.venue_id}, exc_info=True)
            failed([record])
            continue
        if written is fevers.Written.OVER_LIMIT:
            _fever_over_limit(scan, rules)


def _fever_over_limit(scan: CountedScan, rules: Policy) -> None:
    """A fever reading past its scanner's hourly allowance: no fact; the metric the alarm watches."""
    with single_metric(
        name=FEVER_OVER_LIMIT_METRIC, unit=MetricUnit.Count, value=1, namespace="HealthCode"
    ) as metric:
        metric.add_dimension(name="province", value=settings().province)
        metric.add_metadata(key="scanner", value=scan.actor or "-")
        metric.add_metadata(key="venue_id", value=scan.venue_id)
    logger.warning(
        "fever fact refused: scanner's hourly limit",
        extra={
            "scanner": scan.actor,
            "venue_id": scan.venue_id,
            "scan_id": scan.scan_id,
            "limit": rules.scanner_fever_facts_per_hour_limit,
        },
    )
