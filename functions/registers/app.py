"""Registers and assessment indicators for health officials and admins
(``healthcode.services.registers``, ``healthcode.services.indicators``): the market-entity and
population registers of their area, the entities without a venue code, and Guizhou's
indicators. docs/indicators.md defines the figures.
"""

from __future__ import annotations

from typing import Any

from healthcode import clock
from healthcode.edge.http import caller, json_body, json_response, lambda_handler_for, make_app, raw_body
from healthcode.edge.router import OpenAPIResponse, Response
from healthcode.errors import InvalidInput
from healthcode.protection.auth import Caller
from healthcode.protection.logs import get_logger
from healthcode.rules import regions
from healthcode.rules.forms import check_page_size
from healthcode.rules.indicators import Timeliness
from healthcode.services import indicators, registers
from healthcode.settings import settings

logger = get_logger("registers")
app = make_app()

#: A register upload of 10,000 rows is about 1.2 MB of JSON; API Gateway takes up to 10 MB.
REGISTER_MAX_BYTES = 4 * 1024 * 1024
#: Rows of a page of uncovered entities.
PAGE_DEFAULT, PAGE_MAX = 100, 500
ROLES = ("official", "admin")

_ERRORS: OpenAPIResponse = {
    "description": "error envelope",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _query(name: str) -> str | None:
    return app.current_event.get_query_string_value(name)


def _region(who: Caller) -> str:
    """``?region_code=``: a current code inside the province; absent, the caller's area (or the
    province)."""
    province = settings().province
    value = _query("region_code")
    if value is None or value == "":
        return who.area or province
    code = regions.check_region_code(value)
    if not regions.in_province(code, province):
        raise InvalidInput(
            f"region_code {code} is not inside this province ({province})",
            field="region_code",
            code="region_outside_province",
        )
    return code


def _limit() -> int:
    return check_page_size(_query("limit"), default=PAGE_DEFAULT, maximum=PAGE_MAX)


def _is_csv() -> bool:
    kind = (app.current_event.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    return kind == "text/csv"


@app.put(
    "/v1/registers/entities",
    summary="Upload market entities of the caller's area (JSON, or text/csv with the same columns)",
    description=(
        "Body {entities: [{credit_code, name, region_code, type}]} (at most 10,000) or CSV with the header "
        "credit_code,name,region_code,type. Each row is checked on its own and upserted by credit code; "
        "a row outside the caller's area or otherwise wrong is answered in rejected [{index, error, field}]. "
        "More rows: 422 too_many_rows; a body over 4 MB: 413 payload_too_large."
    ),
    responses={200: {"description": "{accepted, rejected}"}, 403: _ERRORS, 413: _ERRORS, 422: _ERRORS},
)
def put_entities() -> Response[str]:
    who = caller(app).require(*ROLES)
    if _is_csv():
        upload = registers.csv_upload(who, raw_body(app.current_event.raw_event, limit=REGISTER_MAX_BYTES))
    else:
        body = json_body(app, limit=REGISTER_MAX_BYTES)
        upload = registers.upload_entities(who, body["entities"])
    return json_response(
        200,
        {
            "accepted": upload.accepted,
            "rejected": [{"index": r.index, "error": r.error, "field": r.field} for r in upload.rejected],
        },
    )


@app.put(
    "/v1/registers/population",
    summary="Set the population of regions of the caller's area (for the application rate)",
    responses={200: {"description": "{updated}"}, 403: _ERRORS, 413: _ERRORS, 422: _ERRORS},
)
def put_population() -> Response[str]:
    who = caller(app).require(*ROLES)
    body = json_body(app)
    return json_response(200, {"updated": registers.put_population(who, body["regions"])})


@app.get(
    "/v1/reports/uncovered-entities",
    summary="Register entities of a region without a venue code, paged",
    responses={200: {"description": "{entities, next_cursor}"}, 403: _ERRORS, 422: _ERRORS},
)
def uncovered_entities() -> Response[str]:
    who = caller(app).require(*ROLES)
    region_code = _region(who)
    page, cursor = registers.uncovered_entities(
        who, region_code, limit=_limit(), cursor=_query("cursor") or None
    )
    return json_response(
        200,
        {
            "region_code": region_code,
            "entities": [
                {"credit_code": e.credit_code, "name": e.name, "region_code": e.region_code} for e in page
            ],
            "next_cursor": cursor,
        },
    )


def _timeliness(figures: Timeliness) -> dict[str, Any]:
    return {
        "count": figures.count,
        "p50_seconds": figures.p50_seconds,
        "p95_seconds": figures.p95_seconds,
        "max_seconds": figures.max_seconds,
        "distribution": [{"up_to_seconds": bound, "count": count} for bound, count in figures.distribution],
    }


@app.get(
    "/v1/reports/indicators",
    summary="Guizhou's assessment indicators of a region over days from..to (at most 31)",
    responses={200: {"description": "the indicators"}, 403: _ERRORS, 422: _ERRORS},
)
def report_indicators() -> Response[str]:
    who = caller(app).require(*ROLES)
    region_code = _region(who)
    today = clock.now().astimezone(clock.CHINA).date()
    first, last = indicators.span(_query("from"), _query("to"), today=today)
    found = indicators.indicators(who, region_code, first, last)
    return json_response(
        200,
        {
            "region_code": found.region_code,
            "from": found.first,
            "to": found.last,
            "application_rate": found.application_rate,
            "persons": found.persons,
            "population": found.population,
            "verification_rate": {
                "mandatory_scan_share": found.mandatory_scan_share,
                "active_mandatory_venue_share": found.active_mandatory_venue_share,
                "scans": found.scans,
                "mandatory_scans": found.mandatory_scans,
                "mandatory_venues": found.mandatory_venues,
                "active_mandatory_venue_days": found.active_mandatory_venue_days,
            },
            "data_accuracy": {
                "refused_share": found.refused_share,
                "complete_record_share": found.complete_record_share,
                "attempts": found.attempts,
                "refused": found.refused,
                "complete_records": found.complete_records,
            },
            "colour_change_timeliness": {
                **_timeliness(found.timeliness),
                "by_cause": {cause: _timeliness(t) for cause, t in found.by_cause.items()},
            },
        },
    )


lambda_handler: Any = lambda_handler_for(app, logger)
