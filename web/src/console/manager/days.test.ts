import { describe, expect, it } from "vitest";
import { lastDays, shortDay } from "./days";

describe("lastDays", () => {
  it("gives the 14 days ending today, oldest first", () => {
    const days = lastDays("2026-12-06", 14);
    expect(days).toHaveLength(14);
    expect(days[0]).toBe("2026-11-23");
    expect(days[13]).toBe("2026-12-06");
  });

  it("crosses month, year and leap-day boundaries", () => {
    expect(lastDays("2027-01-02", 3)).toEqual(["2026-12-31", "2027-01-01", "2027-01-02"]);
    expect(lastDays("2028-03-01", 2)).toEqual(["2028-02-29", "2028-03-01"]);
  });

  it("refuses what is not a day", () => {
    expect(() => lastDays("6/12/2026", 14)).toThrow();
  });

  it("shortens a day for an axis", () => {
    expect(shortDay("2026-12-06")).toBe("12-06");
  });
});
