import { describe, expect, it } from "vitest";
import { chinaInstant, chinaLocalInput, chinaToday, duration, percent } from "./dates";

describe("China time in forms", () => {
  it("reads a datetime-local value as China time", () => {
    expect(chinaInstant("2026-12-06T09:30")).toBe("2026-12-06T09:30:00+08:00");
    expect(chinaInstant("2026-12-06T09:30:15")).toBe("2026-12-06T09:30:15+08:00");
    expect(chinaInstant("2026-12-06")).toBeNull();
    expect(chinaInstant("")).toBeNull();
  });

  it("fills a form with the China wall clock whatever the device's zone", () => {
    expect(chinaLocalInput(new Date("2026-12-06T17:45:00Z"))).toBe("2026-12-07T01:45");
    expect(chinaInstant(chinaLocalInput(new Date("2026-12-06T17:45:00Z")))).toBe("2026-12-07T01:45:00+08:00");
  });

  it("knows the China day after 16:00 UTC", () => {
    expect(chinaToday(new Date("2026-12-06T16:30:00Z"))).toBe("2026-12-07");
  });
});

describe("figures", () => {
  it("says durations in Chinese units", () => {
    expect(duration(null)).toBe("—");
    expect(duration(42)).toBe("42 秒");
    expect(duration(150)).toBe("3 分钟");
    expect(duration(3600)).toBe("1 小时");
    expect(duration(3900)).toBe("1 小时 5 分");
  });

  it("shows shares as percentages, none without a denominator", () => {
    expect(percent(null)).toBe("—");
    expect(percent(0.12345)).toBe("12.3%");
    expect(percent(1)).toBe("100.0%");
  });
});
