/** Dates in China time (UTC+8, no daylight saving) whatever the device's zone, and the masking
 * the API already applied, shown as it came. */
const CHINA = "Asia/Shanghai";

const dateTime = new Intl.DateTimeFormat("zh-CN", {
  timeZone: CHINA,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});

const dateOnly = new Intl.DateTimeFormat("zh-CN", {
  timeZone: CHINA,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
});

function parts(format: Intl.DateTimeFormat, value: string | Date): Record<string, string> {
  const date = typeof value === "string" ? new Date(value) : value;
  return Object.fromEntries(format.formatToParts(date).map((p) => [p.type, p.value]));
}

/** `2026-12-06 20:30` (China time). */
export function chinaDateTime(value: string | Date): string {
  const p = parts(dateTime, value);
  return `${p.year}-${p.month}-${p.day} ${p.hour === "24" ? "00" : p.hour}:${p.minute}`;
}

/** `2026-12-06` (China time). */
export function chinaDate(value: string | Date): string {
  const p = parts(dateOnly, value);
  return `${p.year}-${p.month}-${p.day}`;
}

/** Seconds until `value`, never negative. */
export function secondsUntil(value: string | Date, now: number = Date.now()): number {
  const at = typeof value === "string" ? Date.parse(value) : value.getTime();
  return Math.max(0, Math.floor((at - now) / 1000));
}

/** `4:05` for a countdown. */
export function countdown(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return `${m}:${String(s).padStart(2, "0")}`;
}

/** A value the API masked (`张*`, `5201**********1234`): shown as is, never unmasked here. */
export function masked(value: string | null | undefined): string {
  return value && value.length > 0 ? value : "—";
}
