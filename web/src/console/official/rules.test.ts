import { describe, expect, it } from "vitest";
import { navFor, type Page } from "../../lib/app";
import { detailText } from "./Audit";
import { queryParam } from "./Cases";
import { auditActionName, caseStatusName, nextCaseStatuses, requestKindName, verdictName } from "./labels";
import { type Pending, whyNotApprove } from "./Overrides";
import { isHeld } from "./parts";
import { coverageBars } from "./Reports";

const pending = (by: string): Pending => ({
  override_id: "ovr-1",
  person_id: "p-1",
  status: "pending_approval",
  requested_by: by,
  requested_at: "2026-12-06T01:00:00Z",
});

describe("the officials' rules as the page shows them", () => {
  it("says why the requester cannot approve their own override, and lets anyone else", () => {
    expect(whyNotApprove(pending("official-a"), "official-a")).toMatch(/另一名工作人员/);
    expect(whyNotApprove(pending("official-a"), "official-b")).toBeNull();
  });

  it("offers only the status changes the API accepts", () => {
    expect(nextCaseStatuses("suspected")).toEqual(["asymptomatic", "confirmed", "excluded"]);
    expect(nextCaseStatuses("confirmed")).toEqual(["recovered", "excluded"]);
    expect(nextCaseStatuses("recovered")).toEqual([]);
    expect(nextCaseStatuses("excluded")).toEqual([]);
  });

  it("names codes in Chinese and shows an unknown one as it came", () => {
    expect(verdictName("isolate")).toBe("就地隔离");
    expect(verdictName("register")).toBe("登记");
    expect(caseStatusName("asymptomatic")).toBe("无症状感染者");
    expect(requestKindName("quarantine_lift")).toBe("提前解除隔离");
    expect(verdictName("something_new")).toBe("something_new");
  });

  it("shows an audit entry's action in Chinese beside its code, and its detail as pairs", () => {
    expect(auditActionName("person_search")).toBe("按证件号码查询（person_search）");
    expect(auditActionName("new_kind")).toBe("new_kind");
    expect(detailText({ route: "GET /v1/audit", fields: ["name_masked"] })).toBe('route: GET /v1/audit；fields: ["name_masked"]');
    expect(detailText({})).toBe("—");
  });

  it("tells a held act from a done one", () => {
    expect(isHeld({ request_id: "req-1", status: "pending_approval" })).toBe(true);
    expect(isHeld({ case_id: "c-1", status: "confirmed" })).toBe(false);
    expect(isHeld(null)).toBe(false);
  });

  it("reads a query after the hash path", () => {
    expect(queryParam("/official/cases?person_id=p-1", "person_id")).toBe("p-1");
    expect(queryParam("/official/cases", "person_id")).toBeNull();
  });

  it("charts coverage rates as percentages", () => {
    const bars = coverageBars([
      { region_code: "520100", region_name: "贵阳市", venues: 3, entities: 8, with_code: 3, rate: 0.375 },
      { region_code: "520200", region_name: "", venues: 0, entities: 0, with_code: 0, rate: null },
    ]);
    expect(bars).toEqual([
      { label: "贵阳市", value: 37.5 },
      { label: "520200", value: 0 },
    ]);
  });
});

describe("navFor", () => {
  const page = (path: string, nav?: string): Page => ({ path, title: path, roles: ["official"], nav, render: () => null });

  it("lists labelled pages without parameters and marks the current one", () => {
    const items = navFor([page("/a", "甲"), page("/b/:id", "乙"), page("/c"), page("/d", "丁")], "/d");
    expect(items).toEqual([
      { href: "#/a", label: "甲", current: false },
      { href: "#/d", label: "丁", current: true },
    ]);
  });
});
