"""The pynamodb models: one class per table of template.yaml, indexes as classes.

Key design (why each table looks the way it does) is in README.md's "Tables" section; in short:

* ``Person``  — one item per person; lookups by keyed hash of the ID number (``by_id_hash``),
  by managing account (``by_owner``) and by the hour their stored colour next changes
  (``by_next_change``, sparse: only people whose colour will change).
* ``Fact``    — everything that can colour a person (case, exposure, declaration, travel, lab,
  override) under the person's key, so one Query reads a person's whole state. The stream on
  this table drives colour recomputation. ``expires_ttl`` lets TTL clean up after retention;
  colour never depends on TTL having run (facts carry their own ``expires_at``).
* ``AuditEntry`` — append-only: colour history, override steps, identity reads.
* ``Venue``   — venues with their complex root (``by_root``) and manager (``by_manager``).
* ``Scan``    — presences (check-ins and checkpoint verifications), write-sharded per venue:
  ``venue_shard = <venue_id>#<n>``, ``at_scan = <UTC instant>#<scan_id>``; a time window at
  a venue is ``shards`` Queries, a person's history one Query on ``by_person``.
* ``Stat``    — per venue-day counters and alerts, coverage counters (kept by a consumer).
* ``CaseItem`` — a case, its tracing tasks and its contacts under the case id.
* ``Request`` — manual colour overrides and appeals, queued for officials (``by_queue``).
* ``RiskArea`` — the current risk level per region.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from healthcode.storage.base import BaseMeta, EpochAttribute, InstantAttribute
from healthcode.storage.connection import TableName

# --- persons -------------------------------------------------------------------------------


class PersonsByIdHash(GlobalSecondaryIndex["Person"]):
    class Meta:
        index_name = "by_id_hash"
        projection = AllProjection()

    id_hash = UnicodeAttribute(hash_key=True)


class PersonsByOwner(GlobalSecondaryIndex["Person"]):
    class Meta:
        index_name = "by_owner"
        projection = AllProjection()

    owner_sub = UnicodeAttribute(hash_key=True)
    person_id = UnicodeAttribute(range_key=True)


class PersonsByNextChange(GlobalSecondaryIndex["Person"]):
    class Meta:
        index_name = "by_next_change"
        projection = KeysOnlyProjection()

    change_bucket = UnicodeAttribute(hash_key=True)
    next_change_at = UnicodeAttribute(range_key=True)


class Person(Model):
    """A person with a health code. Personal fields are ciphertext (``healthcode.protection.pii``); the
    masked forms are stored for display so answers need no decryption."""

    class Meta(BaseMeta):
        table_name = TableName("PersonsTable")

    person_id = UnicodeAttribute(hash_key=True)
    owner_sub = UnicodeAttribute()  # the account that manages this code (self or guardian)
    dependant = BooleanAttribute(default=False)
    id_hash = UnicodeAttribute()  # keyed hash of the ID number (lookup)
    phone_hash = UnicodeAttribute(null=True)
    name_enc = UnicodeAttribute()
    id_enc = UnicodeAttribute()
    phone_enc = UnicodeAttribute(null=True)
    address_enc = UnicodeAttribute(null=True)
    name_masked = UnicodeAttribute()
    id_masked = UnicodeAttribute()
    phone_masked = UnicodeAttribute(null=True)
    region_code = UnicodeAttribute()
    birth_year = NumberAttribute(null=True)
    # the stored colour (kept by the colour consumer; read-time rules still apply expiry)
    level = NumberAttribute(default=0)
    colour = UnicodeAttribute(default="green")
    reasons = JSONAttribute(default=list)
    colour_as_of = InstantAttribute(null=True)
    next_change_at = UnicodeAttribute(null=True)
    change_bucket = UnicodeAttribute(null=True)
    paper_code_id = UnicodeAttribute(null=True)  # jti of the only valid paper code
    paper_code = UnicodeAttribute(null=True)  # that paper code itself (no personal data), to reprint it
    paper_expires_at = InstantAttribute(null=True)
    # an open guardian link (another account may take over this code with the one-time link code)
    link_hash = UnicodeAttribute(null=True)  # keyed hash of the link code, never the code
    link_expires_at = InstantAttribute(null=True)
    link_failures = NumberAttribute(null=True)  # wrong codes tried against this link
    created_at = InstantAttribute()
    updated_at = InstantAttribute()
    version = VersionAttribute()

    by_id_hash = PersonsByIdHash()
    by_owner = PersonsByOwner()
    by_next_change = PersonsByNextChange()


# --- facts ---------------------------------------------------------------------------------


class FactsByTravelRegion(GlobalSecondaryIndex["Fact"]):
    class Meta:
        index_name = "by_travel_region"
        projection = KeysOnlyProjection()

    travel_region = UnicodeAttribute(hash_key=True)
    left_at = UnicodeAttribute(range_key=True)


class Fact(Model):
    """One fact about a person (see ``healthcode.rules.colour.Fact``), stored under the person."""

    class Meta(BaseMeta):
        table_name = TableName("FactsTable")

    person_id = UnicodeAttribute(hash_key=True)
    fact_id = UnicodeAttribute(range_key=True)  # deterministic: redelivery rewrites the same item
    kind = UnicodeAttribute()  # a FactKind, or "travel", "lab", "override"
    starts_at = InstantAttribute()
    expires_at = InstantAttribute(null=True)
    recorded_at = InstantAttribute()
    # when the system learned the fact (an override covers only facts learned before its
    # approval); absent on facts stored before it existed: see storage.facts.state_of
    learned_at = InstantAttribute(null=True)
    level = NumberAttribute(null=True)  # overrides: the level they set
    positive = BooleanAttribute(null=True)  # lab results
    detail = UnicodeAttribute(default="")
    source = UnicodeAttribute(null=True)  # e.g. the case id an exposure came from
    travel_region = UnicodeAttribute(null=True)  # declared travel (sparse index)
    left_at = UnicodeAttribute(null=True)
    expires_ttl = EpochAttribute(null=True)

    by_travel_region = FactsByTravelRegion()


# --- audit ---------------------------------------------------------------------------------


class AuditByActor(GlobalSecondaryIndex["AuditEntry"]):
    class Meta:
        index_name = "by_actor"
        projection = AllProjection()

    actor = UnicodeAttribute(hash_key=True)
    entry = UnicodeAttribute(range_key=True)


class AuditEntry(Model):
    """Append-only (functions get PutItem only): ``subject`` is ``person#<id>``/``venue#<id>``,
    ``entry`` is ``<UTC instant>#<kind>#<id>``. Holds no personal data in clear."""

    class Meta(BaseMeta):
        table_name = TableName("AuditTable")

    subject = UnicodeAttribute(hash_key=True)
    entry = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    actor = UnicodeAttribute()
    at = InstantAttribute()
    details = JSONAttribute(default=dict)

    by_actor = AuditByActor()


# --- venues --------------------------------------------------------------------------------


class VenuesByManager(GlobalSecondaryIndex["Venue"]):
    class Meta:
        index_name = "by_manager"
        projection = AllProjection()

    manager_sub = UnicodeAttribute(hash_key=True)
    venue_id = UnicodeAttribute(range_key=True)


class VenuesByRoot(GlobalSecondaryIndex["Venue"]):
    class Meta:
        index_name = "by_root"
        projection = AllProjection()

    root_venue_id = UnicodeAttribute(hash_key=True)
    venue_id = UnicodeAttribute(range_key=True)


class Location(MapAttribute[str, float]):
    lat = NumberAttribute()
    lng = NumberAttribute()


class Venue(Model):
    class Meta(BaseMeta):
        table_name = TableName("VenuesTable")

    venue_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(null=True)
    type = UnicodeAttribute(null=True)
    subject_name = UnicodeAttribute(null=True)  # masked when the subject is a person (see storage.venues)
    subject_name_enc = UnicodeAttribute(null=True)  # a person's name, encrypted
    subject_name_hash = UnicodeAttribute(null=True)  # its keyed hash (kind "subject_name"), for the export
    credential_type = UnicodeAttribute(null=True)
    credential_enc = UnicodeAttribute(null=True)
    credential_masked = UnicodeAttribute(null=True)
    region_code = UnicodeAttribute(null=True)
    location = Location(null=True)
    address = UnicodeAttribute(null=True)
    manager_sub = UnicodeAttribute(null=True)
    manager_phone_enc = UnicodeAttribute(null=True)
    manager_phone_hash = UnicodeAttribute(null=True)
    manager_phone_masked = UnicodeAttribute(null=True)
    parent_venue_id = UnicodeAttribute(null=True)
    root_venue_id = UnicodeAttribute(null=True)
    shards = NumberAttribute(default=1)
    code_id = UnicodeAttribute(null=True)  # jti of the current venue code
    code = UnicodeAttribute(null=True)  # the current venue code (a signed JWT, printed on posters)
    code_expires_at = InstantAttribute(null=True)
    guards_venue_id = UnicodeAttribute(null=True)  # "phone#<hash>" guard items: the venue holding the phone
    created_at = InstantAttribute(null=True)
    version = VersionAttribute()

    by_manager = VenuesByManager()
    by_root = VenuesByRoot()


# --- scans (presences) -------------------------------------------------------------------------


class ScansByPerson(GlobalSecondaryIndex["Scan"]):
    class Meta:
        index_name = "by_person"
        projection = AllProjection()

    person_id = UnicodeAttribute(hash_key=True)
    at_scan = UnicodeAttribute(range_key=True)


class Scan(Model):
    """A presence: a check-in or a checkpoint verification. Kept small (≤ 1 KB, one write unit)."""

    class Meta(BaseMeta):
        table_name = TableName("ScansTable")

    venue_shard = UnicodeAttribute(hash_key=True)
    at_scan = UnicodeAttribute(range_key=True)
    person_id = UnicodeAttribute()
    venue_id = UnicodeAttribute()
    root_venue_id = UnicodeAttribute()
    venue_type = UnicodeAttribute()
    region_code = UnicodeAttribute()
    kind = UnicodeAttribute()  # checkin | verification | manual
    actor = UnicodeAttribute()  # the account that scanned (citizen or checkpoint staff)
    level = NumberAttribute()
    colour = UnicodeAttribute()
    verdict = UnicodeAttribute()
    abnormal = BooleanAttribute(default=False)
    temperature = NumberAttribute(null=True)
    name_masked = UnicodeAttribute(null=True)
    id_masked = UnicodeAttribute(null=True)
    presented = UnicodeAttribute(null=True)  # checkpoints: code | paper | id_number (manual registration)
    expires_ttl = EpochAttribute()

    by_person = ScansByPerson()


# --- stats, alerts, coverage -----------------------------------------------------------------


class StatsByRegionDay(GlobalSecondaryIndex["Stat"]):
    class Meta:
        index_name = "by_region_day"
        projection = AllProjection()

    region_day = UnicodeAttribute(hash_key=True)
    region_key = UnicodeAttribute(range_key=True)


class Stat(Model):
    """``pk`` = ``<venue_id>#<YYYY-MM-DD>`` with ``sk`` ``STATS`` (counters) or
    ``ALERT#<instant>#<scan_id>``; ``pk`` = ``COVERAGE#<region>`` with ``sk`` = venue type."""

    class Meta(BaseMeta):
        table_name = TableName("StatsTable")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    venue_id = UnicodeAttribute(null=True)
    # by_region_day (see storage/stats.py): "<province>#<day>#<n>" / "alerts#<province>#<day>#<n>"
    region_day = UnicodeAttribute(null=True)
    # "<region_code>#<venue_id>" (counters) / "<region_code>#<instant>#<scan_id>" (alerts)
    region_key = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    scans = NumberAttribute(default=0)
    abnormal = NumberAttribute(default=0)
    by_colour = MapAttribute[str, int](default=dict)
    applied = MapAttribute[str, str](default=dict)  # scan partition → last applied stream sequence number
    total = NumberAttribute(default=0)  # coverage: venues of this type in the region
    details = JSONAttribute(null=True)
    expires_ttl = EpochAttribute(null=True)

    by_region_day = StatsByRegionDay()


# --- cases ---------------------------------------------------------------------------------


class CaseItem(Model):
    """``pk`` = case id; ``sk`` = ``CASE`` | ``TASK#…`` | ``CONTACT#<person_id>``."""

    class Meta(BaseMeta):
        table_name = TableName("CasesTable")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    person_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    diagnosed_at = InstantAttribute(null=True)
    tracing = UnicodeAttribute(null=True)
    tasks_total = NumberAttribute(null=True)
    tasks_done = NumberAttribute(null=True)
    contacts_found = NumberAttribute(null=True)
    kind = UnicodeAttribute(null=True)
    venue_id = UnicodeAttribute(null=True)
    exposure_at = InstantAttribute(null=True)
    overlap_minutes = NumberAttribute(null=True)
    task = JSONAttribute(null=True)
    created_by = UnicodeAttribute(null=True)
    created_at = InstantAttribute(null=True)
    done_tasks = UnicodeSetAttribute(null=True)
    # contact rows: the strongest exposure's sortable rank and id (storage/cases.py keeps the
    # strongest with a conditional write); CASE: when tracing finished
    rank = UnicodeAttribute(null=True)
    exposure_id = UnicodeAttribute(null=True)
    traced_at = InstantAttribute(null=True)


# --- requests: overrides and appeals ---------------------------------------------------------


class RequestsByQueue(GlobalSecondaryIndex["Request"]):
    class Meta:
        index_name = "by_queue"
        projection = AllProjection()

    queue = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class Request(Model):
    class Meta(BaseMeta):
        table_name = TableName("RequestsTable")

    request_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # override | appeal | an official's act waiting for approval (case ...)
    queue = UnicodeAttribute(null=True)  # "<kind>#<status>" while open (sparse once closed)
    created_at = UnicodeAttribute()
    person_id = UnicodeAttribute(null=True)  # none for acts on many persons or on an area
    requested_by = UnicodeAttribute()
    status = UnicodeAttribute()
    colour = UnicodeAttribute(null=True)
    level = NumberAttribute(null=True)
    reason_code = UnicodeAttribute(null=True)
    evidence_ref = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    until = InstantAttribute(null=True)
    decided_by = UnicodeAttribute(null=True)
    decided_at = InstantAttribute(null=True)
    answer = UnicodeAttribute(null=True)
    history = ListAttribute[str](default=list)
    # an act waiting for a second official: what to do once approved (services.approvals)
    action = JSONAttribute(null=True)
    result = JSONAttribute(null=True)  # what the approved act did (its answer)
    version = VersionAttribute()

    by_queue = RequestsByQueue()


# --- risk areas ----------------------------------------------------------------------------


class RiskArea(Model):
    class Meta(BaseMeta):
        table_name = TableName("RiskAreasTable")

    region_code = UnicodeAttribute(hash_key=True)
    level = UnicodeAttribute()  # high | medium | low
    updated_at = InstantAttribute()
    updated_by = UnicodeAttribute()
    version = VersionAttribute()


# --- limits --------------------------------------------------------------------------------


class LimitCounter(Model):
    """One account's use of one limit in one fixed window (see ``storage.limits``):
    ``id = <scope>#<window start, epoch seconds>#<actor>``, ``used`` the count so far,
    ``expiration`` the table's TTL attribute (after the window's end)."""

    class Meta(BaseMeta):
        table_name = TableName("LimitsTable")

    id = UnicodeAttribute(hash_key=True)
    used = NumberAttribute(null=True)
    expiration = EpochAttribute(null=True)


# --- staff (checkpoint assignments) -----------------------------------------------------------


class StaffAssignment(Model):
    """An account assigned to a checkpoint (``storage.staff``): ``venue_id`` the venue it may
    act at (a complex covers its doors and stores), ``sub`` the account."""

    class Meta(BaseMeta):
        table_name = TableName("StaffTable")

    venue_id = UnicodeAttribute(hash_key=True)
    sub = UnicodeAttribute(range_key=True)
    assigned_at = InstantAttribute()
    assigned_by = UnicodeAttribute()


ALL_MODELS: dict[str, type[Model]] = {
    "PersonsTable": Person,
    "FactsTable": Fact,
    "AuditTable": AuditEntry,
    "VenuesTable": Venue,
    "ScansTable": Scan,
    "StatsTable": Stat,
    "CasesTable": CaseItem,
    "RequestsTable": Request,
    "RiskAreasTable": RiskArea,
    "StaffTable": StaffAssignment,
    "LimitsTable": LimitCounter,
}


# --- guards and bookkeeping items sharing the tables above ---------------------------------


class IdNumberClaim(Model):
    """``person_id = "id#<keyed hash of the ID number>"``, ``holder`` = the person holding it."""

    class Meta(BaseMeta):
        table_name = TableName("PersonsTable")

    person_id = UnicodeAttribute(hash_key=True)
    holder = UnicodeAttribute()


class AccountGuard(Model):
    """An account's places in the Persons table (``storage.persons``), written in the same
    transaction as the person: ``person_id = "owner#<sub>#self"`` holds the account's own code
    (``holder``, one per account); ``person_id = "owner#<sub>#dependants"`` counts the dependants
    it manages (``dependants``, at most the policy's ``max_dependants``)."""

    class Meta(BaseMeta):
        table_name = TableName("PersonsTable")

    person_id = UnicodeAttribute(hash_key=True)
    holder = UnicodeAttribute(null=True)
    dependants = NumberAttribute(null=True)


class IdempotencyRecord(Model):
    """The first answer to a (caller, Idempotency-Key) pair."""

    class Meta(BaseMeta):
        table_name = TableName("IdempotencyTable")

    id = UnicodeAttribute(hash_key=True)
    answer = JSONAttribute()
    fingerprint = UnicodeAttribute(null=True)
    created_at = InstantAttribute()
    expiration = EpochAttribute()


class RiskAreaSweep(Model):
    """Where an interrupted risk-area change carries on (see ``storage.riskareas``)."""

    class Meta(BaseMeta):
        table_name = TableName("RiskAreasTable")

    region_code = UnicodeAttribute(hash_key=True)
    sweep = JSONAttribute()
    created_at = InstantAttribute()
