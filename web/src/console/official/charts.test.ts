import { describe, expect, it } from "vitest";
import {
  boundLabel,
  bucketLabel,
  type ContactRow,
  countScale,
  type DistributionBucket,
  histogramLayout,
  niceMetres,
  planLayout,
  radiusFor,
  ticksBetween,
  timelineLayout,
  timelinessScale,
} from "./charts";

const row = (person: string, at: string, minutes: number, kind = "close"): ContactRow => ({
  person_id: person,
  kind,
  venue_id: "v-1",
  exposure_at: at,
  overlap_minutes: minutes,
  generation: 1,
  via: null,
});

describe("timelineLayout", () => {
  const box = { width: 1000, left: 100, right: 0, rowHeight: 20, top: 30 };

  it("puts the earliest start at the left edge and the latest end at the right edge", () => {
    const layout = timelineLayout(
      [row("p-a", "2026-12-01T02:00:00Z", 60), row("p-b", "2026-12-01T04:00:00Z", 120)],
      box,
    );
    expect(layout.bars[0].x).toBeCloseTo(100);
    expect(layout.bars[1].x + layout.bars[1].width).toBeCloseTo(1000);
    // 02:00..06:00 over 900 px: one hour is 225 px
    expect(layout.bars[0].width).toBeCloseTo(225);
    expect(layout.bars[1].y).toBe(50);
    expect(layout.height).toBe(30 + 2 * 20 + 8);
  });

  it("widens a span shorter than an hour and keeps a one-minute bar visible", () => {
    const layout = timelineLayout([row("p-a", "2026-12-01T02:00:00Z", 1)], box);
    expect(layout.bars[0].x).toBeCloseTo(100 + 900 * (30 / 61));
    expect(layout.bars[0].width).toBeGreaterThanOrEqual(3);
  });

  it("places the diagnosis on the same axis", () => {
    const layout = timelineLayout([row("p-a", "2026-12-01T02:00:00Z", 60)], {
      ...box,
      diagnosedAt: "2026-12-01T05:00:00Z",
    });
    expect(layout.diagnosedX).toBeCloseTo(1000);
    expect(layout.bars[0].width).toBeCloseTo(300);
  });

  it("draws nothing without contacts", () => {
    expect(timelineLayout([], box).bars).toEqual([]);
  });
});

describe("ticksBetween", () => {
  it("falls on whole China hours and days", () => {
    const first = Date.parse("2026-12-01T01:10:00Z");
    const ticks = ticksBetween(first, first + 3 * 3600_000);
    expect(ticks[0]).toBe(Date.parse("2026-12-01T02:00:00Z"));
    const days = ticksBetween(Date.parse("2026-12-01T00:00:00Z"), Date.parse("2026-12-05T00:00:00Z"));
    // China midnight is 16:00 UTC
    expect(new Date(days[0]).getUTCHours()).toBe(16);
  });
});

describe("planLayout", () => {
  const box = { width: 1000, height: 500, margin: 50 };

  it("keeps north up and east right, fitted inside the margin", () => {
    const plan = planLayout(
      [
        { venue_id: "west", name: "西", lat: 26.5, lng: 106.7, contacts: 1 },
        { venue_id: "east", name: "东", lat: 26.51, lng: 106.72, contacts: 4 },
      ],
      box,
    );
    const [west, east] = plan.points;
    expect(east.x).toBeGreaterThan(west.x);
    expect(east.y).toBeLessThan(west.y);
    for (const p of plan.points) {
      expect(p.x).toBeGreaterThanOrEqual(50 - 1e-6);
      expect(p.x).toBeLessThanOrEqual(950 + 1e-6);
      expect(p.y).toBeGreaterThanOrEqual(50 - 1e-6);
      expect(p.y).toBeLessThanOrEqual(450 + 1e-6);
    }
    expect(east.r).toBeGreaterThan(west.r);
    expect(plan.scale).not.toBeNull();
    // the scale bar: its pixels per metre match the drawing (about 2 km east-west here)
    const metres = ((0.02 * Math.PI) / 180) * Math.cos((26.505 * Math.PI) / 180) * 6_371_000;
    expect(plan.scale!.px / plan.scale!.metres).toBeCloseTo((east.x - west.x) / metres, 5);
  });

  it("sets venues at one place on a ring around it, apart from each other", () => {
    const same = [1, 2, 3].map((i) => ({ venue_id: `v${i}`, name: `店${i}`, lat: 26.5, lng: 106.7, contacts: i }));
    const plan = planLayout(same, box);
    const spots = new Set(plan.points.map((p) => `${Math.round(p.x)}:${Math.round(p.y)}`));
    expect(spots.size).toBe(3);
    expect(plan.scale).toBeNull();
    const cx = plan.points.reduce((s, p) => s + p.x, 0) / 3;
    expect(cx).toBeCloseTo(500);
  });

  it("keeps spread venues inside the box, the scale bar shrunk with them", () => {
    const venues = [
      { venue_id: "a", name: "甲", lat: 26.5, lng: 106.7, contacts: 1 },
      { venue_id: "b", name: "乙", lat: 26.5, lng: 106.7, contacts: 1 },
      { venue_id: "c", name: "丙", lat: 26.52, lng: 106.71, contacts: 1 },
    ];
    const plan = planLayout(venues, box);
    for (const p of plan.points) {
      expect(p.y).toBeGreaterThanOrEqual(50 - 1e-6);
      expect(p.y).toBeLessThanOrEqual(450 + 1e-6);
    }
    const [a, , c] = plan.points;
    // along x: the two stacked venues are spread north and south, not east
    const metresEast = ((0.01 * Math.PI) / 180) * Math.cos((((26.5 + 26.5 + 26.52) / 3) * Math.PI) / 180) * 6_371_000;
    expect(plan.scale!.px / plan.scale!.metres).toBeCloseTo((c.x - a.x) / metresEast, 5);
  });

  it("grows circles by area", () => {
    expect(radiusFor(0)).toBe(6);
    expect(radiusFor(4)).toBe(12);
  });

  it("rounds the scale to 1, 2 or 5", () => {
    expect(niceMetres(730)).toBe(500);
    expect(niceMetres(2600)).toBe(2000);
    expect(niceMetres(99)).toBe(50);
  });
});

describe("timelinessScale", () => {
  it("rounds the top up to a readable step that holds the longest delay", () => {
    const scale = timelinessScale([{ count: 3, p50_seconds: 20, p95_seconds: 70, max_seconds: 95 }]);
    expect(scale.top).toBeGreaterThanOrEqual(95);
    expect(scale.ticks[0]).toBe(0);
    expect(scale.ticks[scale.ticks.length - 1]).toBe(scale.top);
    expect(scale.ticks.length).toBeLessThanOrEqual(6);
  });

  it("has an axis without any colour change", () => {
    expect(timelinessScale([{ count: 0, p50_seconds: null, p95_seconds: null, max_seconds: null }]).top).toBe(60);
  });
});

/** The API's buckets (docs/api.md): these bounds, then the open one. */
const BOUNDS = [10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 43200, 86400, null];

function distribution(counts: number[]): DistributionBucket[] {
  return BOUNDS.map((up_to_seconds, i) => ({ up_to_seconds, count: counts[i] ?? 0 }));
}

describe("bucket labels", () => {
  it("name every bound of the API in whole Chinese units, the open bucket past the last", () => {
    const buckets = distribution([]);
    expect(buckets.map((b) => bucketLabel(b, buckets))).toEqual([
      "≤10秒",
      "≤30秒",
      "≤1分钟",
      "≤5分钟",
      "≤15分钟",
      "≤30分钟",
      "≤1小时",
      "≤2小时",
      "≤6小时",
      "≤12小时",
      "≤24小时",
      ">24小时",
    ]);
  });

  it("never round a bound that is no whole minute or hour", () => {
    expect(boundLabel(90)).toBe("90秒");
    expect(boundLabel(5400)).toBe("90分钟");
    expect(boundLabel(59)).toBe("59秒");
  });
});

describe("countScale", () => {
  it("holds the largest count on at most five whole steps of 1, 2 or 5", () => {
    for (const largest of [1, 3, 5, 6, 7, 11, 49, 60, 99, 1234, 98_765]) {
      const { top, ticks } = countScale([0, largest, 1]);
      expect(top).toBeGreaterThanOrEqual(largest);
      expect(ticks[0]).toBe(0);
      expect(ticks[ticks.length - 1]).toBe(top);
      expect(ticks.length - 1).toBeLessThanOrEqual(5);
      const step = ticks[1] - ticks[0];
      expect(Number.isInteger(step)).toBe(true);
      expect([1, 2, 5]).toContain(step / 10 ** Math.floor(Math.log10(step)));
      expect(top - step).toBeLessThan(largest);
    }
    expect(countScale([7])).toEqual({ top: 8, ticks: [0, 2, 4, 6, 8] });
  });

  it("has an axis without any colour change", () => {
    expect(countScale([0, 0])).toEqual({ top: 1, ticks: [0, 1] });
    expect(countScale([])).toEqual({ top: 1, ticks: [0, 1] });
  });
});

describe("histogramLayout", () => {
  const options = { width: 1240, left: 40, right: 0, top: 20, base: 220, gap: 10 };

  it("draws one bar per bucket in order, its height its count on the axis", () => {
    const { bars, scale } = histogramLayout(distribution([2, 0, 0, 4, 0, 1, 0, 0, 0, 0, 0, 3]), options);
    expect(bars.map((b) => [b.label, b.count])).toEqual([
      ["≤10秒", 2],
      ["≤30秒", 0],
      ["≤1分钟", 0],
      ["≤5分钟", 4],
      ["≤15分钟", 0],
      ["≤30分钟", 1],
      ["≤1小时", 0],
      ["≤2小时", 0],
      ["≤6小时", 0],
      ["≤12小时", 0],
      ["≤24小时", 0],
      [">24小时", 3],
    ]);
    expect(scale.top).toBe(4);
    expect(bars[3].height).toBeCloseTo(200); // the largest reaches the top
    expect(bars[0].height).toBeCloseTo(100);
    expect(bars[1].height).toBe(0);
    for (const bar of bars) expect(bar.y + bar.height).toBeCloseTo(220);
    // side by side, 100 px a slot, no overlap, inside the box
    expect(bars.map((b) => b.x)).toEqual(bars.map((_, i) => 40 + i * 100 + 5));
    expect(bars.every((b) => b.width === 90)).toBe(true);
  });

  it("keeps every bar on the axis when nothing changed", () => {
    const { bars, scale } = histogramLayout(distribution([]), options);
    expect(scale.top).toBe(1);
    expect(bars.every((b) => b.height === 0 && b.y === 220)).toBe(true);
  });
});
