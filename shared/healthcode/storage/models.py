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
    id_type = UnicodeAttribute(null=True)  # identity document type; absent: resident_id
    nationality = UnicodeAttribute(null=True)  # ISO 3166-1 alpha-3 of a passport holder
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
    tests = JSONAttribute(null=True)  # latest result per test: [{test, result, sampled_at}]
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


class FactsByResidence(GlobalSecondaryIndex["Fact"]):
    """The people registered in one building (``<venue_id>#<building>``): who a case's
    neighbours are (sparse: only residence items carry the key)."""

    class Meta:
        index_name = "by_residence"
        projection = KeysOnlyProjection()

    residence_key = UnicodeAttribute(hash_key=True)
    person_id = UnicodeAttribute(range_key=True)


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
    test = UnicodeAttribute(null=True)  # lab results: nucleic_acid (also when absent) or igg_antibody
    detail = UnicodeAttribute(default="")
    source = UnicodeAttribute(null=True)  # e.g. the case id an exposure came from
    travel_region = UnicodeAttribute(null=True)  # declared travel (sparse index)
    left_at = UnicodeAttribute(null=True)
    residence_key = UnicodeAttribute(null=True)  # the person's residence item (sparse index)
    region_code = UnicodeAttribute(null=True)  # the residence's region
    expires_ttl = EpochAttribute(null=True)

    by_travel_region = FactsByTravelRegion()
    by_residence = FactsByResidence()


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


class VenuesByRegion(GlobalSecondaryIndex["Venue"]):
    """Every venue of a province, by ``<region_code>#<type>#<venue_id>`` (see storage.venues)."""

    class Meta:
        index_name = "by_region"
        projection = AllProjection()

    province = UnicodeAttribute(hash_key=True)
    region_type_venue = UnicodeAttribute(range_key=True)


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
    # generation of the current venue code: a reissue moves it on and every older code is refused
    # (absent: 0, the venues registered before compact codes; see services.venue_codes)
    code_generation = NumberAttribute(null=True)
    closed_at = InstantAttribute(null=True)  # closed venues (a complex closes with its doors and stores)
    guards_venue_id = UnicodeAttribute(null=True)  # "phone#<hash>" guard items: the venue holding the phone
    created_at = InstantAttribute(null=True)
    zone = UnicodeAttribute(null=True)  # 功能分区 (a hall, a floor, a platform)
    store_number = UnicodeAttribute(null=True)  # 门店编号
    credential_hash = UnicodeAttribute(null=True)  # keyed hash of a person's credential, for the export
    version = VersionAttribute()

    # by_region (sparse: venues only, not their guard items): the province and
    # "<region_code>#<type>#<venue_id>", written with the venue
    province = UnicodeAttribute(null=True)
    region_type_venue = UnicodeAttribute(null=True)

    by_manager = VenuesByManager()
    by_root = VenuesByRoot()
    by_region = VenuesByRegion()


class VenueJoinCode(Model):
    """A one-time join code a complex's manager issued: a store's own manager registers under the
    complex with it. Stored in the VenuesTable under ``join#<SHA-256 of the code>`` (never the
    code itself); ``used_by_venue_id`` is set, under a condition, by the registration it admits."""

    class Meta(BaseMeta):
        table_name = TableName("VenuesTable")

    venue_id = UnicodeAttribute(hash_key=True)  # "join#<sha-256 hex>"
    joins_venue_id = UnicodeAttribute()  # the complex (or door) a store registers under
    issued_by = UnicodeAttribute()
    issued_at = InstantAttribute()
    expires_at = InstantAttribute()
    used_by_venue_id = UnicodeAttribute(null=True)
    used_by = UnicodeAttribute(null=True)
    used_at = InstantAttribute(null=True)


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
    device_location = Location(null=True)  # check-ins at mobile venues: the device's position, rounded
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
    # by_region_day (see storage/stats.py): "<province>#<day>#<n>" (counters)
    region_day = UnicodeAttribute(null=True)
    # "<region_code>#<venue_id>" (counters)
    region_key = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    scans = NumberAttribute(default=0)
    abnormal = NumberAttribute(default=0)
    complete = NumberAttribute(null=True)  # scans whose record holds every field
    venue_type = UnicodeAttribute(null=True)  # the venue's type, as its scans carry it
    by_colour = MapAttribute[str, int](default=dict)
    applied = MapAttribute[str, str](default=dict)  # scan partition → last applied stream sequence number
    total = NumberAttribute(default=0)  # coverage: venues of this type in the region
    details = JSONAttribute(null=True)
    expires_ttl = EpochAttribute(null=True)

    by_region_day = StatsByRegionDay()


# --- alerts to the authority ----------------------------------------------------------------


class AlertsByProvinceDay(GlobalSecondaryIndex["AlertItem"]):
    class Meta:
        index_name = "by_province_day"
        projection = AllProjection()

    province_day = UnicodeAttribute(hash_key=True)
    region_key = UnicodeAttribute(range_key=True)


class AlertItem(Model):
    """One abnormal scan for the officials of its venue's area (see storage.alerts): ``alert_id``
    is the scan id; ``province_day`` = ``<province>#<YYYY-MM-DD>``, ``region_key`` =
    ``<region_code>#<instant>#<alert_id>``. Identities masked only."""

    class Meta(BaseMeta):
        table_name = TableName("AlertsTable")

    alert_id = UnicodeAttribute(hash_key=True)
    province_day = UnicodeAttribute()
    region_key = UnicodeAttribute()
    venue_id = UnicodeAttribute()
    venue_name = UnicodeAttribute(null=True)
    region_code = UnicodeAttribute()
    scanned_at = InstantAttribute()
    kind = UnicodeAttribute()
    colour = UnicodeAttribute()
    level = NumberAttribute()
    verdict = UnicodeAttribute()
    temperature = NumberAttribute(null=True)
    person_id = UnicodeAttribute()
    name_masked = UnicodeAttribute(null=True)
    id_masked = UnicodeAttribute(null=True)
    status = UnicodeAttribute()  # open | acknowledged
    acknowledged_by = UnicodeAttribute(null=True)
    acknowledged_at = InstantAttribute(null=True)
    note = UnicodeAttribute(null=True)
    published_at = InstantAttribute(null=True)  # isolate verdicts: when AlertsTopic got it
    expires_ttl = EpochAttribute()

    by_province_day = AlertsByProvinceDay()


# --- cases ---------------------------------------------------------------------------------


class CaseItem(Model):
    """``pk`` = case id (a tracing task's own: ``<case id>#TASK#<digest>``); ``sk`` = ``CASE`` |
    ``TASK#…`` | ``CONTACT#<person_id>``."""

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
    # CASE: its status history (JSON lines {status, at, by}) and the generations traced (policy
    # trace_generations when planned), with the counters of the generation-2 tasks
    history = ListAttribute[str](null=True)
    generations = NumberAttribute(null=True)
    second_total = NumberAttribute(null=True)
    second_done = NumberAttribute(null=True)
    # contact rows: the generation (1, or 2 found via a close contact) of the strongest exposure;
    # a close contact's first close exposure and when it was learned (generation 2 starts there)
    generation = NumberAttribute(null=True)
    via = UnicodeAttribute(null=True)
    first_close_at = InstantAttribute(null=True)
    close_learned_at = InstantAttribute(null=True)


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
    "AlertsTable": AlertItem,
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
