"""Reports for health officials (``healthcode.services.reports``): daily scans per unit and
venue-code coverage by type and region; and ``daily_export``, the 16:00 schedule's handler
(``DailyReportFunction``) writing the day's counts to the export bucket.

``GET /v1/reports/daily-scans`` lists every unit of the area (zero-scan units included), paged,
as JSON or CSV (``Accept: text/csv`` or ``?format=csv``) for spreadsheets, every text cell
neutralised against formula injection; a CSV page names the next in ``X-Next-Cursor``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from healthcode import clock
from healthcode.edge.http import caller, json_response, lambda_handler_for, make_app
from healthcode.edge.router import OpenAPIResponse, Response
from healthcode.errors import InvalidInput
from healthcode.protection.auth import Caller
from healthcode.protection.logs import get_logger
from healthcode.rules import regions
from healthcode.rules.venues import report_day
from healthcode.services import reports
from healthcode.settings import settings

logger = get_logger("reports")
app = make_app()

CSV_TYPE = "text/csv; charset=utf-8"

_ERRORS: OpenAPIResponse = {
    "description": "error envelope",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _query(name: str) -> str | None:
    return app.current_event.get_query_string_value(name)


#: Roles that read reports: officials, and admins (who read but never act on colours).
READERS = ("official", "admin")


def _region(who: Caller) -> str:
    """``?region_code=``: a current code inside the province and inside the caller's area (403
    ``outside_area``); when absent, the caller's area (the province for a caller without one)."""
    province = settings().province
    value = _query("region_code")
    if value is None or value == "":
        value = who.area or province
    code = regions.check_region_code(value)
    who.require_area(code)
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
    summary="Every unit of a region with its scans on a day, paged (JSON, or CSV with Accept: text/csv "
    "or ?format=csv; a CSV page names the next in the X-Next-Cursor header)",
    description="Query: date=YYYY-MM-DD (default today, China time), region_code (inside the caller's "
    "area; default that area, else the province), limit (1-500, default 100), cursor.",
    responses={
        200: {
            "description": "{date, region_code, due_at, units: [{venue_id, name, scans, abnormal}], "
            "next_cursor}"
        },
        403: _ERRORS,
        422: _ERRORS,
    },
)
def daily_scans() -> Response[str]:
    who = caller(app).require(*READERS)
    day = report_day(_query("date"), now=clock.now())
    region_code = _region(who)
    as_csv = _wants_csv()
    limit = reports.check_page_size(_query("limit"))
    report = reports.daily_scans(region_code, day, limit=limit, cursor=_query("cursor") or None)
    if as_csv:
        filename = f"daily-scans-{region_code}-{day}.csv"
        headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
        if report.next_cursor is not None:
            headers["X-Next-Cursor"] = report.next_cursor
        return Response(
            status_code=200,
            content_type=CSV_TYPE,
            body=reports.daily_csv(day, report.units),
            headers=headers,
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
            "next_cursor": report.next_cursor,
        },
    )


@app.get(
    "/v1/reports/coverage",
    summary="Venue codes by type and by region, and how many of the province's mandatory types have one",
    description="Query: region_code (inside the caller's area; default that area, else the province); "
    "county, prefecture or province level.",
    responses={200: {"description": "coverage"}, 403: _ERRORS, 422: _ERRORS},
)
def venue_coverage() -> Response[str]:
    report = reports.venue_coverage(_region(caller(app).require(*READERS)))
    covered = report.covered
    return json_response(
        200,
        {
            "region_code": report.region_code,
            "region_name": report.region_name,
            "venues": covered.venues,
            "entities": report.entities,
            "with_code": report.with_code,
            "rate": report.rate,
            "by_type": [
                {"type": t.venue_type, "label": t.label, "requirement": t.requirement, "venues": t.venues}
                for t in report.by_type
            ],
            "by_region": [
                {
                    "region_code": r.region_code,
                    "region_name": r.region_name,
                    "venues": r.venues,
                    "entities": r.entities,
                    "with_code": r.with_code,
                    "rate": r.rate,
                }
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


@logger.inject_lambda_context
def daily_export(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``DailyReportFunction``: the 16:00 (China time) schedule writes the day's counts so far."""
    at = clock.parse_instant(str(event["time"])) if event.get("time") else clock.now()
    return {"written": reports.export_daily(at)}
