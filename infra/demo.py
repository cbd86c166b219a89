"""A province to look at: ``make demo`` seeds a running ``make run`` over its HTTP API.

Everything is done as the people of the province would do it, through the same routes the
console and the H5 pages call, with tokens from the local stack's ``/_local/tokens``: a venue
manager registers a shopping complex with two stores, a restaurant and a bus, and assigns staff;
an official registers a roadside checkpoint; citizens apply for their codes (one declares a
cough) and check in; an official reports one of them as a confirmed case, tracing runs
(``/_local/drain``) and the close contacts turn red, a visitor of the other store yellow (same
complex); checkpoint staff verify codes, which raises alerts; a red contact appeals; an official
asks for an override that waits for a second official; the market-entity register and the
population are uploaded; a county is made a medium-risk area. At the end it prints whom to sign
in as on the local sign-in page, and what each of them finds.

Run again, it reuses what it finds (the same accounts, ID numbers and venue names: an
application answers the same person, venues are looked up by name) and adds a few more scans; a
refusal that only says "already done" (409) or "not so often" (429) is reported, not fatal.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from healthcode.rules.credentials import org_code_check_character, uscc_check_character
from healthcode.rules.idcard import check_character

DEFAULT_URL = "http://127.0.0.1:3000"
COLOUR_NAMES = {"green": "绿码", "yellow": "黄码", "orange": "橙码", "red": "红码"}


@dataclass(frozen=True)
class Place:
    """Where a province's demo happens: a county, a second county, a point in it, an address."""

    county: str
    other_county: str
    lat: float
    lng: float
    street: str
    plate: str


PLACES = {
    "520000": Place("520102", "520103", 26.5783, 106.7135, "贵州省贵阳市南明区中华南路", "贵A12345"),
    "350000": Place("350102", "350103", 26.0845, 119.2965, "福建省福州市鼓楼区八一七北路", "闽A12345"),
    "360000": Place("360102", "360103", 28.6829, 115.8582, "江西省南昌市东湖区八一大道", "赣A12345"),
    "410000": Place("410102", "410103", 34.7466, 113.6254, "河南省郑州市中原区建设路", "豫A12345"),
    "140000": Place("140105", "140106", 37.7360, 112.5650, "山西省太原市小店区长治路", "晋A12345"),
}


@dataclass(frozen=True)
class Account:
    sub: str
    roles: tuple[str, ...]
    region: str | None = None
    label: str = ""


class DemoError(Exception):
    """A step the demo cannot go on without failed (the message names the step and the answer)."""


@dataclass
class Answer:
    status: int
    body: Any


class Api:
    """The stack's HTTP API with one token per account (minted once by ``/_local/tokens``)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._tokens: dict[str, str] = {}

    def _send(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Answer:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as refused:
            status, raw = refused.code, refused.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Answer(status, parsed)

    def token(self, who: Account) -> str:
        if who.sub not in self._tokens:
            body: dict[str, Any] = {"sub": who.sub, "roles": list(who.roles)}
            if who.region:
                body["region"] = who.region
            answer = self._send("POST", "/_local/tokens", body, {})
            if answer.status != 200:
                raise DemoError(f"/_local/tokens for {who.sub}: {answer.status} {answer.body}")
            self._tokens[who.sub] = str(answer.body["token"])
        return self._tokens[who.sub]

    def call(
        self, method: str, path: str, who: Account | None = None, body: Any = None, *, key: str | None = None
    ) -> Answer:
        headers = {"Accept-Language": "zh-CN"}
        if who is not None:
            headers["Authorization"] = f"Bearer {self.token(who)}"
        if key is not None:
            headers["Idempotency-Key"] = key
        return self._send(method, path, body, headers)


def id_number(county: str, born: str, serial: int) -> str:
    """A valid resident ID number (GB 11643) of someone born on ``born`` (YYYYMMDD) in ``county``."""
    first17 = f"{county}{born}{serial:03d}"
    return first17 + check_character(first17)


def credit_code(county: str, serial: int) -> str:
    """A valid unified social credit code (GB 32100) of an enterprise registered in ``county``."""
    org = f"D{serial:07d}"
    first17 = f"91{county}{org}{org_code_check_character(org)}"
    return first17 + uscc_check_character(first17)


@dataclass
class Summary:
    """What the demo made and what went differently than planned (shown at the end)."""

    province: str = ""
    venues: dict[str, str] = field(default_factory=dict)
    persons: dict[str, str] = field(default_factory=dict)
    colours: dict[str, str] = field(default_factory=dict)
    case_id: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Demo:
    def __init__(self, api: Api, province: str) -> None:
        if province not in PLACES:
            raise DemoError(f"no demo place for province {province}")
        self.api = api
        self.place = PLACES[province]
        self.summary = Summary(province=province)
        county, prefecture = self.place.county, self.place.county[:4] + "00"
        self.manager = Account(
            "demo-manager", ("venue_manager", "citizen"), label="场所管理员（商场、餐馆、公交）"
        )
        self.official = Account("demo-official", ("official",), province, "疾控人员（全省）")
        self.second_official = Account("demo-official-2", ("official",), prefecture, "第二位疾控人员（审批）")
        self.admin = Account("demo-admin", ("admin",), province, "管理员（报表、审计）")
        self.scanner = Account("demo-scanner", ("scanner",), label="卡口与商场扫码员")
        self.citizens = {
            name: Account(f"demo-citizen-{name}", ("citizen",), label=label)
            for name, label in (
                ("patient", "确诊病例本人"),
                ("contact", "同店密切接触者，已申诉"),
                ("neighbour", "同一综合体另一门店的顾客（次密接）"),
                ("cough", "申报咳嗽，卡口测得发热，待审批的改码申请"),
                ("green", "普通市民"),
            )
        }
        self._county = county

    # -- steps ---------------------------------------------------------------------------------

    def _expect(self, answer: Answer, step: str, *statuses: int) -> Any:
        if answer.status in statuses:
            return answer.body
        if answer.status in (409, 429):
            code = answer.body.get("error", {}).get("code") if isinstance(answer.body, dict) else answer.body
            self.summary.notes.append(f"{step}: {answer.status} {code}")
            return None
        raise DemoError(f"{step}: {answer.status} {answer.body}")

    def apply(self, who: Account, name: str, serial: int, **declaration: Any) -> str:
        form = {
            "name": name,
            "id_number": id_number(self._county, "19860512", serial),
            "phone": f"1390000{serial:04d}",
            "address": f"{self.place.street}{serial}号",
            "region_code": self._county,
            "declaration": {
                "symptoms": [],
                "temperature": 36.5,
                "travel": [],
                "contact_with_case": False,
                **declaration,
            },
        }
        body = self._expect(self.api.call("POST", "/v1/codes", who, form), f"apply {who.sub}", 200, 201)
        if body is None:
            raise DemoError(f"apply {who.sub}: no person")
        return str(body["person_id"])

    def venue(self, who: Account, name: str, kind: str, serial: int, **extra: Any) -> str:
        """The venue named ``name`` of ``who`` (registered now when it is not there yet)."""
        listed = self.api.call("GET", "/v1/venues?limit=500&status=active", who)
        for row in (listed.body or {}).get("venues", []) if listed.status == 200 else []:
            if row["name"] == name:
                self.summary.venues[name] = row["venue_id"]
                return str(row["venue_id"])
        body = {
            "name": name,
            "type": kind,
            "subject_name": f"{name}经营有限公司" if kind != "checkpoint" else "疾病预防控制中心",
            "credential_type": "uscc",
            "credential_number": credit_code(self._county, serial),
            "region_code": self._county,
            "location": {"lat": self.place.lat, "lng": self.place.lng},
            "address": f"{self.place.street}{serial}号",
            "manager_phone": f"1380000{serial:04d}",
            **extra,
        }
        made = self._expect(self.api.call("POST", "/v1/venues", who, body), f"register {name}", 201)
        if made is None:
            raise DemoError(f"register {name}: refused")
        self.summary.venues[name] = made["venue_id"]
        return str(made["venue_id"])

    def code_of(self, who: Account, person_id: str) -> dict[str, Any]:
        return dict(self._expect(self.api.call("GET", f"/v1/codes/{person_id}", who), "refresh code", 200))

    def check_in(self, who: Account, venue_id: str, person_id: str) -> str:
        """Scan the venue's poster code; the instant of the scan on the stack's clock."""
        venue = self._expect(self.api.call("GET", f"/v1/venues/{venue_id}", self.manager), "read venue", 200)
        body = {
            "venue_code": venue["code"],
            "person_id": person_id,
            "location": {"lat": self.place.lat, "lng": self.place.lng},
        }
        answer = self._expect(self.api.call("POST", "/v1/checkins", who, body), f"check-in {who.sub}", 201)
        return str(answer["scanned_at"])

    def verify(self, person: Account, person_id: str, checkpoint: str, temperature: float) -> None:
        token = self.code_of(person, person_id)["token"]
        body = {"code": token, "checkpoint_id": checkpoint, "temperature": temperature}
        self._expect(self.api.call("POST", "/v1/verifications", self.scanner, body), "verification", 200)

    def run(self) -> Summary:
        started = time.monotonic()
        c = self.citizens
        # citizens and the manager's own code (Jiangxi lets only green applicants register venues)
        self.apply(self.manager, "周经理", 1)
        persons = {
            "patient": self.apply(c["patient"], "李华", 11),
            "contact": self.apply(c["contact"], "王芳", 12),
            "neighbour": self.apply(c["neighbour"], "陈明", 13),
            "cough": self.apply(c["cough"], "赵敏", 14, symptoms=["cough"]),
            "green": self.apply(c["green"], "刘洋", 15),
        }
        self.summary.persons = persons
        # venues: a complex with two stores, a restaurant, a bus; a roadside checkpoint
        plaza = self.venue(self.manager, "演示广场购物中心", "mall", 21)
        store_a = self.venue(
            self.manager, "演示广场一楼超市", "supermarket", 22, parent_venue_id=plaza, store_number="1F-01"
        )
        store_b = self.venue(
            self.manager,
            "演示广场二楼书店",
            "library_museum",
            23,
            parent_venue_id=plaza,
            store_number="2F-08",
        )
        self.venue(self.manager, "演示小吃店", "restaurant", 24)
        self.venue(
            self.manager,
            "演示公交1路",
            "vehicle",
            25,
            credential_type="licence_plate",
            credential_number=self.place.plate,
        )
        checkpoint = self.venue(self.official, "演示高速卡口", "checkpoint", 26)
        for venue_id in (plaza, checkpoint):
            self._expect(
                self.api.call("PUT", f"/v1/venues/{venue_id}/staff/{self.scanner.sub}", self.official),
                "assign staff",
                200,
            )
        # scans: patient and contact together in store A, the neighbour in store B, the rest elsewhere
        scanned = [
            self.check_in(c["patient"], store_a, persons["patient"]),
            self.check_in(c["contact"], store_a, persons["contact"]),
            self.check_in(c["neighbour"], store_b, persons["neighbour"]),
            self.check_in(c["green"], self.summary.venues["演示小吃店"], persons["green"]),
        ]
        # the case, diagnosed at the last scan (the stack's clock): red at once; tracing finds
        # the contact (close: same store) and the neighbour (secondary: same complex)
        # (the next whole second: diagnosed_at keeps whole seconds and may not lie ahead)
        last = max(datetime.fromisoformat(at) for at in scanned)
        diagnosed = (last.replace(microsecond=0) + timedelta(seconds=1)).isoformat()
        time.sleep(1.2)
        patient_code = self.code_of(c["patient"], persons["patient"])
        if int(patient_code["risk_level"]) < 2:
            body = {"person_id": persons["patient"], "status": "confirmed", "diagnosed_at": diagnosed}
            case = self._expect(self.api.call("POST", "/v1/cases", self.official, body), "report case", 202)
            self.summary.case_id = case.get("case_id") if case else None
        else:
            self.summary.notes.append("report case: the patient is red already (an earlier run)")
        self.api.call("POST", "/_local/drain", body={})
        # checkpoint scans: the red contact (isolate) and a fever (abnormal) raise alerts; a
        # green pass at the complex's door counts in the daily report
        self.verify(c["contact"], persons["contact"], checkpoint, 36.6)
        self.verify(c["cough"], persons["cough"], checkpoint, 38.2)
        self.verify(c["green"], persons["green"], plaza, 36.5)
        # an appeal, an override waiting for a second official, a risk area
        appeal = {"reason": "当天我在超市只停留了五分钟，且全程佩戴口罩，申请复核。"}
        self._expect(
            self.api.call(
                "POST", f"/v1/codes/{persons['contact']}/appeals", c["contact"], appeal, key="demo-appeal-1"
            ),
            "appeal",
            201,
        )
        override = {
            "colour": "green",
            "reason_code": "released_from_quarantine",
            "evidence_ref": "DEMO-2026-001",
        }
        self._expect(
            self.api.call("PUT", f"/v1/persons/{persons['cough']}/colour", self.official, override),
            "override",
            202,
        )
        self._expect(
            self.api.call(
                "PUT", f"/v1/risk-areas/{self.place.other_county}", self.official, {"level": "medium"}
            ),
            "risk area",
            200,
            202,
        )
        # registers: market entities (two of them hold venue codes) and the population
        entities = [
            {
                "credit_code": credit_code(self._county, n),
                "name": name,
                "region_code": self._county,
                "type": "enterprise",
            }
            for n, name in (
                (21, "演示广场购物中心经营有限公司"),
                (24, "演示小吃店经营有限公司"),
                (31, "演示机械厂"),
                (32, "演示物流公司"),
            )
        ]
        self._expect(
            self.api.call("PUT", "/v1/registers/entities", self.admin, {"entities": entities}),
            "register",
            200,
        )
        population = {"regions": [{"region_code": self._county, "population": 650000}]}
        self._expect(
            self.api.call("PUT", "/v1/registers/population", self.admin, population), "population", 200
        )
        self.api.call("POST", "/_local/drain", body={})
        for name, person_id in persons.items():
            self.summary.colours[name] = str(self.code_of(c[name], person_id)["colour"])
        self.summary.seconds = time.monotonic() - started
        return self.summary

    def accounts(self) -> list[Account]:
        return [
            self.official,
            self.second_official,
            self.admin,
            self.manager,
            self.scanner,
            *self.citizens.values(),
        ]


def render(demo: Demo, url: str) -> str:
    summary = demo.summary
    lines = [
        f"演示数据已写入 {url}（省份 {summary.province}，用时 {summary.seconds:.1f} 秒）。",
        f"在 {url}/console/（管理端）或 {url}/h5/（手机端）的本地登录页选择角色、填写账号和区域：",
        "",
        f"  {'角色 role':<16}{'账号 sub':<26}{'区域 area':<10}看到什么",
    ]
    colours = {f"demo-citizen-{name}": colour for name, colour in summary.colours.items()}
    for who in demo.accounts():
        colour = (
            f"（现为{COLOUR_NAMES.get(colours[who.sub], colours[who.sub])}）" if who.sub in colours else ""
        )
        lines.append(f"  {who.roles[0]:<16}{who.sub:<26}{who.region or '-':<10}{who.label}{colour}")
    if summary.case_id:
        lines += ["", f"病例 case: {summary.case_id}（疾控人员的病例页）"]
    lines += ["", *(f"注意 note: {note}" for note in summary.notes)] if summary.notes else []
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--local", default=DEFAULT_URL, metavar="URL", help=f"a running make run (default {DEFAULT_URL})"
    )
    args = parser.parse_args(argv)
    api = Api(args.local)
    try:
        health = api.call("GET", "/v1/health")
    except OSError as error:
        print(
            f"make demo: no stack answers at {args.local} ({error}); start one with `make run`",
            file=sys.stderr,
        )
        return 1
    try:
        demo = Demo(api, str(health.body["province"]))
        demo.run()
    except DemoError as failed:
        print(f"make demo: {failed}", file=sys.stderr)
        return 1
    print(render(demo, api.url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
