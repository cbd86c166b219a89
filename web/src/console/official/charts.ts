/** The geometry of the case page's drawings and the indicators chart, kept apart from the
 * components so it can be tested: the contacts' timeline, the schematic plan of the venues (plain
 * coordinates, no map tiles), and the colour-change timeliness scale. */

export interface ContactRow {
  person_id: string;
  kind: string;
  venue_id: string;
  exposure_at: string;
  overlap_minutes: number;
  generation: number;
  via: string | null;
}

export interface TimelineBar {
  row: ContactRow;
  x: number;
  width: number;
  y: number;
}

export interface TimelineTick {
  x: number;
  at: number;
}

export interface Timeline {
  bars: TimelineBar[];
  ticks: TimelineTick[];
  /** The diagnosis marker's x, when it lies inside the drawn span. */
  diagnosedX: number | null;
  height: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** One bar per contact from its exposure to the end of its overlap, on a shared time axis that
 * also holds the diagnosis; a bar is at least 3 px wide so a one-minute overlap stays visible. */
export function timelineLayout(
  rows: ContactRow[],
  options: { width: number; left: number; right: number; rowHeight: number; top: number; diagnosedAt?: string | null },
): Timeline {
  const starts = rows.map((r) => Date.parse(r.exposure_at));
  const ends = rows.map((r, i) => starts[i] + Math.max(0, r.overlap_minutes) * MINUTE);
  const diagnosed = options.diagnosedAt ? Date.parse(options.diagnosedAt) : NaN;
  const moments = [...starts, ...ends, ...(Number.isFinite(diagnosed) ? [diagnosed] : [])].filter(Number.isFinite);
  const height = options.top + rows.length * options.rowHeight + 8;
  if (moments.length === 0) return { bars: [], ticks: [], diagnosedX: null, height };
  let first = Math.min(...moments);
  let last = Math.max(...moments);
  if (last - first < HOUR) {
    first -= 30 * MINUTE;
    last += 30 * MINUTE;
  }
  const span = options.width - options.left - options.right;
  const xOf = (at: number) => options.left + ((at - first) / (last - first)) * span;
  const bars = rows.map((row, i) => {
    const x = xOf(starts[i]);
    return {
      row,
      x,
      width: Math.max(3, xOf(ends[i]) - x),
      y: options.top + i * options.rowHeight,
    };
  });
  return {
    bars,
    ticks: ticksBetween(first, last).map((at) => ({ at, x: xOf(at) })),
    diagnosedX: Number.isFinite(diagnosed) ? xOf(diagnosed) : null,
    height,
  };
}

/** About five ticks on whole quarters, hours or days of China time, as the span needs. */
export function ticksBetween(first: number, last: number, wanted = 5): number[] {
  const steps = [15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR, 48 * HOUR, 96 * HOUR, 168 * HOUR];
  const step = steps.find((s) => (last - first) / s <= wanted) ?? steps[steps.length - 1];
  // whole steps in China time (UTC+8): a day tick falls on China midnight
  const offset = 8 * HOUR;
  const ticks: number[] = [];
  for (let at = Math.ceil((first + offset) / step) * step - offset; at <= last; at += step) ticks.push(at);
  return ticks;
}

export interface PlanVenue {
  venue_id: string;
  name: string;
  lat: number;
  lng: number;
  contacts: number;
  root_venue_id?: string | null;
}

export interface PlanPoint {
  venue: PlanVenue;
  x: number;
  y: number;
  r: number;
}

export interface Plan {
  points: PlanPoint[];
  /** A scale bar: its length in px and the metres it stands for (null when every venue is at one place). */
  scale: { px: number; metres: number } | null;
}

const EARTH_METRES = 6_371_000;

/** Venues placed by their coordinates on a flat plan (equirectangular, north up), fitted into the
 * box with a margin. Venues at the same coordinates (the stores of one complex) are set on a small
 * ring around it so each stays readable: it is a schematic, not a map. */
export function planLayout(venues: PlanVenue[], options: { width: number; height: number; margin: number }): Plan {
  if (venues.length === 0) return { points: [], scale: null };
  const meanLat = venues.reduce((sum, v) => sum + v.lat, 0) / venues.length;
  const cos = Math.cos((meanLat * Math.PI) / 180);
  const east = (v: PlanVenue) => (((v.lng * Math.PI) / 180) * cos * EARTH_METRES);
  const north = (v: PlanVenue) => ((v.lat * Math.PI) / 180) * EARTH_METRES;
  const xs = venues.map(east);
  const ys = venues.map(north);
  const spanX = Math.max(...xs) - Math.min(...xs);
  const spanY = Math.max(...ys) - Math.min(...ys);
  const innerW = options.width - 2 * options.margin;
  const innerH = options.height - 2 * options.margin;
  const span = Math.max(spanX, spanY);
  const perMetre = span > 0 ? Math.min(innerW / Math.max(spanX, 1e-9), innerH / Math.max(spanY, 1e-9)) : 0;
  const centreX = (Math.max(...xs) + Math.min(...xs)) / 2;
  const centreY = (Math.max(...ys) + Math.min(...ys)) / 2;
  const placed = venues.map((venue, i) => ({
    venue,
    x: options.width / 2 + (xs[i] - centreX) * perMetre,
    y: options.height / 2 - (ys[i] - centreY) * perMetre,
    r: radiusFor(venue.contacts),
  }));
  spreadCoincident(placed, Math.min(innerW, innerH) / 4);
  const shrink = fitInside(placed, options);
  const metres = span > 0 ? niceMetres(span / 4) : null;
  return { points: placed, scale: metres === null ? null : { px: metres * perMetre * shrink, metres } };
}

/** Spreading may push a venue past the margin: shrink everything about the middle (the factor
 * returned, at most 1) and centre it again, so every venue and its label stays in the box. */
function fitInside(points: PlanPoint[], box: { width: number; height: number; margin: number }): number {
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [left, right, top, bottom] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const innerW = box.width - 2 * box.margin;
  const innerH = box.height - 2 * box.margin;
  const factor = Math.min(1, right > left ? innerW / (right - left) : 1, bottom > top ? innerH / (bottom - top) : 1);
  const midX = (left + right) / 2;
  const midY = (top + bottom) / 2;
  for (const point of points) {
    point.x = box.width / 2 + (point.x - midX) * factor;
    point.y = box.height / 2 + (point.y - midY) * factor;
  }
  return factor;
}

/** Circles grow with the square root of the contacts found there (area ∝ count), 6 px at least. */
export function radiusFor(contacts: number): number {
  return 6 + 3 * Math.sqrt(Math.max(0, contacts));
}

function spreadCoincident(points: PlanPoint[], ring: number): void {
  const groups = new Map<string, PlanPoint[]>();
  for (const point of points) {
    const key = `${Math.round(point.x)}:${Math.round(point.y)}`;
    groups.set(key, [...(groups.get(key) ?? []), point]);
  }
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const radius = Math.min(ring, 30 + 12 * group.length);
    group.forEach((point, i) => {
      const angle = -Math.PI / 2 + (2 * Math.PI * i) / group.length;
      point.x += radius * Math.cos(angle);
      point.y += radius * Math.sin(angle);
    });
  }
}

/** 1, 2 or 5 times a power of ten, at most `metres`. */
export function niceMetres(metres: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(metres, 1)));
  const first = metres / power;
  return (first >= 5 ? 5 : first >= 2 ? 2 : 1) * power;
}

export interface TimelinessFigures {
  count: number;
  p50_seconds: number | null;
  p95_seconds: number | null;
  max_seconds: number | null;
}

/** A linear scale from 0 to the largest figure of any row, rounded up to a readable value, so
 * the rows of each cause can be compared on one axis. */
export function timelinessScale(rows: TimelinessFigures[]): { top: number; ticks: number[] } {
  const largest = Math.max(0, ...rows.map((r) => r.max_seconds ?? 0));
  if (largest === 0) return { top: 60, ticks: [0, 30, 60] };
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  const step = steps.find((s) => largest / s <= 5) ?? Math.ceil(largest / 5 / 86400) * 86400;
  const top = Math.ceil(largest / step) * step;
  const ticks: number[] = [];
  for (let at = 0; at <= top; at += step) ticks.push(at);
  return { top, ticks };
}

/** One bucket of the API's `distribution`: changes that took at most `up_to_seconds` (and more
 * than the bucket before); `null` is the open bucket past the last bound. */
export interface DistributionBucket {
  up_to_seconds: number | null;
  count: number;
}

/** A bucket bound in whole Chinese units: `10秒`, `1分钟`, `24小时` (a bound that is no whole
 * minute or hour stays in seconds, so no label rounds). */
export function boundLabel(seconds: number): string {
  if (seconds >= 3600 && seconds % 3600 === 0) return `${seconds / 3600}小时`;
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60}分钟`;
  return `${seconds}秒`;
}

/** A bucket's label: `≤1分钟` for a bound, `>24小时` for the open bucket past the last bound. */
export function bucketLabel(bucket: DistributionBucket, buckets: DistributionBucket[]): string {
  if (bucket.up_to_seconds !== null) return `≤${boundLabel(bucket.up_to_seconds)}`;
  const bounds = buckets.map((b) => b.up_to_seconds).filter((b): b is number => b !== null);
  return bounds.length ? `>${boundLabel(Math.max(...bounds))}` : "全部";
}

/** A count axis from 0 to a round top (1, 2 or 5 times a power of ten per step, at most five
 * steps) holding the largest count; whole numbers only, since counts are whole. */
export function countScale(counts: number[]): { top: number; ticks: number[] } {
  const largest = Math.max(0, ...counts);
  if (largest === 0) return { top: 1, ticks: [0, 1] };
  let step: number | undefined;
  for (let power = 1; step === undefined; power *= 10) step = [1, 2, 5].map((m) => m * power).find((s) => largest / s <= 5);
  const top = Math.ceil(largest / step) * step;
  const ticks: number[] = [];
  for (let at = 0; at <= top; at += step) ticks.push(at);
  return { top, ticks };
}

export interface HistogramBar {
  label: string;
  count: number;
  x: number;
  width: number;
  /** The bar's top; the bar reaches down to the axis at `base`. */
  y: number;
  height: number;
}

/** One bar per bucket, in the API's order, side by side from `left` to `width - right`; a bar's
 * height is its count on the count axis (`base` is the zero line), a zero count has no height. */
export function histogramLayout(
  buckets: DistributionBucket[],
  options: { width: number; left: number; right: number; top: number; base: number; gap: number },
): { bars: HistogramBar[]; scale: { top: number; ticks: number[] }; yOf: (count: number) => number } {
  const scale = countScale(buckets.map((b) => b.count));
  const yOf = (count: number) => options.base - (count / scale.top) * (options.base - options.top);
  const slot = buckets.length ? (options.width - options.left - options.right) / buckets.length : 0;
  const bars = buckets.map((bucket, i) => ({
    label: bucketLabel(bucket, buckets),
    count: bucket.count,
    x: options.left + i * slot + options.gap / 2,
    width: Math.max(1, slot - options.gap),
    y: yOf(bucket.count),
    height: options.base - yOf(bucket.count),
  }));
  return { bars, scale, yOf };
}
