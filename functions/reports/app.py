"""Reports for health officials (``healthcode.services.reports``): daily scans per unit and
venue-code coverage by type and region.

``GET /v1/reports/daily-scans`` answers JSON, or CSV (``Accept: text/csv`` or ``?format=csv``)
for spreadsheets, every text cell neutralised against formula injection.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from healthcode import clock
from healthcode.edge.http import caller, json_response, lambda_handler_for, make_app
from healthcode.errors import InvalidInput
from healthcode.protection.logs import get_logger
from healthcode.rules import regions
from healthcode.rules.venues import csv_document, report_day
from healthcode.services import reports
from healthcode.settings import settings

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
    report = reports.daily_scans(region_code, day)
    if as_csv:
        document = csv_document(
            DAILY_COLUMNS,
            ((day, u.region_code, u.venue_id, u.name or "", u.scans, u.abnormal) for u in report.units),
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
    return json_response(
        200,
        {
            "date": report.day,
            "region_code": report.region_code,
            "region_name": report.region_name,
            "due_at": report.due_at,
            "total_scans": report.total_scans,
            "total_abnormal": report.total_abnormal,
            "units": [
                {
                    "venue_id": u.venue_id,
                    "name": u.name,
                    "region_code": u.region_code,
                    "scans": u.scans,
                    "abnormal": u.abnormal,
                    "by_colour": dict(u.by_colour),
                }
                for u in report.units
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
    report = reports.venue_coverage(_region())
    covered = report.covered
    return json_response(
        200,
        {
            "region_code": report.region_code,
            "region_name": report.region_name,
            "venues": covered.venues,
            "by_type": [
                {"type": t.venue_type, "label": t.label, "requirement": t.requirement, "venues": t.venues}
                for t in report.by_type
            ],
            "by_region": [
                {"region_code": r.region_code, "region_name": r.region_name, "venues": r.venues}
                for r in report.by_region
            ],
            "mandatory": {
                "types": len(covered.mandatory_types),
                "covered": len(covered.mandatory_covered),
                "missing": list(covered.mandatory_missing),
            },
        },
    )


lambda_handler: Any = lambda_handler_for(app, logger)
