/** The daily-counts chart's arithmetic (the component only draws what this lays out): a
 * rounded scale for the axis and one stacked bar per day, a segment per code colour. */

/** A day as `GET /v1/venues/{id}/stats` answers it. */
export interface DayCount {
  date: string;
  scans: number;
  abnormal: number;
  by_colour: Record<string, number>;
}

export interface Scale {
  /** The axis' top value (≥ every count), a multiple of `step`. */
  top: number;
  step: number;
  /** 0, step, 2·step … top. */
  ticks: number[];
}

/** A scale of whole numbers whose step is 1, 2 or 5 times a power of ten, about `wanted` steps. */
export function niceScale(max: number, wanted = 4): Scale {
  const highest = Math.max(0, Math.ceil(max));
  if (highest === 0) return { top: wanted, step: 1, ticks: range(wanted, 1) };
  const raw = highest / wanted;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power);
  const top = step * Math.ceil(highest / step);
  return { top, step, ticks: range(top / step, step) };
}

function range(steps: number, step: number): number[] {
  return Array.from({ length: steps + 1 }, (_, i) => i * step);
}

/** The order segments stack in, bottom up; a colour the page does not know goes after these. */
export const COLOUR_ORDER = ["green", "yellow", "orange", "red"];

export interface Segment {
  colour: string;
  count: number;
  y: number;
  height: number;
}

export interface DayBar {
  date: string;
  scans: number;
  x: number;
  width: number;
  /** The top of the whole bar (where its number is written). */
  top: number;
  segments: Segment[];
}

export interface Box {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
  gap: number;
}

/** The colours a day's scans had, in stacking order; scans the counters gave no colour are
 * `other`, so a bar is always as tall as its day's scans. */
export function colourCounts(day: DayCount): [string, number][] {
  const known = Object.entries(day.by_colour ?? {}).filter(([, n]) => n > 0);
  known.sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
  const counted = known.reduce((sum, [, n]) => sum + n, 0);
  if (day.scans > counted) known.push(["other", day.scans - counted]);
  return known;
}

function rank(colour: string): number {
  const index = COLOUR_ORDER.indexOf(colour);
  return index === -1 ? COLOUR_ORDER.length : index;
}

/** One bar per day, left to right in the order given, on `scale`. */
export function layoutBars(days: DayCount[], scale: Scale, box: Box): DayBar[] {
  const plotWidth = box.width - box.left - box.right;
  const plotHeight = box.height - box.top - box.bottom;
  const slot = days.length ? plotWidth / days.length : plotWidth;
  const width = Math.max(1, slot - box.gap);
  const base = box.height - box.bottom;
  const px = (count: number) => (plotHeight * count) / scale.top;
  return days.map((day, i) => {
    let y = base;
    const segments = colourCounts(day).map(([colour, count]) => {
      const height = px(count);
      y -= height;
      return { colour, count, y, height };
    });
    return { date: day.date, scans: day.scans, x: box.left + i * slot + box.gap / 2, width, top: base - px(day.scans), segments };
  });
}

/** The y of a tick value on the axis. */
export function tickY(value: number, scale: Scale, box: Box): number {
  return box.height - box.bottom - ((box.height - box.top - box.bottom) * value) / scale.top;
}
