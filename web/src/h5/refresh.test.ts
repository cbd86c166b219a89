import { describe, expect, it } from "vitest";
import { overdue, refreshDelayMs, retriesByItself, secondsLeft } from "./refresh";

const NOW = Date.parse("2026-12-06T04:00:00Z");

describe("code refresh timing", () => {
  it("fetches the next code 30 seconds before this one expires", () => {
    expect(refreshDelayMs("2026-12-06T04:05:00Z", NOW)).toBe(270_000);
    expect(refreshDelayMs("2026-12-06T12:05:00+08:00", NOW)).toBe(270_000);
  });

  it("never fetches in a tight loop when the code is about to expire or the clock is ahead", () => {
    expect(refreshDelayMs("2026-12-06T04:00:20Z", NOW)).toBe(10_000);
    expect(refreshDelayMs("2026-12-06T03:00:00Z", NOW)).toBe(10_000);
    expect(refreshDelayMs("not a time", NOW)).toBe(10_000);
  });

  it("never waits longer than any code lives when the clock is behind", () => {
    expect(refreshDelayMs("2026-12-07T04:00:00Z", NOW)).toBe(3_600_000);
  });

  it("honours another lead", () => {
    expect(refreshDelayMs("2026-12-06T04:01:00Z", NOW, { lead: 10, min: 5, max: 600 })).toBe(50_000);
  });

  it("counts whole seconds down to the refresh and knows when it is overdue", () => {
    expect(secondsLeft(NOW + 269_001, NOW)).toBe(270);
    expect(secondsLeft(NOW + 1_000, NOW)).toBe(1);
    expect(secondsLeft(NOW - 5_000, NOW)).toBe(0);
    expect(overdue(NOW, NOW)).toBe(true);
    expect(overdue(NOW + 1, NOW)).toBe(false);
  });

  it("tries again by itself after a lost connection or a server error, never after a refusal", () => {
    expect([0, 429, 500, 503].map(retriesByItself)).toEqual([true, true, true, true]);
    expect([401, 403, 404, 422].map(retriesByItself)).toEqual([false, false, false, false]);
  });
});
