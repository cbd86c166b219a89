import { afterEach, describe, expect, it, vi } from "vitest";
import { freshSession, testConfig } from "../../lib/testing";
import { ApiError } from "../../lib/api";
import { credentialTypesFor, labelOf, VENUE_TYPE_LABELS } from "./labels";
import { bannerError } from "./parts";
import { posterFileName } from "./Poster";
import { DAYS, loadDays } from "./Stats";
import { FORM_FIELDS } from "./VenueFields";

describe("bannerError", () => {
  it("leaves an error about a form field to the field, and banners the rest", () => {
    const onField = new ApiError(422, "invalid_credential", "证照号码有误，请核对后重新输入。", "credential_number");
    const onLocation = new ApiError(422, "invalid_location", "位置有误。", "location.lat");
    const elsewhere = new ApiError(409, "join_code_used", "该入驻码已被使用（一码仅限一个门店）。", null);
    const unknownField = new ApiError(422, "unknown_field", "不支持的字段。", "colour");
    expect(bannerError(onField, FORM_FIELDS)).toBeNull();
    expect(bannerError(onLocation, FORM_FIELDS)).toBeNull();
    expect(bannerError(elsewhere, FORM_FIELDS)).toBe(elsewhere);
    expect(bannerError(unknownField, FORM_FIELDS)).toBe(unknownField);
    expect(bannerError(null, FORM_FIELDS)).toBeNull();
  });
});

describe("credentialTypesFor", () => {
  it("gives a vehicle its plate only, and never a plate to anything else", () => {
    expect(credentialTypesFor("vehicle")).toEqual(["licence_plate"]);
    expect(credentialTypesFor("mall")).not.toContain("licence_plate");
    expect(credentialTypesFor("")).toEqual(["uscc", "business_licence", "id_number"]);
  });

  it("offers managers no roadside checkpoint (officials register those)", () => {
    expect(Object.keys(VENUE_TYPE_LABELS)).not.toContain("checkpoint");
    expect(labelOf(VENUE_TYPE_LABELS, "checkpoint")).toBe("checkpoint");
    expect(labelOf(VENUE_TYPE_LABELS, null)).toBe("—");
  });
});

describe("posterFileName", () => {
  it("keeps the venue's name without characters file systems refuse", () => {
    expect(posterFileName("花果园超市（南门）", "png")).toBe("场所码海报-花果园超市（南门）.png");
    expect(posterFileName('A/B: "C" <D>', "svg")).toBe("场所码海报-A_B_C_D_.svg");
    expect(posterFileName("   ", "png")).toBe("场所码海报-venue.png");
  });
});

describe("loadDays", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("asks for today first, then each of the 13 days before it, and orders them oldest first", async () => {
    testConfig();
    freshSession();
    const asked: string[] = [];
    vi.stubGlobal("fetch", async (url: string) => {
      asked.push(url);
      const date = new URL(url).searchParams.get("date") ?? "2026-12-06";
      const scans = date === "2026-12-06" ? 5 : date === "2026-11-23" ? 1 : 0;
      return new Response(JSON.stringify({ date, scans, abnormal: 0, by_colour: { green: scans } }), { status: 200 });
    });
    const days = await loadDays("v-1");
    expect(asked).toHaveLength(DAYS);
    expect(asked[0]).toBe("https://api.example.test/v1/venues/v-1/stats");
    expect(asked.slice(1).every((u) => /stats\?date=2026-1[12]-\d\d$/.test(u))).toBe(true);
    expect(days.map((d) => d.date)).toEqual([
      "2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29",
      "2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04", "2026-12-05", "2026-12-06",
    ]);
    expect([days[0].scans, days[13].scans]).toEqual([1, 5]);
  });

  it("fails as a whole with the API's refusal (no half chart)", async () => {
    testConfig();
    freshSession();
    vi.stubGlobal("fetch", async () =>
      new Response(JSON.stringify({ error: { code: "not_venue_manager", message: "只有场所负责人可以进行此操作。", field: "venue_id" } }), { status: 403 }),
    );
    await expect(loadDays("v-2")).rejects.toMatchObject({ status: 403, message: "只有场所负责人可以进行此操作。" });
  });
});
