"""Reports for health officials: daily scans per unit (Henan's 16:00 report) and venue-code
coverage by type and region (Fujian's mandatory list). Both read counters only, never scans or
venues: the daily report the per venue-day counters, coverage the coverage counters.

``GET /v1/reports/daily-scans`` answers JSON, or CSV (``Accept: text/csv`` or ``?format=csv``)
for spreadsheets, every text cell neutralised against formula injection.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from healthcode import clock
from healthcode.edge.http import caller, json_response, lambda_handler_for, make_app
from healthcode.errors import InvalidInput
from healthcode.protection.logs import get_logger
from healthcode.rules import regions
from healthcode.rules.venues import VENUE_TYPE_LABELS, coverage, csv_document, report_day, requirement
from healthcode.settings import policy, settings
from healthcode.storage import stats
from healthcode.storage import venues as store

logger = get_logger("reports")
app = make_app()

CSV_TYPE = "text/csv; charset=utf-8"
DAILY_COLUMNS = ("date", "region_code", "venue_id", "name", "scans", "abnormal")

_ERRORS: OpenAPIResponse = {
    "description": "error envelope",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _query(name: str) -> str | None:
    return app.current_event.get_query_string_value(name)


def _region() -> str:
    """``?region_code=``: a current code inside the province (the province when absent)."""
    province = settings().province
    value = _query("region_code")
    if value is None or value == "":
        return province
    code = regions.check_region_code(value)
    if not regions.in_province(code, province):
        raise InvalidInput(
            f"region_code {code} is not inside this province ({province})",
            field="region_code",
            code="region_outside_province",
        )
    return code


def _wants_csv() -> bool:
    chosen = _query("format")
    if chosen is not None and chosen not in ("json", "csv"):
        raise InvalidInput("format must be json or csv", field="format", code="invalid_format")
    if chosen is not None:
        return chosen == "csv"
    accept = (app.current_event.headers.get("accept") or "").lower()
    return "text/csv" in accept


def _due_at(day: str) -> datetime | None:
    """When units' counts for ``day`` are due (Henan: 16:00 that day), if the province sets it."""
    due = policy().report_due()
    if due is None:
        return None
    return datetime.combine(datetime.fromisoformat(day).date(), due, tzinfo=clock.CHINA)


@app.get(
    "/v1/reports/daily-scans",
    summary="Scans per unit on a day in a region (JSON, or CSV with Accept: text/csv or ?format=csv)",
    description="Query: date=YYYY-MM-DD (default today, China time), region_code (default the province).",
    responses={
        200: {"description": "{date, region_code, due_at, units: [{venue_id, name, scans, abnormal}]}"},
        403: _ERRORS,
        422: _ERRORS,
    },
)
def daily_scans() -> Response[str]:
    caller(app).require("official")
    day = report_day(_query("date"), now=clock.now())
    region_code = _region()
    as_csv = _wants_csv()
    units = list(stats.units(region_code, day))
    logger.info("daily scans report", extra={"region_code": region_code, "date": day, "units": len(units)})
    if as_csv:
        document = csv_document(
            DAILY_COLUMNS,
            ((day, u.region_code, u.venue_id, u.name or "", u.scans, u.abnormal) for u in units),
        )
        filename = f"daily-scans-{region_code}-{day}.csv"
        return Response(
            status_code=200,
            content_type=CSV_TYPE,
            body=document,
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
            },
        )
    due = _due_at(day)
    return json_response(
        200,
        {
            "date": day,
            "region_code": region_code,
            "region_name": regions.region_name(region_code),
            "due_at": due,
            "total_scans": sum(u.scans for u in units),
            "total_abnormal": sum(u.abnormal for u in units),
            "units": [
                {
                    "venue_id": u.venue_id,
                    "name": u.name,
                    "region_code": u.region_code,
                    "scans": u.scans,
                    "abnormal": u.abnormal,
                    "by_colour": dict(u.by_colour),
                }
                for u in units
            ],
        },
    )


@app.get(
    "/v1/reports/coverage",
    summary="Venue codes by type and by region, and how many of the province's mandatory types have one",
    description="Query: region_code (default the province); county, prefecture or province level.",
    responses={200: {"description": "coverage"}, 403: _ERRORS, 422: _ERRORS},
)
def venue_coverage() -> Response[str]:
    caller(app).require("official")
    region_code = _region()
    rules = policy()
    counts = store.coverage_counts(region_code)
    covered = coverage(region_code, counts.by_type, counts.by_region, rules)
    return json_response(
        200,
        {
            "region_code": region_code,
            "region_name": regions.region_name(region_code),
            "venues": covered.venues,
            "by_type": [
                {
                    "type": venue_type,
                    "label": VENUE_TYPE_LABELS[venue_type],
                    "requirement": requirement(rules, venue_type),
                    "venues": covered.by_type.get(venue_type, 0),
                }
                for venue_type in sorted(VENUE_TYPE_LABELS)
            ],
            "by_region": [
                {"region_code": code, "region_name": _name(code), "venues": n}
                for code, n in covered.by_region.items()
            ],
            "mandatory": {
                "types": len(covered.mandatory_types),
                "covered": len(covered.mandatory_covered),
                "missing": list(covered.mandatory_missing),
            },
        },
    )


def _name(code: str) -> str | None:
    try:
        return regions.region_name(code)
    except KeyError:
        return None


lambda_handler: Any = lambda_handler_for(app, logger)
