import { describe, expect, it } from "vitest";
import { type Box, colourCounts, layoutBars, niceScale, tickY } from "./chart";

const box: Box = { width: 1000, height: 300, left: 40, right: 0, top: 20, bottom: 30, gap: 10 };
const day = (date: string, scans: number, by_colour: Record<string, number> = {}) => ({ date, scans, abnormal: 0, by_colour });

describe("niceScale", () => {
  it("rounds the top up to a 1-2-5 step", () => {
    expect(niceScale(7)).toEqual({ top: 8, step: 2, ticks: [0, 2, 4, 6, 8] });
    expect(niceScale(37)).toEqual({ top: 40, step: 10, ticks: [0, 10, 20, 30, 40] });
    expect(niceScale(1234).step).toBe(500);
    expect(niceScale(1234).top).toBe(1500);
  });

  it("never uses a fractional step and keeps an axis when every day is zero", () => {
    expect(niceScale(1)).toEqual({ top: 1, step: 1, ticks: [0, 1] });
    expect(niceScale(3).step).toBe(1);
    expect(niceScale(0)).toEqual({ top: 4, step: 1, ticks: [0, 1, 2, 3, 4] });
  });

  it("is never below the highest count", () => {
    for (const max of [1, 2, 5, 9, 11, 99, 101, 999, 1001, 25_000]) {
      const scale = niceScale(max);
      expect(scale.top).toBeGreaterThanOrEqual(max);
      expect(scale.ticks.at(-1)).toBe(scale.top);
      expect(scale.ticks.length).toBeLessThanOrEqual(6);
    }
  });
});

describe("colourCounts", () => {
  it("stacks green, yellow, red in that order and counts uncoloured scans as other", () => {
    expect(colourCounts(day("2026-12-06", 9, { red: 1, green: 5, yellow: 2 }))).toEqual([
      ["green", 5],
      ["yellow", 2],
      ["red", 1],
      ["other", 1],
    ]);
  });

  it("leaves out colours with no scans", () => {
    expect(colourCounts(day("2026-12-06", 0, { green: 0 }))).toEqual([]);
  });
});

describe("layoutBars", () => {
  it("makes each bar as tall as its scans on the scale and stacks its segments", () => {
    const scale = niceScale(8);
    const [first, second] = layoutBars([day("2026-12-05", 4, { green: 3, red: 1 }), day("2026-12-06", 8, { green: 8 })], scale, box);
    // plot height 250 px for 8 scans
    expect(second.top).toBeCloseTo(20);
    expect(first.top).toBeCloseTo(270 - 125);
    expect(first.segments.map((s) => s.colour)).toEqual(["green", "red"]);
    expect(first.segments[0].y + first.segments[0].height).toBeCloseTo(270);
    expect(first.segments[1].y + first.segments[1].height).toBeCloseTo(first.segments[0].y);
    expect(first.segments[1].y).toBeCloseTo(first.top);
  });

  it("spreads 14 days over the plot, left to right", () => {
    const days = Array.from({ length: 14 }, (_, i) => day(`2026-11-${String(i + 10)}`, i));
    const bars = layoutBars(days, niceScale(13), box);
    expect(bars).toHaveLength(14);
    expect(bars[0].x).toBeCloseTo(45);
    expect(bars[13].x + bars[13].width + 5).toBeCloseTo(1000);
    expect(bars.every((b, i) => i === 0 || b.x > bars[i - 1].x)).toBe(true);
  });

  it("puts ticks on the same scale as the bars", () => {
    const scale = niceScale(8);
    expect(tickY(0, scale, box)).toBe(270);
    expect(tickY(8, scale, box)).toBe(20);
  });
});
