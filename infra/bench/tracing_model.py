"""A model of colour-change timeliness on AWS: a case with N close contacts at a railway station,
from the case report to the last contact's colour written, as DynamoDB calls on the critical
path times a stated latency per call, with the parallelism the template sets.

    .venv/bin/python -m infra.bench.tracing_model [--contacts 10000]

What runs (``services.tracing``, ``services.recolour``, ``functions/colour``):

1. **Plan** (the case's INSERT): the case (GetItem), its person's presences (Query), the venues
   of their complexes (Query), the tasks an earlier release wrote under the case's key
   (Query, keys only: a plan it began is completed its way), the tasks already written
   (BatchGetItem), the tasks (BatchWriteItem, 25 a call), the plan (UpdateItem). A station of
   ``shards`` write shards is searched by ``ceil(shards / SHARDS_PER_TASK)`` tasks, each in a
   partition of its own.
2. **Tasks** (the tasks' INSERTs, ``ParallelizationFactor`` of them at once, one a batch): each
   reads its case and itself (2 GetItem), then per shard and page of ``PAGE_SIZE`` presences one
   Query and the page's writes, ``WRITERS`` requests at a time: new contact rows (strongest and
   first close exposure in one write) a hundred to a TransactWriteItems, facts 25 to a
   BatchWriteItem; then its close (TransactWriteItems) and the case's finish (GetItem,
   Query counting contact rows (1 MB pages of ~150-byte keys), UpdateItem).
3. **Colour** (the facts' INSERTs, ``BatchSize`` records a batch, ``ParallelizationFactor``
   batches of the shard at once): per batch one BatchGetItem of its people, their fact Queries
   ``DECIDERS`` at a time, the writes ``save_many`` packs (person and history entry, 50 people
   a TransactWriteItems, sent one after another) and the timeliness counters (one UpdateItem per
   coverage level: county, prefecture, province).

The critical path is the plan, one task (they run side by side), and the colour batches of one
lane one after another; stages are added (the colour consumer starts on the first facts, so
this over-counts). The FactsTable is taken to have a single stream shard (a small table; more
shards only add lanes). Each stream hop (case → plan → tasks → facts → colour) adds the
event source's polling delay plus the batching window.

Throughput: a case's contact rows share its partition, which takes 1,000 write units a second;
each new contact's row is written once, in a transaction (two units): 10,000 contacts keep the
partition busy for 20 s whatever the parallelism. The task stage takes the longer of its calls
and that bound. (Single UpdateItems would halve the units but cost a call per row: on the local
stack, where calls are what costs, 1,000 contacts' rows are ~40 transactions, not 1,000 calls.)

Latencies (p50, DynamoDB in the same region, stated, not measured here): single-item
GetItem/UpdateItem 5 ms, a Query page 8 ms, BatchGetItem/BatchWriteItem 10 ms,
TransactWriteItems 20 ms (up to 100 items); a stream hop 0.5 s plus its
``MaximumBatchingWindowInSeconds``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from typing import Final

from healthcode.services import recolour, tracing
from healthcode.storage import persons

from infra.local.template import ROOT_TEMPLATE, StreamSource, Template

#: p50 seconds of one call, by kind (see the module's docstring).
LATENCY_S: Final = {"single": 0.005, "query": 0.008, "batch": 0.010, "transaction": 0.020}
#: Seconds from a stream record's write to its batch being handed to the function (polling).
HOP_S: Final = 0.5
#: A railway station's write shards (``transit_hub``, the bench's venue).
STATION_SHARDS: Final = 32
#: Contact rows a 1 MB Query page counts (keys of ~150 bytes).
ROWS_PER_COUNT_PAGE: Final = 6000
#: Coverage levels a region's counters are kept at (county, prefecture, province).
COVERAGE_LEVELS: Final = 3
#: Write units a second one partition takes, and what one contact's row costs (one
#: transactional write of an item under 1 KB: two units).
PARTITION_WCU_PER_S: Final = 1000
ROW_WCU_PER_CONTACT: Final = 2


@dataclass
class Path:
    """Calls on a critical path, by kind, and the stream hops it waits for."""

    single: int = 0
    query: int = 0
    batch: int = 0
    transaction: int = 0
    waits_s: float = 0.0

    def add(self, other: Path, times: int = 1) -> None:
        self.single += other.single * times
        self.query += other.query * times
        self.batch += other.batch * times
        self.transaction += other.transaction * times
        self.waits_s += other.waits_s * times

    @property
    def calls(self) -> int:
        return self.single + self.query + self.batch + self.transaction

    @property
    def seconds(self) -> float:
        counts = {"single": self.single, "query": self.query, "batch": self.batch}
        counts["transaction"] = self.transaction
        return sum(LATENCY_S[kind] * n for kind, n in counts.items()) + self.waits_s


def _rounds(requests: int, at_once: int) -> int:
    return math.ceil(requests / at_once) if requests else 0


def _hop(source: StreamSource) -> Path:
    return Path(waits_s=HOP_S + source.max_batching_window_s)


def plan_path(tasks: int) -> Path:
    return Path(single=2, query=3, batch=1 + math.ceil(tasks / 25))


def task_path(contacts: int, shards: int, shards_in_task: int) -> Path:
    """The calls of one task of ``shards_in_task`` shards, each holding its share of contacts."""
    path = Path(single=2)
    per_shard = math.ceil(contacts / shards)
    pages = max(1, math.ceil(per_shard / tracing.PAGE_SIZE))
    for page in range(pages):
        people = min(tracing.PAGE_SIZE, per_shard - page * tracing.PAGE_SIZE)
        rows = math.ceil(people / tracing.ROWS_PER_CALL)
        facts = math.ceil(people / 25)
        page_path = Path(query=1)
        page_path.transaction = _rounds(rows, tracing.WRITERS)  # new rows, written once each
        page_path.batch = _rounds(facts, tracing.WRITERS)
        path.add(page_path, times=shards_in_task)
    # its close, and the last task's finish of the case
    path.add(Path(transaction=1, single=2, query=math.ceil(contacts / ROWS_PER_COUNT_PAGE)))
    return path


def colour_path(contacts: int, colour: StreamSource) -> Path:
    """The colour batches of one lane, one after another."""
    batches = math.ceil(contacts / colour.batch_size)
    rounds = math.ceil(batches / colour.parallelization)
    people = min(contacts, colour.batch_size)
    per_batch = Path(
        batch=math.ceil(people / 100),
        query=_rounds(people, recolour.DECIDERS),
        transaction=math.ceil(2 * people / persons.TRANSACTION_ITEMS),
        single=COVERAGE_LEVELS,
    )
    path = Path()
    path.add(per_batch, times=rounds)
    return path


def model(contacts: int, template: Template | None = None) -> dict[str, float]:
    """Critical-path calls and modelled seconds on AWS for a station case of ``contacts``."""
    sources = {s.function: s for s in (template or _template()).stream_sources()}
    trace, colour = sources["TracingFunction"], sources["ColourFunction"]
    tasks = math.ceil(STATION_SHARDS / tracing.SHARDS_PER_TASK)
    task_waves = math.ceil(tasks / trace.parallelization)
    path = Path()
    path.add(_hop(trace))  # the case's INSERT reaches tracing
    path.add(plan_path(tasks))
    path.add(_hop(trace))  # the tasks' INSERTs
    tasks_path = Path()
    tasks_path.add(task_path(contacts, STATION_SHARDS, tracing.SHARDS_PER_TASK), times=task_waves)
    path.add(tasks_path)
    # the case partition's write throughput: the time beyond the tasks' own calls
    path.waits_s += max(0.0, contacts * ROW_WCU_PER_CONTACT / PARTITION_WCU_PER_S - tasks_path.seconds)
    path.add(_hop(colour))  # the facts' INSERTs
    path.add(colour_path(contacts, colour))
    return {
        f"trace.critical_path_calls_{contacts}_contacts": float(path.calls),
        f"trace.modelled_aws_seconds_{contacts}_contacts": round(path.seconds, 2),
    }


def _template() -> Template:
    return Template(ROOT_TEMPLATE, "model", {"Province": "520000"}, "cn-north-1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.bench.tracing_model", description=__doc__)
    parser.add_argument("--contacts", type=int, action="append", help="close contacts (repeatable)")
    args = parser.parse_args(argv)
    answer: dict[str, float] = {}
    for contacts in args.contacts or [1000, 10000]:
        answer.update(model(contacts))
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
