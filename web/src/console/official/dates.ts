/** Dates as officials type them (China time, whatever the browser's zone) and as the API wants them. */
import { chinaDate } from "../../lib/format";

/** Today's China date, `YYYY-MM-DD` (the API's default day for reports and alerts). */
export function chinaToday(now: Date = new Date()): string {
  return chinaDate(now);
}

/** A `datetime-local` value read as China time → ISO 8601 with `+08:00`; null when incomplete. */
export function chinaInstant(local: string): string | null {
  const found = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local.trim());
  if (!found) return null;
  return `${found[1]}T${found[2]}:${found[3]}:${found[4] ?? "00"}+08:00`;
}

/** The `datetime-local` value (China time) of an instant, for a form's default. */
export function chinaLocalInput(value: Date): string {
  const shifted = new Date(value.getTime() + 8 * 3600 * 1000);
  return shifted.toISOString().slice(0, 16);
}

/** `1 小时 5 分` for a duration the API gives in seconds (null: no figure). */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return `${seconds} 秒`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} 分钟`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${hours} 小时 ${rest} 分` : `${hours} 小时`;
}

/** A share (0..1) as a percentage with one decimal; null: no denominator. */
export function percent(share: number | null | undefined): string {
  if (share === null || share === undefined) return "—";
  return `${(Math.round(share * 1000) / 10).toFixed(1)}%`;
}
